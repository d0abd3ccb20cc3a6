from django.contrib import admin

from watchfloor.catalog.admin import CatalogManaged
from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.escalations.models import Escalation, EscalationType


@admin.register(EscalationType)
class EscalationTypeAdmin(CatalogManaged, admin.ModelAdmin):
    list_display = ("code", "name", "default_policy", "position")
    search_fields = ("code", "name")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Escalations change only through the audited services (UI or API)."""

    list_display = ("id", "title", "type", "severity", "status", "owner", "is_restricted")
    list_filter = ("status", "severity", "is_restricted")
    search_fields = ("title",)

    def get_queryset(self, request):
        from watchfloor.escalations.selectors import escalations_visible_to

        # Need to know holds in the admin too.
        return escalations_visible_to(request.user)
