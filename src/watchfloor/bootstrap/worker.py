"""Running background work: the database worker of django-tasks, plus the recovery pass
that makes sure nothing waits forever.

``watchfloor worker`` runs it in the foreground (production: one or more, beside the
web server). ``watchfloor demo`` runs one on a thread inside the demo process, so the
demo stays a single command.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.db import close_old_connections, connections
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks.utils import get_random_id
from django_tasks_db.management.commands.db_worker import Worker

from watchfloor.banks.actioner import resume_enforcement_requests
from watchfloor.bootstrap.scheduler import ensure_housekeeping_scheduled
from watchfloor.notify.delivery import ResumeReport, resume_overdue_work

logger = logging.getLogger(__name__)

ALL_QUEUES = "*"


@dataclass
class BackgroundWorker:
    worker: Worker
    thread: threading.Thread
    report: ResumeReport

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the task in hand, then stop (the thread sleeps at most one interval)."""
        self.worker.running = False
        self.thread.join(timeout)


def start_background_worker(*, interval: float = 1.0) -> BackgroundWorker:
    """Start a worker on a daemon thread (signals belong to the main thread, so the
    worker's own signal handling is not installed; it stops with the process)."""
    report = resume_overdue_work()
    resume_enforcement_requests()
    ensure_housekeeping_scheduled()
    worker = Worker(
        queue_names=[ALL_QUEUES],
        interval=interval,
        batch=False,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=None,
        worker_id=f"watchfloor-{get_random_id()}"[:64],
    )

    def run() -> None:
        try:
            worker.run()
        finally:
            close_old_connections()
            connections.close_all()

    thread = threading.Thread(target=run, name="watchfloor-worker", daemon=True)
    thread.start()
    return BackgroundWorker(worker=worker, thread=thread, report=report)
