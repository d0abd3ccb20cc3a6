"""``watchfloor ingest FILE...``: signal files through the intake, batch by batch.

Each batch is committed before it counts as done: a run that is stopped (or killed)
can simply be started again, and what was already stored comes back as duplicates.

On a machine with more than one core, helper processes (one per core, up to four) read
the files and run the intake's PREPARE steps (parsing, validation, normalisation,
MinHash, language detection) for the next batches while this process stores the
current one: the two halves of ``intake.ingest_signals``, the same steps in the same
order, overlapped. Each helper stays at most two batches ahead and stops when this
process goes away.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import queue
import statistics
import time
from collections import Counter
from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DatabaseError, connection, connections

from watchfloor.core import clock
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.signals import backlog
from watchfloor.signals.collector import collecting_rarely
from watchfloor.signals.contract import (
    SIGNAL_FILE_SUFFIXES,
    SignalFileError,
    load_signal_file,
    parse_deferred,
)
from watchfloor.signals.hooks import DocumentOutcome, DocumentReader, document_reader_for
from watchfloor.signals.intake import (
    MAX_BATCH_SIZE,
    REJECTED,
    BatchResult,
    IntakeBatch,
    file_limits,
    prepare_batch,
    store_batch,
)
from watchfloor.signals.reactions import react_on_signal_time


def _document_reader(path: Path) -> DocumentReader | None:
    """The reader of a document (not a signal file), told by its first bytes: a signal
    file never starts with '<'. Compressed and signal-suffixed files are signal files."""
    if path.name.lower().endswith(SIGNAL_FILE_SUFFIXES):
        return None
    with path.open("rb") as handle:
        head = handle.read(4096)
    return document_reader_for(head)


# Rejections printed to stderr; the rest are counted (and written with --errors FILE).
SHOWN_REJECTIONS = 20
# Prepared batches each helper may hold ready (memory stays bounded).
READY_AHEAD = 2
# Helpers preparing batches at most, however many cores there are: the store, one
# process, is the limit beyond that.
MAX_HELPERS = 4


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
            reader = _document_reader(path)
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
            and _can_fork()
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
        feed = (_prepared_in_background if in_background else _prepared_here)(
            paths, producer=producer, batch_size=batch_size, count_lines=show_progress
        )
        summary = _Summary()
        signal_time: datetime | None = None  # where --react's signal time has got to
        error_file = open(errors, "w", encoding="utf-8") if errors else None  # noqa: SIM115
        bar: _ProgressBar | None = None
        try:
            for event in feed:
                if isinstance(event, _FileStarted):
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
                    signal_time = _react_on_signal_time(event.batch, signal_time, summary)
                self._report_rejections(event.path, result, summary, error_file, bar)
                if bar is not None:
                    bar.update(event.last_line, summary.seen)
            if bar is not None:
                bar.finish()
        except _PreparationFailed as failure:
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
        summary: _Summary,
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

    def _report(self, summary: _Summary, *, interrupted: bool) -> None:
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


# ---------------------------------------------------------------------------
# The feed of prepared batches


class _FileStarted:
    def __init__(self, path: Path, lines: int | None) -> None:
        self.path, self.lines = path, lines


class _Prepared:
    def __init__(self, path: Path, batch: IntakeBatch) -> None:
        self.path, self.batch = path, batch
        self.last_line = next(
            (item.line for item in reversed(batch.items) if item.line is not None), 0
        )


class _PreparationFailed(Exception):
    """A file could not be read; the message names it."""


def _react_on_signal_time(
    batch: IntakeBatch, since: datetime | None, summary: _Summary
) -> datetime | None:
    """Surge checks and rules for a stored batch's new signals at their own times; the
    signal time reached."""
    signals = [
        (
            item.signal.received_at,
            item.cluster_id,
            (item.signal.market or "", item.signal.policy_hint or "", item.language or ""),
        )
        for item in batch.new
        if item.signal is not None and item.cluster_id is not None
    ]
    if not signals:
        return since
    report = react_on_signal_time(signals, since=since)
    summary.signal_time_raised += len(report.raised)
    summary.signal_time_ended += len(report.ended)
    latest = max(at for at, _, _ in signals)
    return latest if since is None else max(since, latest)


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _prepared_here(
    paths: list[Path], *, producer: str, batch_size: int, count_lines: bool
) -> Generator[_FileStarted | _Prepared, None, None]:
    for path in paths:
        yield _FileStarted(path, _count_lines(path) if count_lines else None)
        try:
            for chunk in _batches(load_signal_file(path, limits=file_limits()), batch_size):
                yield _Prepared(path, _prepare(chunk, producer))
        except OSError as error:
            raise _PreparationFailed(f"{path}: cannot be read ({error})") from None


def _prepare(chunk: list[tuple[int, Any]], producer: str) -> IntakeBatch:
    return prepare_batch(
        items=[parse_deferred(line, record) for line, record in chunk],
        producer=producer,
        actor=None,
        lines=[line for line, _ in chunk],
    )


def preparing_helpers() -> int:
    """Helper processes that prepare batches: one per core. The storing process needs
    about a third of the CPU a signal costs, so on two cores one helper left a core
    partly idle while the store waited for the next batch."""
    return max(1, min(MAX_HELPERS, os.cpu_count() or 1))


def _prepared_in_background(
    paths: list[Path], *, producer: str, batch_size: int, count_lines: bool
) -> Generator[_FileStarted | _Prepared, None, None]:
    """Batches prepared by several helpers, delivered in file order. Helper k of n
    prepares the batches whose number is k modulo n (each reads the files; parsing is a
    small part of preparing), so reading the helpers' queues in turn gives the batches in
    order with no reordering."""
    context = multiprocessing.get_context("fork")
    # The helpers open their own database connections (for the catalog check).
    connections.close_all()
    count = preparing_helpers()
    queues = [context.Queue(maxsize=READY_AHEAD) for _ in range(count)]
    helpers = [
        context.Process(
            target=_prepare_files,
            args=(paths, producer, batch_size, queues[index], os.getpid(), index, count),
            name=f"watchfloor-ingest-prepare-{index}",
            daemon=True,
        )
        for index in range(count)
    ]
    for helper in helpers:
        helper.start()
    current: Path | None = None
    try:
        for number in itertools.count():
            helper, ready = helpers[number % count], queues[number % count]
            while True:
                try:
                    message = ready.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not helper.is_alive():
                        raise _PreparationFailed(
                            f"a process preparing batches stopped (exit code {helper.exitcode})"
                        ) from None
            if message is None:  # no batch of this number: there are no more
                return
            if isinstance(message, str):
                raise _PreparationFailed(message)
            if message.path != current:
                current = message.path
                yield _FileStarted(current, _count_lines(current) if count_lines else None)
            yield message
    finally:
        for helper in helpers:
            if helper.is_alive():
                helper.terminate()
        for helper in helpers:
            helper.join(timeout=5)
        for ready in queues:
            ready.close()


def _prepare_files(
    paths: list[Path],
    producer: str,
    batch_size: int,
    ready: Any,
    parent: int,
    index: int,
    count: int,
) -> None:
    """In helper ``index`` of ``count``: its share of the batches of every file (those
    whose number modulo ``count`` is ``index``), prepared, in order; then None (or the
    message of the error that stopped it)."""

    def send(message: object) -> None:
        while True:
            try:
                ready.put(message, timeout=1.0)
                return
            except queue.Full:
                if os.getppid() != parent:  # the ingest is gone: stop quietly
                    os._exit(0)

    number = 0
    try:
        for path in paths:
            try:
                # Lines are decoded only by the helper whose batch they are in.
                records = load_signal_file(path, defer_json=True, limits=file_limits())
                for chunk in _batches(records, batch_size):
                    if number % count == index:
                        send(_Prepared(path, _prepare(chunk, producer)))
                    number += 1
            except OSError as error:
                raise _PreparationFailed(f"{path}: cannot be read ({error})") from None
    except (_PreparationFailed, SignalFileError, WatchfloorError, DatabaseError) as error:
        send(str(error))
        return
    finally:
        connections.close_all()
    send(None)


# ---------------------------------------------------------------------------
# Reporting


class _Summary:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.accepted = self.duplicates = self.rejected = self.seen = self.shown = 0
        self.rejected_by_reason: Counter[str] = Counter()
        self.batch_seconds: list[float] = []
        self.commit_seconds: list[float] = []
        self.drained: backlog.DrainReport | None = None
        self.signal_time_raised = self.signal_time_ended = 0

    def add(self, result: BatchResult, seconds: float) -> None:
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        self.seen += len(result.results)
        self.rejected_by_reason.update(result.rejected_by_reason)
        self.batch_seconds.append(seconds)
        timings = result.timings
        self.commit_seconds.append(timings.get("prepare", 0.0) + timings.get("store", 0.0))


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _batches(records: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int | None:
    """Lines in an uncompressed file (for the bar's percentage); None for gzip."""
    with path.open("rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            return None
        handle.seek(0)
        lines, last = 0, b"\n"
        while block := handle.read(1024 * 1024):
            lines += block.count(b"\n")
            last = block[-1:]
        return lines + (last != b"\n")


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
