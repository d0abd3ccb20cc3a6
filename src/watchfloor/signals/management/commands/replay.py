"""``watchfloor replay FILE --speed 60``: rehearse a day of signals on the simulated clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.html import strip_tags

from watchfloor.core import clock
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.core.validation import time_range_problem, within_time_range
from watchfloor.signals.contract import SignalFileError, load_signal_file
from watchfloor.signals.intake import file_limits
from watchfloor.signals.models import RuleFiring, SurgeAlert
from watchfloor.signals.replay import ReplayBatch, default_producer, plan_replay, run_replay
from watchfloor.signals.selectors import describe_surge_subject


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Replay a signal file (JSON Lines or CSV) on the simulated clock: its signals are "
        "shifted so the earliest is now (or --start), fed through the intake in time order "
        "in batches, and the surge checks and auto-escalation rules run on simulated time, "
        "which runs --speed times faster than the wall clock. Use --speed 0 to replay "
        "without waiting. The web pages run on the real clock, so during a fast replay they "
        "show the latest signals as arriving in the future."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--speed",
            type=float,
            default=60.0,
            help="simulated seconds per real second (default 60: an hour a minute; 0: no waiting)",
        )
        parser.add_argument(
            "--start",
            default=None,
            help="simulated time of the first signal, with its offset (default: now)",
        )
        parser.add_argument(
            "--batch-window",
            type=float,
            default=60.0,
            help="simulated seconds of signals per batch (default 60)",
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="at most this many")
        parser.add_argument(
            "--producer",
            default=None,
            help="producer name (default: replay-FILE-START, new for each run)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the plan and stop; nothing is stored"
        )

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if options["speed"] < 0:
            raise CommandError("--speed must be 0 (no waiting) or more")
        start = clock.now()
        if options["start"]:
            try:
                start = datetime.fromisoformat(options["start"])
            except ValueError as exc:
                raise CommandError(f"--start: {exc}") from exc
            if start.tzinfo is None:
                raise CommandError("--start needs its UTC offset, e.g. 2026-11-24T09:00:00+09:00")
            if not within_time_range(start):
                raise CommandError(time_range_problem("--start", options["start"]))
        try:
            plan = plan_replay(
                load_signal_file(path, limits=file_limits()),
                start=start,
                batch_window=timedelta(seconds=options["batch_window"]),
                max_batch=options["batch_size"],
            )
        except SignalFileError as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for rejection in plan.unreadable[:20]:
            self.stderr.write(
                f"{path.name}:{rejection.line}: left out: {rejection.message} "
                f"[{rejection.reason_code}]"
            )
        if len(plan.unreadable) > 20:
            self.stderr.write(f"... and {len(plan.unreadable) - 20} more lines left out")
        if not plan.batches:
            raise CommandError(f"{path}: no signal to replay")
        producer = options["producer"] or default_producer(path.name, start)
        span = plan.end - plan.start
        speed = options["speed"]
        real = "no waiting" if speed == 0 else f"about {span.total_seconds() / speed / 60:.1f} min"
        self.stdout.write(
            f"Replaying {plan.signal_count:,} signals from {path.name} in {len(plan.batches):,} "
            f"batches as producer {producer}\n"
            f"  file time {_when(plan.first_signal_at or plan.start)} "
            f"→ simulated {_when(plan.start)} (shifted by {plan.shift})\n"
            f"  {span} of signals at {speed:g}× ({real})"
        )
        if options["dry_run"]:
            return

        def report(batch: ReplayBatch, result: Any) -> None:
            line = (
                f"[{_when(batch.at)}] {len(batch.items)} signals: {result.accepted} accepted"
                f", {result.duplicates} duplicate, {result.rejected} rejected"
            )
            for alert in SurgeAlert.objects.filter(raised_at=batch.at).select_related("cluster"):
                line += f"\n    surge: {describe_surge_subject(alert)} ×{alert.ratio:.1f}"
            for firing in RuleFiring.objects.filter(fired_at=batch.at).select_related("escalation"):
                target = f" {firing.escalation.reference}" if firing.escalation else ""
                line += f"\n    rule {firing.rule_code}: {firing.outcome}{target}"
            self.stdout.write(strip_tags(line))

        try:
            progress = run_replay(plan, speed=speed, producer=producer, on_batch=report)
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted: the batches shown above are stored", returncode=130
            ) from None
        self.stdout.write(
            f"Done: {progress.accepted:,} accepted, {progress.duplicates:,} duplicate, "
            f"{progress.rejected:,} rejected in {progress.batches:,} batches; simulated time "
            f"ended at {_when(plan.end)}."
        )
