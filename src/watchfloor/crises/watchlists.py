"""Crisis watchlists: the terms, hashtags, accounts, links and media a crisis watches for,
and the signals that match them.

How each kind matches, script by script, is in ``crises.matching``.

``flag_matching_signals`` is called by the intake after each committed batch. The
compiled matcher is kept per process and rebuilt only when the watchlists change: each
call reads one aggregate (the highest entry id ever written, and how many entries are
active on active crises). Entries are never deleted and ids only grow, so any addition
raises the first and any removal or closed crisis lowers the second; when the count is
zero the call returns at once.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.validation import clean_language_tags, clean_text, require
from watchfloor.crises import permissions
from watchfloor.crises.matching import (
    VALUE_MAX,
    CompiledEntry,
    SignalFacts,
    WatchlistMatcher,
    is_vietnamese,
    normalise_entry,
    normalise_term,
)
from watchfloor.crises.models import Crisis, WatchlistEntry, WatchlistHit, WatchlistKind
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.services.common import lock_crisis, record_crisis_event, refuse_if_closed
from watchfloor.crises.variants import VARIANTS_MAX, starter_variants
from watchfloor.signals.contract import canonical_language_tag
from watchfloor.signals.media import DEFAULT_MAX_DISTANCE
from watchfloor.signals.models import Signal
from watchfloor.signals.permissions import can_see_signals

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from watchfloor.people.models import User

__all__ = [
    "WatchlistMatch",
    "add_watchlist_entry",
    "current_matcher",
    "flag_matching_signals",
    "forget_matcher",
    "get_watchlist_entry",
    "recent_hits",
    "remove_watchlist_entry",
    "watchlist_of",
]

NOTE_MAX = 500
REASON_MAX = 500
# Signals are read in chunks of this many ids (SQLite's parameter limit is far above it).
_CHUNK = 500


# ---------------------------------------------------------------- the per-process cache

_matcher_lock = threading.Lock()
_matcher: WatchlistMatcher | None = None


def _max_distance() -> int:
    return int(getattr(settings, "WATCHFLOOR_PDQ_MAX_DISTANCE", DEFAULT_MAX_DISTANCE))


def _watchlist_version() -> tuple[int, int, int]:
    """(the highest entry id ever written, the active entries of active crises, the PDQ
    distance in force): what the compiled matcher is keyed on. One aggregate query."""
    row = WatchlistEntry.objects.aggregate(
        last_id=Max("id"),
        active=Count("id", filter=Q(removed_at__isnull=True, crisis__is_active=True)),
    )
    return (row["last_id"] or 0, row["active"] or 0, _max_distance())


def current_matcher() -> WatchlistMatcher | None:
    """The compiled matcher for the watchlists as they stand, or None when no active
    crisis watches anything. Rebuilt only when the version key changes."""
    global _matcher
    key = _watchlist_version()
    if key[1] == 0:
        return None
    cached = _matcher
    if cached is not None and cached.key == key:
        return cached
    with _matcher_lock:
        if _matcher is not None and _matcher.key == key:
            return _matcher
        rows = WatchlistEntry.objects.filter(
            removed_at__isnull=True, crisis__is_active=True
        ).values_list("id", "crisis_id", "kind", "normalised", "variants", "language")
        _matcher = WatchlistMatcher.compile(
            (
                CompiledEntry(
                    pk, crisis_id, kind, normalised, _compiled_variants(variants, language)
                )
                for pk, crisis_id, kind, normalised, variants, language in rows
            ),
            max_distance=key[2],
            key=key,
        )
        return _matcher


def _compiled_variants(variants: Iterable[str] | None, language: str) -> tuple[str, ...]:
    keep = is_vietnamese(language)
    found = (normalise_term(str(v), keep_diacritics=keep) for v in variants or ())
    return tuple(sorted({variant for variant in found if variant}))


def forget_matcher() -> None:
    """Drop the cached matcher (tests; the version key makes this unnecessary otherwise)."""
    global _matcher
    with _matcher_lock:
        _matcher = None


# ---------------------------------------------------------------- flagging signals

_SIGNAL_FIELDS = (
    "id",
    "cluster_id",
    "received_at",
    "subject_kind",
    "subject_ref",
    "url_normalised",
    "media_pdq",
    "media_pdq_quality",
    "media_md5",
    "media_sha256",
)


def flag_matching_signals(signal_ids: Sequence[int], *, now: datetime | None = None) -> int:
    """Flag the signals that match an active crisis's watchlist; returns the hits created.

    Called after a batch of signals has committed. Costs one small aggregate query when no
    active crisis watches anything. Idempotent: a signal matches an entry once.
    """
    if not signal_ids:
        return 0
    matcher = current_matcher()
    if matcher is None:
        return 0
    fields = (*_SIGNAL_FIELDS, "text") if matcher.reads_text else _SIGNAL_FIELDS
    ids = sorted({int(pk) for pk in signal_ids})
    candidates: list[tuple[int, int, int, datetime]] = []  # entry, signal, cluster, received
    for offset in range(0, len(ids), _CHUNK):
        for row in Signal.objects.filter(pk__in=ids[offset : offset + _CHUNK]).values_list(*fields):
            values = dict(zip(fields, row, strict=True))
            facts = SignalFacts(
                text=values.get("text") or "",
                url_normalised=values["url_normalised"] or "",
                subject_kind=values["subject_kind"],
                subject_ref=values["subject_ref"],
                media_pdq=bytes(values["media_pdq"]) if values["media_pdq"] else None,
                media_pdq_quality=values["media_pdq_quality"],
                media_md5=values["media_md5"],
                media_sha256=values["media_sha256"],
            )
            for entry_id in sorted(matcher.match(facts)):
                candidates.append(
                    (entry_id, values["id"], values["cluster_id"], values["received_at"])
                )
    if not candidates:
        return 0
    return _store_hits(candidates, matcher=matcher, now=now or clock.now())


@transaction.atomic
def _store_hits(
    candidates: list[tuple[int, int, int, datetime]],
    *,
    matcher: WatchlistMatcher,
    now: datetime,
) -> int:
    matched_signals = sorted({signal_id for _, signal_id, _, _ in candidates})
    existing: set[tuple[int, int]] = set()
    for offset in range(0, len(matched_signals), _CHUNK):
        existing.update(
            WatchlistHit.objects.filter(
                signal_id__in=matched_signals[offset : offset + _CHUNK]
            ).values_list("entry_id", "signal_id")
        )
    hits = [
        WatchlistHit(
            crisis_id=matcher.entries[entry_id].crisis_id,
            entry_id=entry_id,
            signal_id=signal_id,
            cluster_id=cluster_id,
            received_at=received_at,
            flagged_at=now,
        )
        for entry_id, signal_id, cluster_id, received_at in candidates
        if (entry_id, signal_id) not in existing
    ]
    if not hits:
        return 0
    WatchlistHit.objects.bulk_create(hits, ignore_conflicts=True, batch_size=_CHUNK)
    by_crisis: dict[int, list[WatchlistHit]] = defaultdict(list)
    for hit in hits:
        by_crisis[hit.crisis_id].append(hit)
    for crisis in Crisis.objects.filter(pk__in=list(by_crisis)).order_by("pk"):
        flagged = by_crisis[crisis.pk]
        per_entry: dict[int, int] = defaultdict(int)
        for hit in flagged:
            per_entry[hit.entry_id] += 1
        record_event(
            action=AuditAction.WATCHLIST_SIGNALS_FLAGGED,
            actor=None,
            target=crisis,
            data={
                "crisis_id": crisis.pk,
                "crisis": crisis.reference,
                "hits": len(flagged),
                "entries": {str(pk): count for pk, count in sorted(per_entry.items())},
                "first_signal_id": min(hit.signal_id for hit in flagged),
                "last_signal_id": max(hit.signal_id for hit in flagged),
            },
        )
    return len(hits)


# ---------------------------------------------------------------- services


def _check_may_edit(actor: User, crisis: Crisis) -> None:
    require(
        may_work_crisis(actor) and can_see_signals(actor),
        "your role cannot change a crisis's watchlist",
    )
    if not permissions.may_see(actor, crisis):
        raise NotFound(f"no crisis {crisis.reference} that you can see", field="crisis_id")


def _language(language: str) -> str:
    language = (language or "").strip()
    if not language:
        return ""
    try:
        return canonical_language_tag(clean_language_tags([language])[0])
    except InvalidInput as error:
        raise InvalidInput(error.message, field="language") from error


@transaction.atomic
def add_watchlist_entry(
    *,
    crisis: Crisis,
    kind: str,
    value: str,
    actor: User,
    language: str = "",
    note: str = "",
    variants: Sequence[str] | None = None,
) -> WatchlistEntry:
    """Watch for something in the signals of a crisis: from the next batch on, a matching
    signal is flagged into the war room.

    A term's ``variants`` are other spellings that match as the term (``馬鹿`` for
    ``バカ``). None takes them from the starter list (``crises.variants``); ``[]`` is
    none."""
    _check_may_edit(actor, crisis)
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its watchlist is kept as it was")
    if kind not in WatchlistKind.values:
        raise InvalidInput(
            f"unknown kind '{kind}'; use one of {', '.join(WatchlistKind.values)}", field="kind"
        )
    value = clean_text(value, field="value", max_length=VALUE_MAX, required=True)
    language = _language(language)
    note = clean_text(note, field="note", max_length=NOTE_MAX, required=False)
    normalised = normalise_entry(kind=kind, value=value, language=language)
    variants = _clean_variants(variants, kind=kind, normalised=normalised, language=language)
    existing = (
        WatchlistEntry.objects.filter(
            crisis=crisis, kind=kind, normalised=normalised, removed_at__isnull=True
        )
        .select_related("added_by")
        .first()
    )
    if existing is not None:
        raise Conflict(
            f"{crisis.reference} already watches for {WatchlistKind(kind).label.lower()} "
            f"'{existing.value}' (added by {existing.added_by.display_name}), which matches "
            f"'{value}' the same way",
            field="value",
        )
    try:
        with transaction.atomic():
            entry = WatchlistEntry.objects.create(
                crisis=crisis,
                kind=kind,
                value=value,
                normalised=normalised,
                variants=variants,
                language=language,
                note=note,
                added_at=clock.now(),
                added_by=actor,
            )
    except IntegrityError as exc:  # the same entry added at the same moment elsewhere
        raise Conflict(
            f"'{value}' was added to the watchlist just now; reload", field="value"
        ) from exc
    record_crisis_event(
        AuditAction.CRISIS_WATCHLIST_ENTRY_ADDED,
        crisis=crisis,
        actor=actor,
        target=entry,
        data={
            "entry_id": entry.pk,
            "kind": kind,
            "value": value,
            "normalised": normalised,
            "variants": variants,
            "language": language,
            "note": note,
        },
    )
    return entry


def _clean_variants(
    variants: Sequence[str] | None, *, kind: str, normalised: str, language: str
) -> list[str]:
    """A term's other spellings as given, each checked like the term, without those that
    match the same way as it or as an earlier one."""
    if kind != WatchlistKind.TERM:
        if variants:
            raise InvalidInput("only a term has variants (other spellings)", field="variants")
        return []
    if variants is None:
        variants = starter_variants(normalised)
    if isinstance(variants, str) or len(variants) > VARIANTS_MAX:
        raise InvalidInput(
            f"give at most {VARIANTS_MAX} variants, as a list of spellings", field="variants"
        )
    kept: list[str] = []
    seen = {normalised}
    for position, raw in enumerate(variants, start=1):
        spelling = clean_text(
            raw if isinstance(raw, str) else "",
            field="variants",
            max_length=VALUE_MAX,
            required=True,
        )
        try:
            form = normalise_entry(kind=kind, value=spelling, language=language)
        except InvalidInput as error:
            raise InvalidInput(f"variant {position}: {error.message}", field="variants") from error
        if form not in seen:
            seen.add(form)
            kept.append(spelling)
    return kept


@transaction.atomic
def remove_watchlist_entry(
    *, entry: WatchlistEntry, actor: User, reason: str = ""
) -> WatchlistEntry:
    """Stop watching for an entry. It stays on record with who removed it and when; the
    signals it flagged stay flagged."""
    crisis = entry.crisis
    _check_may_edit(actor, crisis)
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its watchlist is kept as it was")
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=False)
    entry = WatchlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.removed_at is not None:
        raise Conflict(f"'{entry.value}' was already removed from the watchlist", field="entry")
    entry.removed_at, entry.removed_by = clock.now(), actor
    entry.save(update_fields=["removed_at", "removed_by"])
    record_crisis_event(
        AuditAction.CRISIS_WATCHLIST_ENTRY_REMOVED,
        crisis=crisis,
        actor=actor,
        target=entry,
        data={"entry_id": entry.pk, "kind": entry.kind, "value": entry.value, "reason": reason},
    )
    return entry


# ---------------------------------------------------------------- selectors


def watchlist_of(crisis: Crisis) -> QuerySet[WatchlistEntry]:
    """The crisis's active entries, with who added them."""
    return (
        WatchlistEntry.objects.filter(crisis=crisis, removed_at__isnull=True)
        .select_related("added_by")
        .order_by("kind", "normalised", "pk")
    )


