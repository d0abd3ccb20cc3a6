"""Admin: the running workers and when each last beat (read-only; the workers keep it)."""

from __future__ import annotations

from django.contrib import admin

from watchfloor.bootstrap.models import WorkerHeartbeat
from watchfloor.core.admin import ReadOnlyAdminMixin


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("worker_id", "hostname", "pid", "started_at", "beat_at")
    ordering = ("started_at",)
