"""The reactions backlog: what runs after signals are stored, off the intake's path.

Storing a batch (``intake.store_batch``) acknowledges its signals once they are
validated, clustered, counted and committed. The reactions — surge checks,
auto-escalation rules and the crisis watchlists — cost as much again and grow with the
clusters a batch touches, so they do not run in the request or between the CLI's
batches. Instead the batch's transaction also writes one ``ReactionBacklog`` row, and:

* after the commit, a ``react_to_signals`` task is queued for the worker (unless one is
  already waiting), which claims every waiting row, runs the reactions once for all of
  them (a cluster touched by fifty batches is checked once), and deletes the rows;
* ``watchfloor ingest --react`` and replays drain the backlog themselves;
* the worker's housekeeping sweep, once a minute, drains the rows that have waited more
  than a minute (their own task was lost: a crash between commit and enqueue).

A row is written in the batch's transaction, so no acknowledged signal can miss its
reactions. Running them twice is harmless (one open alert per subject, a rule fires
once per cluster, one watchlist hit per entry and signal), so a worker that dies
mid-run leaves its claimed rows to be taken over after ``CLAIM_LEASE``. A worker that
is still running them renews its claim every ``CLAIM_RENEW_EVERY`` from a heartbeat
thread, so a pass longer than the lease is never taken over while it runs. Several
workers share the backlog: on PostgreSQL each claims rows the others have not locked
(``SKIP LOCKED``); on SQLite writers are serial anyway.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q, Sum

from watchfloor.core import clock
from watchfloor.core.heartbeat import Heartbeat
from watchfloor.core.shared_reads import shared_reads
from watchfloor.signals.hooks import after_signals_stored, signals_stored_hooks
from watchfloor.signals.models import ReactionBacklog

if TYPE_CHECKING:
    from watchfloor.people.models import User
    from watchfloor.signals import reactions

__all__ = [
    "CLAIM_LEASE",
    "CLAIM_RENEW_EVERY",
    "DrainReport",
    "after_signals_stored",
    "backlog_size",
    "drain",
    "queue_reactions",
    "signal_ranges",
]

logger = logging.getLogger(__name__)

# A claimed row whose worker has not renewed its claim within this time is taken over.
CLAIM_LEASE = timedelta(minutes=5)
# How often a running pass renews its claim: several times within one lease.
CLAIM_RENEW_EVERY = CLAIM_LEASE / 5
# Rows claimed at once: enough to coalesce a burst, few enough to keep a run short.
CLAIM_ROWS = 200


def signal_ranges(ids: Iterable[int]) -> list[list[int]]:
    """[[first, last], …] covering exactly ``ids``."""
    ranges: list[list[int]] = []
    for pk in sorted(set(ids)):
        if ranges and ranges[-1][1] == pk - 1:
            ranges[-1][1] = pk
        else:
            ranges.append([pk, pk])
    return ranges


def queue_reactions(
    *,
    cluster_ids: Iterable[int],
    series_keys: Iterable[reactions.SeriesKey],
    signal_ids: Iterable[int],
    actor: User | None,
) -> ReactionBacklog:
    """Record that a batch needs its reactions; call inside the batch's transaction."""
    ids = list(signal_ids)
    return ReactionBacklog.objects.create(
        created_at=clock.now(),
        actor=actor,
        cluster_ids=sorted({int(pk) for pk in cluster_ids}),
        series_keys=[list(key) for key in sorted({tuple(key) for key in series_keys})],
        signal_ranges=signal_ranges(ids),
        signal_count=len(ids),
    )


def backlog_size() -> tuple[int, int]:
    """(rows, signals) waiting for their reactions."""
    waiting = ReactionBacklog.objects.aggregate(rows=Count("pk"), signals=Sum("signal_count"))
    return waiting["rows"], waiting["signals"] or 0


@dataclass
class DrainReport:
    rows: int = 0
    signals: int = 0
    passes: int = 0
    seconds: float = 0.0
    # Seconds from each row's commit to the end of its reactions (the reaction lag).
    lags: list[float] = field(default_factory=list)
    raised: int = 0
    ended: int = 0
    fired: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.signals:,} signals in {self.rows} batches, {self.passes} passes, "
            f"{self.raised} surges raised, {self.ended} ended, {self.fired} rules fired"
            + (f", {self.failed} passes failed" if self.failed else "")
        )


