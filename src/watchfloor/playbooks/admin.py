"""Read-only admin: playbooks change through reviewed files and `watchfloor playbooks
load`; runs and communications change only through the audited services."""

from typing import TYPE_CHECKING

from django.contrib import admin

from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.playbooks.models import (
    CommunicationRecord,
    CommunicationTemplate,
    Playbook,
    PlaybookRun,
    PlaybookVersion,
    TemplateVersion,
)


@admin.register(Playbook)
class PlaybookAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "current_version", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("current_version",)


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "short_digest", "loaded_at", "loaded_by")
    search_fields = ("code", "name", "digest")
    list_select_related = ("loaded_by",)

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, obj: PlaybookVersion) -> str:
        return obj.digest[:12]


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "current_version", "is_active")
    list_select_related = ("current_version",)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "digest", "loaded_at")
    search_fields = ("code", "name", "digest")


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin
else:
    _ModelAdmin = object


class _NeedToKnow(_ModelAdmin):
    """Runs and communications are as visible as their escalation."""

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(escalation__in=escalations_visible_to(request.user))
        )


@admin.register(PlaybookRun)
class PlaybookRunAdmin(_NeedToKnow, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "escalation", "version", "status", "automatic", "started_at")
    list_filter = ("status", "automatic")
    list_select_related = ("escalation", "version")


@admin.register(CommunicationRecord)
class CommunicationRecordAdmin(_NeedToKnow, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "escalation", "template_version", "language", "channel", "sent_at")
    list_select_related = ("escalation", "template_version")
