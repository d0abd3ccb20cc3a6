"""Many small audited writes in a few transactions: the reactions' way of sharing the writer.

A reaction pass may raise a hundred surge alerts and fire two hundred rules, each an
audited write of its own (``services.raise_surge_alert``, ``auto_escalation.apply_rule``).
Committed one by one, each of them asks for the database's one writer again (SQLite's
``BEGIN IMMEDIATE``, the audit chain's row lock on PostgreSQL) and so queues behind
every batch the intake is storing meanwhile: the pass then spends most of its time
waiting, not working. ``WriterSlices`` runs them inside one transaction until it has
held the writer for ``hold`` seconds, commits, and starts the next; each write keeps its
own ``transaction.atomic()`` (a savepoint inside the slice), so one that is refused still
rolls back alone, and each is audited in the transaction that commits it.

What a slice changes: a write is visible to others when its slice commits, at most
``hold`` later; and an unexpected error rolls back the slice it happened in (the
backlog's rows are then released and the pass runs again; every reaction is safe to run
twice). The intake's batches wait at most one slice for the writer, instead of once per
reaction.
"""

from __future__ import annotations

import time
from types import TracebackType

from django.db import transaction

__all__ = ["WRITER_HOLD_SECONDS", "WriterSlices"]

# Long enough to carry several escalations (tens of milliseconds each), short against the
# intake's 2-second commit target and SQLite's 10-second busy timeout.
WRITER_HOLD_SECONDS = 0.25


class WriterSlices:
    """Call ``next()`` before each write; leave the ``with`` block to commit the last slice
    (or roll it back, on an error)."""

    def __init__(self, *, hold: float = WRITER_HOLD_SECONDS) -> None:
        self.hold = hold
        self.slices = 0
        self._atomic: transaction.Atomic | None = None
        self._opened_at = 0.0

    def __enter__(self) -> WriterSlices:
        return self

    def next(self) -> None:
        """Open a slice if none is open; commit the open one once it has held ``hold``."""
        if self._atomic is not None and time.perf_counter() - self._opened_at >= self.hold:
            self._close(None, None, None)
        if self._atomic is None:
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self._opened_at = time.perf_counter()
            self.slices += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._atomic is not None:
            self._close(kind, error, traceback)

    def _close(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        atomic, self._atomic = self._atomic, None
        assert atomic is not None, "only an open slice is closed"
        atomic.__exit__(kind, error, traceback)
