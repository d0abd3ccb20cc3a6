"""Replaying a day of signals on the simulated clock, so a team can rehearse it.

The file's signals are put in time order and shifted so that the earliest is "now" (or a
chosen start); their spacing is kept, so a surge looks to the detector exactly as it did
on the day. The replay runs its own clock: simulated time starts at the start and runs
``speed`` times faster than the wall clock (``--speed 60``: an hour of the day in a
minute). Signals are fed through the intake service in batches, each when the simulated
clock reaches its last signal, with ``core.clock`` set to that moment, so the surge
checks and rules that follow each batch run on simulated time. In a quiet stretch the
periodic check runs every five simulated minutes, so surges end as they would live.

Producer ids stay as in the file; the producer name is new for each run (``replay-`` the
file name and the start), so a rehearsal can be replayed again without every signal
coming back as a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watchfloor.core import clock
from watchfloor.signals.contract import SignalRejected, parse_signal

ParsedRecord = tuple[int, "dict[str, Any] | SignalRejected"]
QUIET_CHECK = timedelta(minutes=5)


@dataclass(frozen=True)
class ReplayBatch:
    at: datetime
    """Simulated time at which the batch is fed: its last signal's shifted time."""
    items: list[dict[str, Any]]
    lines: list[int]


@dataclass(frozen=True)
class ReplayPlan:
    start: datetime
    first_signal_at: datetime | None
    batches: list[ReplayBatch]
    unreadable: list[SignalRejected] = field(default_factory=list)

    @property
    def shift(self) -> timedelta:
        return self.start - self.first_signal_at if self.first_signal_at else timedelta(0)

    @property
    def end(self) -> datetime:
        return self.batches[-1].at if self.batches else self.start

    @property
    def signal_count(self) -> int:
        return sum(len(batch.items) for batch in self.batches)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plan_replay(
    records: Iterable[ParsedRecord],
    *,
    start: datetime,
    batch_window: timedelta = timedelta(minutes=1),
    max_batch: int = 2000,
) -> ReplayPlan:
    """Order, shift and batch a file's records.

    A record that does not meet the contract is left out of the replay (and listed in
    ``unreadable`` with its line): without a valid time it has no place in the day.
    """
    if start.tzinfo is None:
        raise ValueError("the start must be an aware datetime")
    if batch_window <= timedelta(0) or max_batch < 1:
        raise ValueError("batch_window must be positive and max_batch at least 1")
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    unreadable: list[SignalRejected] = []
    for line, record in records:
        if isinstance(record, SignalRejected):
            unreadable.append(record)
            continue
        try:
            received = parse_signal(record).received_at
        except SignalRejected as rejection:
            unreadable.append(rejection.at_line(line))
            continue
        timed.append((received, line, record))
    timed.sort(key=lambda item: (item[0], item[1]))
    if not timed:
        return ReplayPlan(start=start, first_signal_at=None, batches=[], unreadable=unreadable)
    first = timed[0][0]
    shift = start.astimezone(UTC) - first
    batches: list[ReplayBatch] = []
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    opened: datetime | None = None
    last: datetime | None = None
    for received, line, record in timed:
        moment = received + shift
        if (
            opened is not None
            and last is not None
            and (moment - opened >= batch_window or len(items) >= max_batch)
        ):
            batches.append(ReplayBatch(at=last, items=items, lines=lines))
            items, lines, opened = [], [], None
        if opened is None:
            opened = moment
        items.append({**record, "received_at": _utc_text(moment)})
        lines.append(line)
        last = moment
    assert last is not None, "timed has a signal (its first was read above)"
    batches.append(ReplayBatch(at=last, items=items, lines=lines))
    return ReplayPlan(start=start, first_signal_at=first, batches=batches, unreadable=unreadable)


@dataclass
class ReplayProgress:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    checks: int = 0


def run_replay(
    plan: ReplayPlan,
    *,
    speed: float,
    producer: str,
    ingest: Callable[..., Any] | None = None,
    check: Callable[[], Any] | None = None,
    react: Callable[[], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    on_batch: Callable[[ReplayBatch, Any], None] | None = None,
) -> ReplayProgress:
    """Feed ``plan`` in order on the simulated clock; ``speed`` 0 means without waiting.

    ``ingest`` is ``intake.ingest_signals``, ``check`` is ``reactions.check_all`` and
    ``react`` is ``backlog.drain`` unless given (tests pass their own). A replay runs each
    batch's reactions itself, at the batch's simulated time, so a rehearsal sees its
    surges and rule firings as they would have come, worker or not.
    """
    if speed < 0:
        raise ValueError("speed must be 0 (no waiting) or more")
    if ingest is None:
        from watchfloor.signals.intake import ingest_signals

        ingest = ingest_signals
    if check is None:
        from watchfloor.signals.reactions import check_all

        check = check_all
    if react is None:
        from watchfloor.signals.backlog import drain

        react = drain
    progress = ReplayProgress()
    real_start = monotonic()

    def wait_until(moment: datetime) -> None:
        if speed == 0:
            return
        due = real_start + (moment - plan.start).total_seconds() / speed
        remaining = due - monotonic()
        if remaining > 0:
            sleep(remaining)

    previous = plan.start
    for batch in plan.batches:
        tick = previous + QUIET_CHECK
        while tick < batch.at:
            wait_until(tick)
            with clock.frozen_at(tick):
                check()
            progress.checks += 1
            tick += QUIET_CHECK
        wait_until(batch.at)
        with clock.frozen_at(batch.at):
            result = ingest(items=batch.items, producer=producer, actor=None, lines=batch.lines)
            react()
        progress.batches += 1
        progress.accepted += getattr(result, "accepted", 0)
        progress.duplicates += getattr(result, "duplicates", 0)
        progress.rejected += getattr(result, "rejected", 0)
        if on_batch is not None:
            on_batch(batch, result)
        previous = batch.at
    return progress


def default_producer(name: str, start: datetime) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:100]
    return f"replay-{stem}-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
