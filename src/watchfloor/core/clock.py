"""The one place that answers "what time is it".

Everything time-dependent (SLA clocks, statutory deadlines, drills, replays of past
crises) asks this module instead of ``datetime.now``/``timezone.now`` so tests and
drills can freeze or move time without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_state = threading.local()


def now() -> datetime:
    """The current time, timezone-aware UTC (or the simulated time when one is set)."""
    frozen: datetime | None = getattr(_state, "frozen_at", None)
    if frozen is not None:
        return frozen
    return datetime.now(UTC)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"simulated time must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Run the block with the clock stopped at ``moment``."""
    previous = getattr(_state, "frozen_at", None)
    _state.frozen_at = _require_aware(moment)
    try:
        yield
    finally:
        _state.frozen_at = previous


def freeze(moment: datetime) -> None:
    """Stop the clock at ``moment`` until :func:`unfreeze` (for tests and drills)."""
    _state.frozen_at = _require_aware(moment)


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward; refuses to move a real clock."""
    frozen: datetime | None = getattr(_state, "frozen_at", None)
    if frozen is None:
        raise RuntimeError("advance() needs a frozen clock; call freeze() first")
    moved = frozen + delta
    _state.frozen_at = moved
    return moved


def unfreeze() -> None:
    _state.frozen_at = None
