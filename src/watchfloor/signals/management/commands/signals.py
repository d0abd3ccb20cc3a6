"""``watchfloor signals quarantine``: take bad signals out of clusters and counts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchfloor.core.errors import WatchfloorError
from watchfloor.signals.quarantine import MAX_QUARANTINE, quarantine_signals, suspect_signals


class Command(BaseCommand):
    help = (
        "Signals. `signals quarantine --suspect --reason TEXT` quarantines every signal "
        "dated outside 2000-2199 or further ahead of its ingest than the allowed skew; "
        "`signals quarantine --id N [--id N ...] --reason TEXT` quarantines those signals. "
        "A quarantined signal stays stored but leaves its cluster's counts, lists and "
        "exports; the change is audited. --dry-run lists what would be quarantined."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        quarantine = sub.add_parser("quarantine", help="take signals out of clusters and counts")
        which = quarantine.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--suspect",
            action="store_true",
            help="every signal dated outside the accepted range or too far ahead of its ingest",
        )
        which.add_argument(
            "--id", dest="ids", type=int, action="append", metavar="N", help="a signal id"
        )
        quarantine.add_argument("--reason", default="", help="why (recorded in the audit log)")
        quarantine.add_argument(
            "--dry-run", action="store_true", help="list the signals and change nothing"
        )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        ids: list[int] = options["ids"] or list(suspect_signals().values_list("pk", flat=True))
        if options["dry_run"]:
            self._list(ids)
            return
        if not ids:
            self.stdout.write("No signal to quarantine.")
            return
        quarantined = clusters = 0
        try:
            for start in range(0, len(ids), MAX_QUARANTINE):
                result = quarantine_signals(
                    signal_ids=ids[start : start + MAX_QUARANTINE],
                    actor=None,
                    reason=options["reason"],
                )
                quarantined += result.count
                clusters += len(result.cluster_ids)
        except WatchfloorError as error:
            where = f"--{error.field}: " if error.field == "reason" else ""
            raise CommandError(f"{where}{error.message}") from None
        skipped = len(ids) - quarantined
        self.stdout.write(
            f"Quarantined {quarantined:,} signal{'s' if quarantined != 1 else ''}; "
            f"{clusters:,} cluster{'s' if clusters != 1 else ''} counted again"
            + (f"; {skipped:,} unknown or already quarantined" if skipped else "")
            + "."
        )

    def _list(self, ids: list[int]) -> None:
        from watchfloor.signals.models import Signal

        shown = Signal.objects.filter(pk__in=ids[:1000]).order_by("pk")
        for signal in shown.values_list("pk", "producer", "external_id", "received_at", "cluster"):
            pk, producer, external_id, received_at, cluster = signal
            self.stdout.write(
                f"{pk}\t{producer}:{external_id}\treceived_at {received_at.isoformat()}"
                f"\tcluster C-{cluster}"
            )
        more = " (the first 1,000 listed)" if len(ids) > 1000 else ""
        self.stdout.write(f"Would quarantine {len(ids):,} signals{more}; nothing changed.")
