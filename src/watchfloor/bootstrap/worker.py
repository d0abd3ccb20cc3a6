"""Running background work: the database worker of django-tasks, with a heartbeat, plus
the recovery passes that make sure nothing waits forever.

``watchfloor worker`` runs it in the foreground (production: one or more, beside the
web server). ``watchfloor demo`` runs one on a thread inside the demo process, so the
demo stays a single command.

django-tasks marks a task RUNNING when a worker claims it and never looks at it again,
so a worker killed mid-task (SIGKILL, out of memory, a lost machine) would leave it
RUNNING forever. Here every worker keeps a :class:`WorkerHeartbeat` row fresh from its
own thread, whatever the task in hand is doing, and every worker — when it starts and
at each beat — queues again the RUNNING tasks whose worker has stopped beating for
``WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS``. A task whose worker still beats is never
taken over, however long it runs. Watchfloor's tasks re-check their work under a lock,
so running one again after its worker died mid-way is safe.

Liveness is measured in real time (``django.utils.timezone.now``), not the application
clock that tests and drills move: the workers' hosts need synchronised clocks (NTP).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks.base import TaskResultStatus
from django_tasks.utils import get_random_id
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from watchfloor.banks.actioner import resume_enforcement_requests
from watchfloor.bootstrap.models import WorkerHeartbeat
from watchfloor.bootstrap.scheduler import ensure_housekeeping_scheduled
from watchfloor.core.heartbeat import Heartbeat
from watchfloor.notify.delivery import ResumeReport, resume_overdue_work

logger = logging.getLogger(__name__)

ALL_QUEUES = "*"


def heartbeat_interval() -> float:
    """Seconds between a worker's beats (``WATCHFLOOR_WORKER_HEARTBEAT_SECONDS``, 10)."""
    return float(getattr(settings, "WATCHFLOOR_WORKER_HEARTBEAT_SECONDS", 10))


def dead_after() -> timedelta:
    """A worker silent this long is dead (``WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS``, 60);
    at least three beats, so one slow beat never condemns a live worker."""
    seconds = float(getattr(settings, "WATCHFLOOR_WORKER_DEAD_AFTER_SECONDS", 60))
    return timedelta(seconds=max(seconds, 3 * heartbeat_interval()))


def new_worker_id() -> str:
    return f"watchfloor-{get_random_id()}"[:64]


def reclaim_abandoned_tasks() -> list[str]:
    """Queue again every RUNNING task whose worker stopped beating; returns their ids.

    A task counts as abandoned when it started more than :func:`dead_after` ago and the
    worker that claimed it last has no fresh heartbeat (a worker without heartbeats —
    django-tasks' own ``db_worker`` — counts as dead once that time has passed: run
    ``watchfloor worker``). The change is conditional on the row still being the run it
    was, so a task that finishes meanwhile keeps its result."""
    cutoff = timezone.now() - dead_after()
    alive_ids = set(
        WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    reclaimed: list[str] = []
    candidates = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).values_list("pk", "worker_ids", "started_at")
    for pk, worker_ids, started_at in candidates:
        owner = worker_ids[-1] if worker_ids else None
        if owner in alive_ids:
            continue
        with transaction.atomic():
            requeued = DBTaskResult.objects.filter(
                pk=pk, status=TaskResultStatus.RUNNING, started_at=started_at
            ).update(status=TaskResultStatus.READY)
        if requeued:
            logger.warning("task %s: its worker %s stopped beating; queued again", pk, owner)
            reclaimed.append(str(pk))
    WorkerHeartbeat.objects.filter(beat_at__lt=cutoff).delete()
    return reclaimed


class HeartbeatingWorker(Worker):
    """django-tasks' database worker, with a heartbeat row and the reclaim pass."""

    def register(self) -> list[str]:
        """Say this worker is alive, and reclaim what dead workers left; call before
        :meth:`run` (``run`` calls it when nobody did)."""
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "started_at": now,
                "beat_at": now,
            },
        )
        self._registered = True
        return reclaim_abandoned_tasks()

    def beat(self) -> None:
        """Move this worker's heartbeat (recreating the row if a long database outage
        got it deleted as stale), then reclaim what dead workers left."""
        now = timezone.now()
        if not WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(beat_at=now):
            WorkerHeartbeat.objects.create(
                worker_id=self.worker_id,
                hostname=socket.gethostname()[:255],
                pid=os.getpid(),
                started_at=now,
                beat_at=now,
            )
        reclaim_abandoned_tasks()

    def run(self) -> None:
        if not getattr(self, "_registered", False):
            self.register()
        heartbeat = Heartbeat(
            self.beat, interval=heartbeat_interval(), name=f"heartbeat-{self.worker_id}"
        )
        try:
            with heartbeat:
                super().run()
        finally:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()


@dataclass
class BackgroundWorker:
    worker: HeartbeatingWorker
    thread: threading.Thread
    report: ResumeReport
    reclaimed: list[str]

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the task in hand, then stop (the thread sleeps at most one interval)."""
        self.worker.running = False
        self.thread.join(timeout)


def start_background_worker(*, interval: float = 1.0) -> BackgroundWorker:
    """Start a worker on a daemon thread (signals belong to the main thread, so the
    worker's own signal handling is not installed; it stops with the process)."""
    report = resume_overdue_work()
    worker = HeartbeatingWorker(
        queue_names=[ALL_QUEUES],
        interval=interval,
        batch=False,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=None,
        worker_id=new_worker_id(),
    )
    reclaimed = worker.register()
    ensure_housekeeping_scheduled()
    resume_enforcement_requests()

    def run() -> None:
        try:
            worker.run()
        finally:
            close_old_connections()
            connections.close_all()

    thread = threading.Thread(target=run, name="watchfloor-worker", daemon=True)
    thread.start()
    return BackgroundWorker(worker=worker, thread=thread, report=report, reclaimed=reclaimed)