def get_watchlist_entry(*, crisis: Crisis, entry_id: int | str) -> WatchlistEntry:
    entry = (
        WatchlistEntry.objects.filter(crisis=crisis, pk=entry_id).select_related("crisis").first()
        if str(entry_id).isdigit()
        else None
    )
    if entry is None:
        raise NotFound(f"no watchlist entry {entry_id} on {crisis.reference}", field="entry_id")
    return entry


@dataclass(frozen=True)
class WatchlistMatch:
    """One matched signal and every watchlist entry it matched: a post that carries three
    watched terms is one row, not three."""

    signal: Signal
    cluster_id: int
    received_at: datetime
    entries: list[WatchlistEntry]


# The latest matches are found by reading the newest hits from the (crisis, received_at)
# index, this many per signal wanted: a signal's hits all carry its time, so going back
# from the newest, the first signals met are the latest ones. Grouping every hit of a
# long crisis by signal instead (50,000 of them) cost 300-650 ms of each war-room refresh.
HITS_READ_PER_SIGNAL = 4


def recent_hits(*, crisis: Crisis, viewer: User, limit: int = 20) -> list[WatchlistMatch]:
    """The latest ``limit`` matched signals, newest first, each with all the entries it
    matched (in one query, two when the newest hits hold fewer than ``limit`` signals
    because each matched many entries); nothing for a reader who may not see signals."""
    if not can_see_signals(viewer):
        return []
    hits = WatchlistHit.objects.filter(crisis=crisis)
    read = limit * HITS_READ_PER_SIGNAL
    newest = hits.order_by("-received_at", "-signal_id").values("signal_id")[:read]
    # Their hits by the signal index alone: with the crisis in the same WHERE, SQLite
    # reads every hit of the crisis instead. A hit of another crisis is dropped below.
    found = _hits_of(WatchlistHit.objects.filter(signal_id__in=newest), crisis=crisis)
    if len(found) >= read and len({hit.signal_id for hit in found}) < limit:
        # The newest hits may leave out signals that the next ones hold: group them all.
        latest_signals = (
            hits.values("signal_id")
            .annotate(latest=Max("received_at"))
            .order_by("-latest", "-signal_id")
            .values("signal_id")[:limit]
        )
        found = _hits_of(hits.filter(signal_id__in=latest_signals), crisis=crisis)
    matches: dict[int, WatchlistMatch] = {}
    for hit in found:
        match = matches.get(hit.signal_id)
        if match is None:
            if len(matches) == limit:
                continue
            match = matches[hit.signal_id] = WatchlistMatch(
                signal=hit.signal,
                cluster_id=hit.cluster_id,
                received_at=hit.received_at,
                entries=[],
            )
        match.entries.append(hit.entry)
    return list(matches.values())


def _hits_of(hits: QuerySet[WatchlistHit], *, crisis: Crisis) -> list[WatchlistHit]:
    """The crisis's hits among ``hits``, the newest signal first, its entries in order."""
    return [
        hit
        for hit in hits.select_related("entry", "signal").order_by(
            "-received_at", "-signal_id", "entry__kind", "entry__normalised", "pk"
        )
        if hit.crisis_id == crisis.pk
    ]
