from __future__ import annotations

from django.core.management.base import BaseCommand

from watchfloor.core.preparation import PreparesDatabase
from watchfloor.signals.exports import SURGE_FIELDS, surge_records
from watchfloor.signals.management.commands.clusters import (
    add_export_arguments,
    export,
    since_option,
)
from watchfloor.signals.reactions import check_all


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Surge alerts. `surges export [--since T] [--format jsonl|csv] [--output FILE]` writes "
        "each alert with what surged, when it started, when it was raised and ended, and the "
        "baseline it was measured against. `surges check` ends alerts whose rate has fallen "
        "back, wakes snoozed clusters whose time has come and refreshes cluster velocities: "
        "run it every minute or so (cron, a timer) so this happens when no signals arrive."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        add_export_arguments(
            sub.add_parser("export", help="write the surge alerts as JSON Lines or CSV"),
            since_help="only alerts raised since this time",
        )
        sub.add_parser("check", help="end fallen surges, wake snoozed clusters")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "check":
            report = check_all()
            self.stdout.write(
                f"{len(report.ended)} surge alert(s) ended, {len(report.woken)} cluster(s) woke, "
                f"{len(report.fired)} rule firing(s)"
            )
            return
        options["since"] = since_option(options.get("since"))
        export(
            self,
            what="surge alerts",
            records=surge_records(since=options["since"]),
            fields=SURGE_FIELDS,
            options=options,
        )
