from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.preparation import PreparesDatabase
from watchfloor.signals.backtest import (
    BacktestResult,
    OnsetFileError,
    alert_rows,
    backtest,
    read_onsets,
    write_alerts_csv,
)
from watchfloor.signals.contract import SignalFileError, load_signal_file
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
        "run it every minute or so (cron, a timer) so this happens when no signals arrive. "
        "`surges backtest FILE... [--onsets FILE] [--csv OUT]` replays signal files through "
        "the detector on their own time, at full speed and without the database, and prints "
        "each alert with its delay from the onsets and the false alerts before them."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        add_export_arguments(
            sub.add_parser("export", help="write the surge alerts as JSON Lines or CSV"),
            since_help="only alerts raised since this time",
        )
        sub.add_parser("check", help="end fallen surges, wake snoozed clusters")
        replay = sub.add_parser(
            "backtest", help="run the surge detector over signal files on their own time"
        )
        replay.add_argument("files", nargs="+", metavar="FILE", help="signal files to read")
        replay.add_argument(
            "--onsets",
            metavar="FILE",
            help="CSV of market,onset (ISO 8601 with offset): when each event really started",
        )
        replay.add_argument("--csv", metavar="OUT", help="write the alerts to this CSV file")

    def needs_database(self, options: dict[str, Any]) -> bool:
        return options.get("subcommand") != "backtest"

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "backtest":
            self._backtest(options["files"], options.get("onsets"), options.get("csv"))
            return
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

    def _backtest(self, files: list[str], onsets_file: str | None, csv_file: str | None) -> None:
        for name in files:
            if not Path(name).is_file():
                raise CommandError(f"{name}: no such file")
            try:
                load_signal_file(name)  # refuses an unknown suffix at once, reads nothing
            except SignalFileError as error:
                raise CommandError(str(error)) from None
        try:
            onsets = read_onsets(onsets_file) if onsets_file else []
        except (OSError, OnsetFileError) as error:
            raise CommandError(str(error)) from None
        started = time.perf_counter()
        try:
            result = backtest(files, onsets=onsets)
        except SignalFileError as error:
            raise CommandError(str(error)) from None
        seconds = time.perf_counter() - started
        self._print_alerts(result)
        self._print_summary(result, seconds)
        if csv_file:
            write_alerts_csv(result, csv_file)
            self.stdout.write(f"alerts written to {csv_file}")
        for rejection in result.rejected[:20]:
            self.stderr.write(f"line {rejection.line}: {rejection.field}: {rejection.message}")

    def _print_alerts(self, result: BacktestResult) -> None:
        for row in alert_rows(result):
            delay = f"{row['delay_minutes']:+.0f} min from onset" if row["onset"] else "no onset"
            if row["before_onset"]:
                delay = "BEFORE ONSET"
            lasted = f"{row['minutes_open']:.0f} min" if row["ended_at"] else "still open"
            self.stdout.write(
                f"{row['raised_at'][:16]}  {row['market'] or '-':4} {delay:>22}  "
                f"open {lasted:>10}  {row['explanation']}"
            )

    def _print_summary(self, result: BacktestResult, seconds: float) -> None:
        self.stdout.write(
            f"{result.signals:,} signals, {len(result.rejected):,} rejected, "
            f"{len(result.market_alerts):,} market alert(s) from "
            f"{len(result.stream.series_alerts):,} series alert(s), in {seconds:.1f} s"
        )
        for onset in result.onsets:
            first = result.first_after(onset)
            before = len(result.before_onset(onset.market))
            if first is None:
                found = "no alert"
            else:
                delay = (first.raised_at - onset.at) / timedelta(minutes=1)
                found = f"first alert {delay:+.0f} min"
            self.stdout.write(
                f"onset {onset.market} {onset.at:%Y-%m-%d %H:%M}Z: {found}, "
                f"{before} alert(s) before it"
            )
