from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from watchfloor.audit.selectors import verify_chain
from watchfloor.core.preparation import PreparesDatabase


class Command(PreparesDatabase, BaseCommand):
    help = "Audit log tools. `audit verify` checks the hash chain end to end."

    # Verifying reads the log: it migrates a new database but writes nothing into it.
    prepares_reference_data = False

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="recompute the hash chain and report the first broken link")

    def handle(self, *args, subcommand: str, **options):
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event #{report.broken_at_sequence}: {report.problem} "
                f"({report.events_checked} events verified before it)"
            )
        self.stdout.write(f"audit chain intact: {report.events_checked} events verified")
