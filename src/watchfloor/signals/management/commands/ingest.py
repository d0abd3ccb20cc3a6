"""``watchfloor ingest FILE...``: signal files through the intake, batch by batch.

Each batch is committed before it counts as done: a run that is stopped (or killed)
can simply be started again, and what was already stored comes back as duplicates.

On a machine with more than one core, helper processes (one per core, up to four) read
the files and run the intake's PREPARE steps (parsing, validation, normalisation,
MinHash, language detection) for the next batches while this process stores the
current one: the two halves of ``intake.ingest_signals``, the same steps in the same
order, overlapped. Each helper stays at most two batches ahead and stops when this
process goes away.

The reading and preparing of the files lives in ``signals.intake.files``; this command
stores the batches it is given and reports.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DatabaseError, connection

from watchfloor.core import clock
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.signals import backlog
from watchfloor.signals.collector import collecting_rarely
from watchfloor.signals.contract import SignalFileError, load_signal_file
from watchfloor.signals.hooks import DocumentOutcome, DocumentReader
from watchfloor.signals.intake import MAX_BATCH_SIZE, REJECTED, BatchResult, store_batch
from watchfloor.signals.intake.files import (
    FileStarted,
    IngestSummary,
    PreparationFailed,
    can_fork,
    document_reader_of,
    prepared_here,
    prepared_in_background,
    react_on_batch_signal_time,
)

# Rejections printed to stderr; the rest are counted (and written with --errors FILE).
SHOWN_REJECTIONS = 20


class Command(PreparesDatabase, BaseCommand):
    # Django's system checks (URLs, templates, admin, security settings) take about a
    # second and concern the web server, which runs them; `watchfloor check` runs
    # them on demand. An ingest needs the database, which it reaches at once.
    requires_system_checks: list[str] = []
    help = (
        "Ingest signals from JSON Lines or CSV files (.jsonl, .jsonl.gz, .json.gz, .csv, "
        ".csv.gz), and official alerts: CAP 1.2 XML files, single alerts or Atom feeds of "
        "them, recognised by their content. Prints a summary; rejected lines go to stderr "
        "and, with --errors, to a JSON Lines file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="signal files to read")
        parser.add_argument(
            "--producer",
            default="cli",
            help="who sent these signals; ids are unique per producer (default: cli)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=2000,
            help=f"signals per transaction, 1 to {MAX_BATCH_SIZE:,} (default: 2000)",
        )
        parser.add_argument(
            "--errors",
            metavar="FILE",
            help="write rejected lines as JSON Lines {file, line, reason, field, message}",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="show a progress bar on stderr even when it is not a terminal",
        )
        parser.add_argument(
            "--react",
            action="store_true",
            help="run the surge checks, auto-escalation rules and watchlists here, on the "
            "signals' own time: after each stored batch, for each 5 minutes of signals, as if "
            "the file were arriving live (by default `watchfloor worker` runs them as the "
            "batches commit, on the clock)",
        )
        parser.add_argument(
            "--single-process",
            action="store_true",
            help="read and prepare batches in this process too (by default a helper "
            "process prepares the next batches while one is stored)",
        )

    def handle(
        self,
        *args: Any,
        files: list[str],
        producer: str,
        batch_size: int,
        errors: str | None,
        progress: bool,
        single_process: bool,
        react: bool,
        **options: Any,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size is {batch_size}: use 1 to {MAX_BATCH_SIZE:,}")
        paths = [Path(name) for name in files]
        documents: list[tuple[Path, DocumentReader]] = []
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            reader = document_reader_of(path)
            if reader is not None:
                documents.append((path, reader))
                continue
            try:
                load_signal_file(path)  # refuses an unknown suffix at once, reads nothing
            except SignalFileError as error:
                raise CommandError(str(error)) from None
        refused = self._read_documents(documents, producer=producer, react=react)
        paths = [path for path in paths if path not in {p for p, _ in documents}]
        if paths:
            self._ingest_files(paths, producer, batch_size, errors, progress, single_process, react)
        if refused:
            raise CommandError(
                f"{refused} document{'s were' if refused > 1 else ' was'} refused", returncode=1
            )

    def _ingest_files(
        self,
        paths: list[Path],
        producer: str,
        batch_size: int,
        errors: str | None,
        progress: bool,
        single_process: bool,
        react: bool,
    ) -> None:
        show_progress = progress or self.stderr.isatty()
        # A helper has its own connection: it would not see what an enclosing transaction
        # (a test's) has written, such as the catalog.
        in_background = (
            not single_process
            and (os.cpu_count() or 1) > 1
            and can_fork()
            and not connection.in_atomic_block
        )
        with collecting_rarely():  # entered before the helpers fork: they inherit it
            self._ingest(paths, producer, batch_size, errors, show_progress, in_background, react)

    def _read_documents(
        self, documents: list[tuple[Path, DocumentReader]], *, producer: str, react: bool
    ) -> int:
        """Documents another app reads into signals (CAP alerts and feeds), each through
        its reader, which uses the same intake; one refused document never stops the
        others (nor the signal files). Returns how many were refused."""
        refused = 0
        for path, reader in documents:
            try:
                outcome = reader.read(path, producer=producer)
            except WatchfloorError as error:
                outcome = DocumentOutcome(
                    summary="", problems=[(None, error.code, error.message)], refused=True
                )
            for line, code, message in outcome.problems[:SHOWN_REJECTIONS]:
                where = f"{path}:{line}" if line is not None else str(path)
                self.stderr.write(f"{where}: [{code}] {message}")
            if outcome.refused:
                refused += 1
            else:
                self.stdout.write(f"{path} ({reader.name}): {outcome.summary}")
        if react and len(documents) > refused:
            drained = backlog.drain(worker="ingest")
            self.stdout.write(f"reactions: {drained}")
        return refused

    def _ingest(
        self,
        paths: list[Path],
        producer: str,
        batch_size: int,
        errors: str | None,
        show_progress: bool,
        in_background: bool,
        react: bool,
    ) -> None:
        feed = (prepared_in_background if in_background else prepared_here)(
            paths, producer=producer, batch_size=batch_size, count_lines=show_progress
        )
        summary = IngestSummary()
        signal_time: datetime | None = None  # where --react's signal time has got to
        error_file = open(errors, "w", encoding="utf-8") if errors else None  # noqa: SIM115
        bar: _ProgressBar | None = None
        try:
            for event in feed:
                if isinstance(event, FileStarted):
                    if bar is not None:
                        bar.finish()
                    bar = (
                        _ProgressBar(self.stderr, event.path, event.lines)
                        if show_progress
                        else None
                    )
                    continue
                started = time.perf_counter()
                result = store_batch(event.batch)
                # Committed: only now does the batch count as done.
                summary.add(result, time.perf_counter() - started)
                if react:
                    signal_time = react_on_batch_signal_time(event.batch, signal_time, summary)
                self._report_rejections(event.path, result, summary, error_file, bar)
                if bar is not None:
                    bar.update(event.last_line, summary.seen)
            if bar is not None:
                bar.finish()
        except PreparationFailed as failure:
            self._report(summary, interrupted=True)
            raise CommandError(str(failure)) from None
        except KeyboardInterrupt:
            self._report(summary, interrupted=True)
            raise CommandError(
                "interrupted: the batches counted above are stored; run the same command "
                "again to finish (stored signals come back as duplicates)",
                returncode=130,
            ) from None
        except (DatabaseError, WatchfloorError) as error:
            self._report(summary, interrupted=True)
            raise CommandError(
                f"stopped by {error}; the batches counted above are stored: run the same "
                "command again to finish (stored signals come back as duplicates)"
            ) from None
        finally:
            feed.close()
            if error_file is not None:
                error_file.close()
            if react:
                # Every stored batch gets its reactions (rules and watchlists too), however
                # the run ended: at the signal time reached, as if it were now.
                with clock.frozen_at(signal_time or clock.now()):
                    summary.drained = backlog.drain(worker="ingest")
        self._report(summary, interrupted=False)
        if summary.rejected:
            raise CommandError(
                f"{summary.rejected:,} signal{'s were' if summary.rejected > 1 else ' was'} "
                f"rejected{'' if errors else ' (list them all with --errors FILE)'}",
                returncode=1,
            )

    def _report_rejections(
        self,
        path: Path,
        result: BatchResult,
        summary: IngestSummary,
        error_file: TextIO | None,
        bar: _ProgressBar | None,
    ) -> None:
        for item in result.results:
            if item.status != REJECTED:
                continue
            if error_file is not None:
                record = {
                    "file": str(path),
                    "line": item.line,
                    "reason": item.reason,
                    "field": item.field,
                    "message": item.message,
                }
                error_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            if summary.shown < SHOWN_REJECTIONS:
                summary.shown += 1
                where = f"{path}:{item.line}" if item.line is not None else str(path)
                if bar is not None:
                    bar.clear()
                self.stderr.write(f"{where}: [{item.reason}] {item.message}")
        if error_file is not None:
            error_file.flush()

    def _report(self, summary: IngestSummary, *, interrupted: bool) -> None:
        elapsed = time.perf_counter() - summary.started
        rate = summary.seen / elapsed if elapsed > 0 else 0.0
        if summary.rejected > summary.shown:
            self.stderr.write(f"... and {summary.rejected - summary.shown:,} more rejections")
        lead = "Stored before stopping" if interrupted else "Ingested"
        self.stdout.write(
            f"{lead}: {summary.accepted:,} accepted, {summary.duplicates:,} duplicates, "
            f"{summary.rejected:,} rejected, in {elapsed:.1f} s ({rate:,.0f} signals/s)"
        )
        if summary.rejected_by_reason:
            reasons = ", ".join(
                f"{reason} {count:,}" for reason, count in summary.rejected_by_reason.most_common()
            )
            self.stdout.write(f"  rejected by reason: {reasons}")
        if summary.batch_seconds:
            batches = len(summary.batch_seconds)
            commit = sorted(summary.commit_seconds)
            self.stdout.write(
                f"  {batches:,} batch{'es' if batches > 1 else ''} committed; to commit "
                f"(validate … store): p50 {statistics.median(commit):.3f} s, "
                f"p99 {_percentile(commit, 0.99):.3f} s"
            )
        tenths = summary.store_by_tenth()
        if tenths:
            growth = tenths[-1] / tenths[0] - 1 if tenths[0] > 0 else 0.0
            self.stdout.write(
                "  store per batch by tenth of the run, median ms: "
                + " ".join(f"{seconds * 1000:.0f}" for seconds in tenths)
                + f" (the last tenth {growth:+.0%} on the first)"
            )
        if summary.drained is not None:
            self.stdout.write(
                f"  reactions run here on the signals' time: {summary.signal_time_raised:,} "
                f"surge alert(s) raised, {summary.signal_time_ended:,} ended; then the "
                f"batches' rules and watchlists in {summary.drained.seconds:.1f} s: "
                f"{summary.drained}"
            )
        else:
            rows, signals = backlog.backlog_size()
            if rows:
                self.stdout.write(
                    f"  reactions (surge checks, rules, watchlists) queued for the worker: "
                    f"{signals:,} signals in {rows:,} batches (`watchfloor worker` runs them; "
                    "`--react` runs them here)"
                )


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class _ProgressBar:
    """A one-line bar redrawn with a carriage return, at most ten times a second."""

    WIDTH = 30

    def __init__(self, stream: OutputWrapper, path: Path, total_lines: int | None) -> None:
        self.stream = stream
        self.name = path.name if len(path.name) <= 30 else "…" + path.name[-29:]
        self.total = total_lines
        self.started = time.perf_counter()
        self.drawn_at = 0.0
        self.drawn_width = 0
        self.last: tuple[int, int] = (0, 0)

    def update(self, line: int, signals: int, *, force: bool = False) -> None:
        self.last = (line, signals)
        now = time.perf_counter()
        if not force and now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        rate = signals / (now - self.started) if now > self.started else 0.0
        if self.total:
            done = min(1.0, line / self.total)
            filled = int(done * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"{self.name} [{bar}] {done:4.0%} line {line:,}/{self.total:,}"
        else:
            text = f"{self.name} line {line:,}"
        text = f"{text}  {rate:,.0f} signals/s"
        # Spaces over what is left of a longer previous line (no terminal codes, so a
        # --progress log stays readable).
        self.stream.write("\r" + text.ljust(self.drawn_width), ending="")
        self.drawn_width = len(text)
        self.stream.flush()

    def clear(self) -> None:
        if self.drawn_width:
            self.stream.write("\r" + " " * self.drawn_width + "\r", ending="")
            self.drawn_width = 0

    def finish(self) -> None:
        line, signals = self.last
        self.update(self.total or line, signals, force=True)
        self.stream.write("")
        self.stream.flush()
