"""The workers' liveness: one row per running ``watchfloor worker`` (or demo worker)."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A worker alive at ``beat_at``. Its heartbeat thread moves ``beat_at`` every few
    seconds while the worker runs, whatever the task in hand; the row is deleted when the
    worker stops cleanly. A worker killed outright leaves its row to go stale: a task it
    was running is then queued again by the next worker's reclaim pass
    (:func:`watchfloor.bootstrap.worker.reclaim_abandoned_tasks`)."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname} (pid {self.pid})"
