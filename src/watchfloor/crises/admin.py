"""Read-only admin: crises change only through the audited services and the war room."""

from django.contrib import admin

from watchfloor.core.admin import ReadOnlyAdminMixin
from watchfloor.crises.models import (
    ActionItem,
    Crisis,
    CrisisEscalation,
    CrisisNote,
    Handoff,
    RoleAssignment,
    Sitrep,
)


class _ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False


class LinkInline(_ReadOnlyInline):
    model = CrisisEscalation
    fields = ("escalation", "is_origin", "linked_at", "linked_by", "reason")


class RoleInline(_ReadOnlyInline):
    model = RoleAssignment
    fields = ("role", "market_code", "holder", "started_at", "ended_at", "note")


@admin.register(Crisis)
class CrisisAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "level", "is_restricted", "declared_at", "next_sitrep_due_at")
    list_filter = ("level", "is_restricted")
    search_fields = ("title",)
    inlines = [LinkInline, RoleInline]


@admin.register(CrisisNote)
class CrisisNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("crisis", "kind", "author", "created_at", "is_pinned")
    list_select_related = ("crisis", "author")


@admin.register(Sitrep)
class SitrepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("crisis", "audience", "number", "language", "sent_at", "sent_by")
    list_select_related = ("crisis", "sent_by")


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("crisis", "from_region", "to_region", "handoff_at", "status")
    list_select_related = ("crisis",)


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "owner", "due_on", "status")
    list_select_related = ("owner",)
