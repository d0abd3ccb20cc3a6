"""Admin building blocks shared by the apps."""

from __future__ import annotations


class ReadOnlyAdminMixin:
    """For rows that change only through audited services or reviewed files."""

    def has_add_permission(self, request, obj=None):  # obj: inlines pass the parent
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
