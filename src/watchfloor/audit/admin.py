from django.contrib import admin

from watchfloor.audit.models import AuditEvent
from watchfloor.core.admin import ReadOnlyAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The log is append-only, even for administrators."""

    list_display = ("sequence", "occurred_at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id")
