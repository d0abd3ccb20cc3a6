from django.contrib import admin

from watchfloor.escalations.models import Escalation, EscalationType


@admin.register(EscalationType)
class EscalationTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "default_policy", "position")
    search_fields = ("code", "name")


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Read-only here: escalations change only through the audited services (UI or API)."""

    list_display = ("id", "title", "type", "severity", "status", "owner", "is_restricted")
    list_filter = ("status", "severity", "is_restricted")
    search_fields = ("title",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
