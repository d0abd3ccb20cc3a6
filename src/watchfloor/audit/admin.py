from django.contrib import admin

from watchfloor.audit.models import AuditEvent, AuditHeadExport
from watchfloor.core.admin import ReadOnlyAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The log is append-only, even for administrators."""

    list_display = ("sequence", "occurred_at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "object_id")


@admin.register(AuditHeadExport)
class AuditHeadExportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Where the signed head went, and what failed (docs/security.md, "The audit log")."""

    list_display = ("attempted_at", "destination", "target", "sequence", "succeeded", "error")
    list_filter = ("destination", "succeeded")
