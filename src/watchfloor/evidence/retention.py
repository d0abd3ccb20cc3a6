"""Retention and integrity: deleting expired, un-held evidence, and re-hashing what is stored.

Retention is per category (settings ``WATCHFLOOR_EVIDENCE_RETENTION_DAYS``), and a market
may set its own figure for a category (``WATCHFLOOR_EVIDENCE_RETENTION_BY_MARKET``): an
item of an escalation in several markets is kept for the longest of them. Deleting
removes the bytes (the original, the display copy, the thumbnail) and keeps the row with
its hashes and its custody log, each deletion audited. A file shared by another item
still kept (the same bytes added twice) stays until that one goes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.evidence import store
from watchfloor.evidence.custody import record_custody_event
from watchfloor.evidence.models import EvidenceItem

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watchfloor.people.models import User


def retention_days(item: EvidenceItem, market_codes: list[str]) -> int:
    days = int(settings.WATCHFLOOR_EVIDENCE_RETENTION_DAYS[item.category])
    by_market = settings.WATCHFLOOR_EVIDENCE_RETENTION_BY_MARKET
    figures = [
        by_market[c][item.category] for c in market_codes if item.category in by_market.get(c, {})
    ]
    return max(figures) if figures else days


@dataclass(frozen=True)
class Expired:
    item: EvidenceItem
    retention_days: int
    expired_on: datetime


def expired_items(*, now: datetime) -> Iterator[Expired]:
    """Un-held items with stored bytes whose retention has run out (oldest first)."""
    candidates = (
        EvidenceItem.objects.filter(legal_hold=False, purged_at__isnull=True)
        .exclude(original_file="", display_file="", thumbnail_file="")
        .select_related("cluster")
        .prefetch_related("escalation__markets", "crisis__markets")
        .order_by("added_at", "pk")
    )
    for item in candidates.iterator(chunk_size=500):
        days = retention_days(item, _market_codes(item))
        expires = item.added_at + timedelta(days=days)
        if expires <= now:
            yield Expired(item=item, retention_days=days, expired_on=expires)


def _market_codes(item: EvidenceItem) -> list[str]:
    """The markets of what the item is evidence of (a cluster's: those its signals name)."""
    if item.escalation is not None:
        return [m.code for m in item.escalation.markets.all()]
    if item.crisis is not None:
        return [m.code for m in item.crisis.markets.all()]
    markets = item.cluster.markets if item.cluster is not None else {}
    return [str(code) for code in markets] if isinstance(markets, dict) else []


def purge_expired(*, actor: User | None, dry_run: bool = False) -> list[Expired]:
    """Delete the bytes of every expired, un-held item (one transaction and event each)."""
    now = clock.now()
    done: list[Expired] = []
    for expired in list(expired_items(now=now)):
        if dry_run or _purge_one(expired, actor=actor, now=now):
            done.append(expired)
    return done


def _purge_one(expired: Expired, *, actor: User | None, now: datetime) -> bool:
    with transaction.atomic():
        item = EvidenceItem.objects.select_for_update().get(pk=expired.item.pk)
        # A hold placed since the list was read wins.
        if item.legal_hold or item.purged_at is not None:
            return False
        names = [item.original_file, item.display_file, item.thumbnail_file]
        item.purged_at = now
        item.version += 1
        item.save(update_fields=["purged_at", "version"])
        record_custody_event(
            action=AuditAction.EVIDENCE_PURGED,
            item=item,
            actor=actor,
            retention_days=expired.retention_days,
            expired_on=expired.expired_on,
        )
        still_used = _names_still_used(names, but=item.pk)
        doomed = [n for n in names if n and n not in still_used]
        transaction.on_commit(lambda: store.delete_stored(*doomed))
    return True


def _names_still_used(names: list[str], *, but: int) -> set[str]:
    wanted = [n for n in names if n]
    kept = EvidenceItem.objects.filter(purged_at__isnull=True).exclude(pk=but)
    rows = kept.filter(
        Q(original_file__in=wanted) | Q(display_file__in=wanted) | Q(thumbnail_file__in=wanted)
    ).values_list("original_file", "display_file", "thumbnail_file")
    return {name for row in rows for name in row}


@dataclass(frozen=True)
class Problem:
    item: EvidenceItem
    name: str
    what: str  # "missing" or "changed"


def verify_stored(*, escalation_id: int | None = None) -> tuple[int, list[Problem]]:
    """Re-hash every stored original against the SHA-256 recorded at upload; report any
    that changed or are missing. Returns (how many were checked, the problems)."""
    items = EvidenceItem.objects.filter(purged_at__isnull=True).exclude(original_file="")
    if escalation_id is not None:
        items = items.filter(escalation_id=escalation_id)
    checked = 0
    problems = []
    for item in items.order_by("pk").iterator(chunk_size=500):
        checked += 1
        actual = store.sha256_of_stored(item.original_file)
        if actual is None:
            problems.append(Problem(item=item, name=item.original_file, what="missing"))
        elif actual != item.sha256:
            problems.append(Problem(item=item, name=item.original_file, what="changed"))
    return checked, problems
