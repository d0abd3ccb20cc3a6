"""The one way in for signals: ``ingest_signals``.

The API (``POST /api/v1/signals:batch``), the CLI (``watchfloor ingest``), replays and
tasks all hand a batch of raw signals to ``ingest_signals``, which runs the declared
steps below on it, each a small function of the batch that can be tested alone:

``PREPARE`` (no lock held, no writes):
    validate → check_catalog → normalise → detect_language → pair_within_batch
``STORE`` (one transaction, under the writer lock):
    find_duplicates → cluster → store_signals → count → record_ingest → queue_reactions
after commit, on the worker: the reactions (``signals.backlog``: surge checks,
auto-escalation rules, crisis watchlists).

A batch is ONE transaction: its signals, new clusters, lookup keys, buckets, counts
and its ``signals.ingested`` audit event commit together or not at all, and
``ingest_signals`` returns only after the commit. So an acknowledged signal is
stored, and a process killed mid-batch leaves nothing half-written: sending the
batch again stores what was missing and reports the rest as duplicates.

Writers are serialised: on PostgreSQL by ``pg_advisory_xact_lock`` taken first in
the transaction, on SQLite by its IMMEDIATE transactions. Everything that costs CPU
without touching shared state (parsing, URL and text normalisation, MinHash,
language detection, pairing the batch's near hashes and texts) happens in
``PREPARE``, before the lock, so several worker processes overlap there.

The package holds the batch (``batch``: items and results), the PREPARE steps
(``prepare``) and the STORE steps (``store``); this module is the service that runs
them and re-exports what callers use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from watchfloor.core.errors import InvalidInput, PermissionDenied
from watchfloor.core.roles import can_ingest_signals
from watchfloor.signals import storage
from watchfloor.signals.contract import FileLimits, SignalRejected
from watchfloor.signals.intake.batch import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    BatchResult,
    IntakeBatch,
    Item,
    ItemResult,
    Step,
    ValidItem,
)
from watchfloor.signals.intake.prepare import (
    UNKNOWN_MARKET,
    UNKNOWN_POLICY,
    check_catalog,
    detect_language,
    normalise,
    pair_within_batch,
    validate,
)
from watchfloor.signals.intake.store import (
    cluster,
    count,
    find_duplicates,
    queue_reactions,
    record_ingest,
    store_signals,
)

if TYPE_CHECKING:
    from watchfloor.people.models import User

__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "MAX_BATCH_SIZE",
    "PREPARE",
    "REJECTED",
    "STORE",
    "UNKNOWN_MARKET",
    "UNKNOWN_POLICY",
    "WRITER_LOCK_KEY",
    "BatchResult",
    "BatchTooLarge",
    "IntakeBatch",
    "Item",
    "ItemResult",
    "ValidItem",
    "check_can_ingest",
    "check_catalog",
    "cluster",
    "count",
    "detect_language",
    "file_limits",
    "find_duplicates",
    "ingest_signals",
    "normalise",
    "pair_within_batch",
    "prepare_batch",
    "queue_reactions",
    "record_ingest",
    "store_batch",
    "store_signals",
    "validate",
]

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10_000
MAX_PRODUCER_LENGTH = 150
# The key of the PostgreSQL advisory lock that serialises intake writers ("WFSIGNAL").
WRITER_LOCK_KEY = 0x5746_5349_474E_414C


class BatchTooLarge(InvalidInput):
    code = "batch_too_large"
    http_status = 413


PREPARE: tuple[Step, ...] = (
    validate,
    check_catalog,
    normalise,
    detect_language,
    pair_within_batch,
)
STORE: tuple[Step, ...] = (
    find_duplicates,
    cluster,
    store_signals,
    count,
    record_ingest,
    queue_reactions,
)


# ---------------------------------------------------------------------------
# The service


def file_limits() -> FileLimits:
    """What one signal file may hold, from the settings (``WATCHFLOOR_INGEST_MAX_*``)."""
    return FileLimits(
        max_bytes=settings.WATCHFLOOR_INGEST_MAX_FILE_BYTES,
        max_lines=settings.WATCHFLOOR_INGEST_MAX_LINES,
        max_record_bytes=settings.WATCHFLOOR_INGEST_MAX_RECORD_BYTES,
    )


def check_can_ingest(actor: User | None) -> None:
    """People and systems need an analyst, lead or admin account; ``None`` is the system
    itself (the CLI, replays)."""
    if actor is not None and not can_ingest_signals(actor):
        raise PermissionDenied(
            "sending signals needs an analyst, lead or admin account; a system's token "
            "must belong to one"
        )


def ingest_signals(
    *,
    items: Sequence[Mapping[str, Any] | SignalRejected],
    producer: str,
    actor: User | None,
    lines: Sequence[int | None] | None = None,
) -> BatchResult:
    """Validate, normalise, cluster, count and store a batch of signals; one result per
    item, in order. Returns after the batch has committed (when called outside a
    transaction, as the API and the CLI do)."""
    return store_batch(prepare_batch(items=items, producer=producer, actor=actor, lines=lines))


def prepare_batch(
    *,
    items: Sequence[Mapping[str, Any] | SignalRejected],
    producer: str,
    actor: User | None,
    lines: Sequence[int | None] | None = None,
) -> IntakeBatch:
    """The first half of ``ingest_signals``: the checks and the PREPARE steps, which
    read the catalog but write nothing and take no lock. The CLI runs it for the next
    batch in a helper process while the current one is stored."""
    check_can_ingest(actor)
    if not producer or len(producer) > MAX_PRODUCER_LENGTH:
        raise InvalidInput(
            f"producer must be 1 to {MAX_PRODUCER_LENGTH} characters", field="producer"
        )
    if len(items) > MAX_BATCH_SIZE:
        raise BatchTooLarge(
            f"the batch holds {len(items):,} signals; the limit is {MAX_BATCH_SIZE:,}: "
            "send them in several batches"
        )
    batch = IntakeBatch.of(items, producer=producer, actor=actor, lines=lines)
    started = time.perf_counter()
    for step in PREPARE:
        step(batch)
    for item in batch.items:
        item.raw = None  # parsed: what is left travels light between processes
    batch.timings["prepare"] = time.perf_counter() - started
    return batch


def store_batch(batch: IntakeBatch) -> BatchResult:
    """The second half of ``ingest_signals``: the STORE steps in one transaction under
    the writer lock. Returns after the commit."""
    if batch.valid():
        started = time.perf_counter()
        with storage.DurableCommit() as durable, transaction.atomic():
            storage.take_writer_lock(WRITER_LOCK_KEY)
            for step in STORE:
                step(batch)
            transaction.on_commit(lambda: _after_commit(batch, started, durable))
    return batch.result()


def _after_commit(batch: IntakeBatch, store_started: float, durable: storage.DurableCommit) -> None:
    batch.timings["store"] = time.perf_counter() - store_started
    durable.restore()
