from django.contrib import admin

from watchfloor.warning.models import CrisisProposal, ReceivedAlert


@admin.register(ReceivedAlert)
class ReceivedAlertAdmin(admin.ModelAdmin):
    """Read-only: alerts arrive through the intake, never by hand."""

    list_display = ("sender", "identifier", "msg_type", "sent", "trusted", "thread")
    list_filter = ("msg_type", "trusted", "status")
    search_fields = ("sender", "identifier", "thread")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CrisisProposal)
class CrisisProposalAdmin(ReceivedAlertAdmin):
    list_display = ("title", "kind", "state", "proposed_at", "escalation")
    list_filter = ("kind", "state")
    search_fields = ("title", "thread")