def drain(
    *, worker: str = "", max_passes: int | None = None, older_than: timedelta | None = None
) -> DrainReport:
    """Run the reactions of every waiting batch, claiming ``CLAIM_ROWS`` at a time, until
    none is left (or ``max_passes``); with ``older_than``, only batches that have waited
    at least that long (the housekeeping sweep's share: rows whose own task was lost).
    A failing pass is logged and its rows released for a later attempt; the drain then
    stops, so a persistent fault does not spin."""
    report = DrainReport()
    started = time.perf_counter()
    # This drain's own name on its claims, so it renews only the rows it holds.
    claimer = f"{(worker or 'drain')[:55]}-{secrets.token_hex(4)}"
    while max_passes is None or report.passes < max_passes:
        rows = _claim(claimer, older_than=older_than)
        if not rows:
            break
        report.passes += 1
        lease = Heartbeat(
            partial(_renew, rows, claimer),
            interval=CLAIM_RENEW_EVERY.total_seconds(),
            name=f"reactions-lease-{claimer}",
        )
        try:
            with lease:
                outcome = _react(rows)
        except Exception:
            logger.exception("signals: reactions failed for backlog rows %s", [r.pk for r in rows])
            _release(rows)
            report.failed += 1
            break
        ReactionBacklog.objects.filter(pk__in=[row.pk for row in rows]).delete()
        done = clock.now()
        report.rows += len(rows)
        report.signals += sum(row.signal_count for row in rows)
        report.lags.extend((done - row.created_at).total_seconds() for row in rows)
        report.raised += len(outcome.raised)
        report.ended += len(outcome.ended)
        report.fired += len(outcome.fired)
    report.seconds = time.perf_counter() - started
    return report


def _claim(worker: str, *, older_than: timedelta | None = None) -> list[ReactionBacklog]:
    now = clock.now()
    with transaction.atomic():
        waiting = ReactionBacklog.objects.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
        ).order_by("id")
        if older_than is not None:
            waiting = waiting.filter(created_at__lte=now - older_than)
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True)
        rows = list(waiting[:CLAIM_ROWS])
        if rows:
            ReactionBacklog.objects.filter(pk__in=[row.pk for row in rows]).update(
                claimed_at=now, claimed_by=worker[:64]
            )
    return rows


def _renew(rows: list[ReactionBacklog], claimer: str) -> int:
    """Move the claim of the rows this drain still holds to now."""
    return ReactionBacklog.objects.filter(
        pk__in=[row.pk for row in rows], claimed_by=claimer
    ).update(claimed_at=clock.now())


def _release(rows: list[ReactionBacklog]) -> None:
    ReactionBacklog.objects.filter(pk__in=[row.pk for row in rows]).update(
        claimed_at=None, claimed_by=""
    )


def _react(rows: list[ReactionBacklog]) -> reactions.ReactionReport:
    # Imported here: the reactions bring the rules, watchlists and triage (about a
    # quarter of a second), which a command that only queues them should not load.
    from watchfloor.signals import reactions

    cluster_ids = {pk for row in rows for pk in row.cluster_ids}
    series_keys = {tuple(key) for row in rows for key in row.series_keys}
    # Rules open escalations in the name of whoever sent the latest batch (the system
    # when nobody did), as they did when reactions ran in the request.
    actor_id = next((row.actor_id for row in reversed(rows) if row.actor_id), None)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    # One catalog and one playbook library for the whole pass: its firings would
    # otherwise read them again for every escalation they file (core.shared_reads).
    with shared_reads():
        report = reactions.after_ingest(
            cluster_ids=sorted(cluster_ids),
            series_keys=sorted(series_keys),
            actor=actor,
        )
        hooks = signals_stored_hooks()
        if hooks:
            signal_ids = [
                pk
                for row in rows
                for first, last in row.signal_ranges
                for pk in range(first, last + 1)
            ]
            for hook in hooks:
                hook(signal_ids)
    return report
