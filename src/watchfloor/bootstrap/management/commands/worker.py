from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from watchfloor.banks.actioner import resume_enforcement_requests
from watchfloor.bootstrap.scheduler import ensure_housekeeping_scheduled
from watchfloor.bootstrap.worker import ALL_QUEUES
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.notify.delivery import resume_overdue_work


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Run background work: notification deliveries and retries, escalation-policy "
        "timers. Run one or more beside the web server; they share the database."
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
        report = resume_overdue_work()
        resumed = resume_enforcement_requests()
        ensure_housekeeping_scheduled()
        self.stdout.write(f"worker starting: {report}, {len(resumed)} enforcement requests resumed")
        call_command(
            "db_worker",
            interval=interval,
            batch=batch,
            max_tasks=max_tasks,
            queue_name=queue_name,
            reload=False,
            startup_delay=not batch,
            verbosity=options.get("verbosity", 1),
            stdout=self.stdout,
            stderr=self.stderr,
        )
