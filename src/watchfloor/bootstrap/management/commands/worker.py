from __future__ import annotations

from importlib import import_module

from django_tasks import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from watchfloor.banks.actioner import resume_enforcement_requests
from watchfloor.bootstrap.scheduler import ensure_housekeeping_scheduled
from watchfloor.bootstrap.worker import ALL_QUEUES, HeartbeatingWorker, new_worker_id
from watchfloor.core.lazy import import_every_hook
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.notify.delivery import resume_overdue_work


class Command(PreparesDatabase, DatabaseWorkerCommand):
    help = (
        "Run background work: notification deliveries and retries, escalation-policy "
        "timers. Run one or more beside the web server; they share the database. Each "
        "keeps a heartbeat, and queues again the tasks of workers that stopped beating."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait when there is nothing to do (default: 1)",
        )
        parser.add_argument(
            "--batch", action="store_true", help="run what is due now, then exit (for cron)"
        )
        parser.add_argument(
            "--max-tasks", type=int, default=None, help="exit after this many tasks"
        )
        parser.add_argument(
            "--queue-name",
            default=ALL_QUEUES,
            help="queues to serve, comma-separated (default: all)",
        )

    def handle(self, *args, interval, batch, max_tasks, queue_name, **options):
        self.configure_logging(options.get("verbosity", 1))
        if not batch:
            # A worker that stays up imports its hooks and the reactions now, not in the
            # middle of the first surge it reacts to.
            import_every_hook()
            import_module("watchfloor.signals.reactions")
        report = resume_overdue_work()
        worker = HeartbeatingWorker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not batch,
            max_tasks=max_tasks,
            worker_id=new_worker_id(),
        )
        # Reclaimed before the housekeeping check: a sweep left RUNNING by a dead worker
        # would otherwise look as if it were still going.
        reclaimed = worker.register()
        ensure_housekeeping_scheduled()
        resumed = resume_enforcement_requests()
        self.stdout.write(
            f"worker starting: {report}; {len(reclaimed)} tasks of stopped workers queued again; "
            f"{len(resumed)} enforcement requests resumed"
        )
        worker.configure_signals()
        worker.run()
