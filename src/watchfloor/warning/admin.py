from django.contrib import admin

from watchfloor.warning.models import CrisisProposal, ReceivedAlert


class _ReadOnly(admin.ModelAdmin):
    """Read-only: alerts arrive through the intake and proposals are decided on the
    escalation's page (audited), never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReceivedAlert)
class ReceivedAlertAdmin(_ReadOnly):
    list_display = ("sender", "identifier", "msg_type", "sent", "trusted", "thread")
    list_filter = ("msg_type", "trusted", "status")
    search_fields = ("sender", "identifier", "thread")


@admin.register(CrisisProposal)
class CrisisProposalAdmin(_ReadOnly):
    list_display = ("title", "kind", "state", "proposed_at", "escalation")
    list_filter = ("kind", "state")
    search_fields = ("title", "thread")
