"""Quarantining signals: taking bad facts out of what analysts count and read.

A signal is immutable, and ingest is idempotent on its id, so a bad one is never
deleted: an admin quarantines it. It stays stored (its id stays taken: sending it
again is a duplicate), but it leaves its cluster's counts, buckets, reporters and
velocities, its market × policy × language series, the cluster's signal list and
exports. A cluster left with no signal stays, counting zero, for an analyst to mark
benign.

What is suspect without a person saying so (``suspect_signals``): a ``received_at``
outside the range of ``core.validation``, or later than the time it was ingested plus
the allowed skew (``WATCHFLOOR_SIGNAL_FUTURE_SKEW``). Input is bounded now; these are
rows stored before it was. ``watchfloor signals quarantine`` runs the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.core.roles import is_admin
from watchfloor.core.validation import EARLIEST_TIME, LATEST_TIME, clean_text, require
from watchfloor.signals import counting, storage
from watchfloor.signals.intake import WRITER_LOCK_KEY
from watchfloor.signals.models import Signal

if TYPE_CHECKING:
    from watchfloor.people.models import User

__all__ = ["MAX_QUARANTINE", "QuarantineResult", "quarantine_signals", "suspect_signals"]

REASON_MAX = 2_000
# Signals one call takes out; the command works through more in several calls.
MAX_QUARANTINE = 10_000
# Signal ids written into the audit event in full; beyond that, the first ones and the count.
AUDITED_IDS = 1_000


@dataclass(frozen=True)
class QuarantineResult:
    signal_ids: list[int]
    cluster_ids: list[int]

    @property
    def count(self) -> int:
        return len(self.signal_ids)


def suspect_signals() -> QuerySet[Signal]:
    """Signals not yet quarantined whose ``received_at`` is outside the calendar range or
    further ahead of their ingest than the allowed skew, oldest id first."""
    skew = settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW
    return (
        Signal.objects.filter(quarantined_at__isnull=True)
        .filter(
            Q(received_at__lt=EARLIEST_TIME)
            | Q(received_at__gte=LATEST_TIME)
            | Q(received_at__gt=F("ingested_at") + skew)
        )
        .order_by("pk")
    )


@transaction.atomic
def quarantine_signals(
    *, signal_ids: Sequence[int], actor: User | None, reason: str
) -> QuarantineResult:
    """Take these signals out of their clusters' counts and lists (see the module), in one
    transaction under the intake's writer lock, with one ``signals.quarantined`` audit
    event. Ids already quarantined or unknown are skipped; ``actor`` None is the system
    (the CLI), otherwise an admin."""
    if actor is not None:
        require(is_admin(actor), "only an admin may quarantine signals")
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=True)
    wanted = sorted({int(pk) for pk in signal_ids})
    if len(wanted) > MAX_QUARANTINE:
        raise InvalidInput(
            f"{len(wanted):,} signals at once; the limit is {MAX_QUARANTINE:,}",
            field="signal_ids",
        )
    storage.take_writer_lock(WRITER_LOCK_KEY)
    rows = list(
        Signal.objects.filter(pk__in=wanted, quarantined_at__isnull=True)
        .order_by("pk")
        .values_list("pk", *counting.COUNTED_SIGNAL_FIELDS)
    )
    if not rows:
        return QuarantineResult(signal_ids=[], cluster_ids=[])
    now = clock.now()
    ids = [row[0] for row in rows]
    cluster_ids = sorted({row[1] for row in rows})
    for chunk in counting.in_chunks(ids):
        Signal.objects.filter(pk__in=chunk).update(quarantined_at=now)
    counting.remove_from_series([counting.CountedSignal(*row[1:]) for row in rows])
    counting.recount_clusters(cluster_ids, now=now)
    record_event(
        action=AuditAction.SIGNALS_QUARANTINED,
        actor=actor,
        data={
            "reason": reason,
            "count": len(ids),
            "signals": ids[:AUDITED_IDS],
            "clusters": cluster_ids[:AUDITED_IDS],
        },
    )
    return QuarantineResult(signal_ids=ids, cluster_ids=cluster_ids)
