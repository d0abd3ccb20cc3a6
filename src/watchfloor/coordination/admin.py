"""Read-only admin: partner requests change only through the audited services, and are
as visible as their escalation."""

from django.contrib import admin

from watchfloor.coordination.models import PartnerRequest
from watchfloor.coordination.selectors import requests_visible_to
from watchfloor.core.admin import ReadOnlyAdminMixin


@admin.register(PartnerRequest)
class PartnerRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "escalation", "team", "kind", "status", "due_at", "chase_count")
    list_filter = ("status", "kind", "team")
    list_select_related = ("escalation", "team")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=requests_visible_to(request.user))
