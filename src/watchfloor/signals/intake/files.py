"""Signal files through the intake, for ``watchfloor ingest``: batches prepared in order.

A file is read in batches; each batch goes through the intake's PREPARE steps
(``intake.prepare_batch``) either here or, on a machine with more than one core, in
helper processes (one per core, up to four) that stay at most two batches ahead, so
that the command stores one batch while the next ones are prepared. The feed gives
the batches in file order either way, each preceded by the file it starts
(``FileStarted``). ``IngestSummary`` tallies what the stored batches became, and
``react_on_batch_signal_time`` runs a stored batch's reactions on its signals' own
time (``--react``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import signal
import statistics
import time
from collections import Counter
from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connections

from watchfloor.core.errors import WatchfloorError
from watchfloor.signals import backlog
from watchfloor.signals.contract import (
    SIGNAL_FILE_SUFFIXES,
    SignalFileError,
    load_signal_file,
    parse_deferred,
)
from watchfloor.signals.hooks import DocumentReader, document_reader_for
from watchfloor.signals.intake import file_limits, prepare_batch
from watchfloor.signals.intake.batch import BatchResult, IntakeBatch

# Prepared batches each helper may hold ready (memory stays bounded).
READY_AHEAD = 2
# Helpers preparing batches at most, however many cores there are: the store, one
# process, is the limit beyond that.
MAX_HELPERS = 4


def document_reader_of(path: Path) -> DocumentReader | None:
    """The reader of a document (not a signal file), told by its first bytes: a signal
    file never starts with '<'. Compressed and signal-suffixed files are signal files."""
    if path.name.lower().endswith(SIGNAL_FILE_SUFFIXES):
        return None
    with path.open("rb") as handle:
        head = handle.read(4096)
    return document_reader_for(head)


class FileStarted:
    """In the feed: the batches that follow are of this file (``lines`` when counted)."""

    def __init__(self, path: Path, lines: int | None) -> None:
        self.path, self.lines = path, lines


class PreparedBatch:
    """In the feed: a batch of ``path`` through PREPARE, ready to store."""

    def __init__(self, path: Path, batch: IntakeBatch) -> None:
        self.path, self.batch = path, batch
        self.last_line = next(
            (item.line for item in reversed(batch.items) if item.line is not None), 0
        )


class PreparationFailed(Exception):
    """A file could not be read; the message names it."""


def react_on_batch_signal_time(
    batch: IntakeBatch, since: datetime | None, summary: IngestSummary
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
    # Imported here: only a replay on signal time reacts in the command itself; the
    # reactions bring the rules and watchlists, which an ordinary ingest leaves to the
    # worker and should not load.
    from watchfloor.signals.reactions import react_on_signal_time

    report = react_on_signal_time(signals, since=since)
    summary.signal_time_raised += len(report.raised)
    summary.signal_time_ended += len(report.ended)
    latest = max(at for at, _, _ in signals)
    return latest if since is None else max(since, latest)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def prepared_here(
    paths: list[Path], *, producer: str, batch_size: int, count_lines: bool
) -> Generator[FileStarted | PreparedBatch, None, None]:
    for path in paths:
        yield FileStarted(path, _count_lines(path) if count_lines else None)
        try:
            for chunk in _batches(load_signal_file(path, limits=file_limits()), batch_size):
                yield PreparedBatch(path, _prepare(chunk, producer))
        except OSError as error:
            raise PreparationFailed(f"{path}: cannot be read ({error})") from None


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


def prepared_in_background(
    paths: list[Path], *, producer: str, batch_size: int, count_lines: bool
) -> Generator[FileStarted | PreparedBatch, None, None]:
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
    # A forked helper inherits its parent's SIGTERM handler (a worker's "shut down
    # gracefully" one, where the ingest runs in a process that ran a worker): with it,
    # terminate() would leave a helper running, holding its database session. SIGTERM is
    # blocked across the fork, so one sent before the helper has put the default back
    # waits for it instead of reaching the inherited handler.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        for helper in helpers:
            helper.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
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
                        raise PreparationFailed(
                            f"a process preparing batches stopped (exit code {helper.exitcode})"
                        ) from None
            if message is None:  # no batch of this number: there are no more
                return
            if isinstance(message, str):
                raise PreparationFailed(message)
            if message.path != current:
                current = message.path
                yield FileStarted(current, _count_lines(current) if count_lines else None)
            yield message
    finally:
        for helper in helpers:
            if helper.is_alive():
                helper.terminate()
        for helper in helpers:
            helper.join(timeout=5)
            if helper.is_alive():  # stuck past terminate(): its session must not outlive us
                helper.kill()
                helper.join()
        for ready in queues:
            ready.close()


def _forget_inherited_connections() -> None:
    """Drop, without closing, any database connection the helper inherited: it shares the
    parent's socket, and closing it (``connections.close_all()`` at the end) would end the
    parent's session on the server. The parent closes its own before forking, but not those
    Django keeps in another store of the same thread (while an asyncio loop is marked as
    running there, as a synchronous Playwright session does). psycopg never closes, when it
    collects it, a connection made in another process; the helper opens its own."""
    for inherited in connections.all(initialized_only=True):
        inherited.connection = None


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

    # SIGTERM (blocked by the parent across the fork) ends a helper at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    _forget_inherited_connections()

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
                        send(PreparedBatch(path, _prepare(chunk, producer)))
                    number += 1
            except OSError as error:
                raise PreparationFailed(f"{path}: cannot be read ({error})") from None
    except (PreparationFailed, SignalFileError, WatchfloorError, DatabaseError) as error:
        send(str(error))
        return
    finally:
        connections.close_all()
    send(None)


class IngestSummary:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.accepted = self.duplicates = self.rejected = self.seen = self.shown = 0
        self.rejected_by_reason: Counter[str] = Counter()
        self.batch_seconds: list[float] = []
        self.commit_seconds: list[float] = []
        self.store_seconds: list[float] = []
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
        if "store" in timings:
            self.store_seconds.append(timings["store"])

    def store_by_tenth(self) -> list[float] | None:
        """The writer's median time per batch in each tenth of the run, in order: whether
        storing grows with what is already stored. None under ten stored batches."""
        stored = self.store_seconds
        if len(stored) < 10:
            return None
        tenths = [stored[len(stored) * n // 10 : len(stored) * (n + 1) // 10] for n in range(10)]
        return [statistics.median(tenth) for tenth in tenths]


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
