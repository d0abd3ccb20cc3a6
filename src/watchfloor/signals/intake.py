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
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from django.conf import settings
from django.db import DatabaseError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.models import CatalogVersion
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied
from watchfloor.core.roles import can_ingest_signals
from watchfloor.signals import backlog, clustering, counting, language, reactions, storage, text
from watchfloor.signals.contract import FileLimits, SignalInput, SignalRejected, parse_signal
from watchfloor.signals.media import is_useful_quality
from watchfloor.signals.models import (
    Cluster,
    ClusterKey,
    ClusterMedia,
    ClusterText,
    KeyKind,
    Signal,
)
from watchfloor.signals.tasks import react_after_commit
from watchfloor.signals.urls import normalise_url

if TYPE_CHECKING:
    from watchfloor.people.models import User

__all__ = [
    "MAX_BATCH_SIZE",
    "PREPARE",
    "STORE",
    "BatchResult",
    "BatchTooLarge",
    "IntakeBatch",
    "ItemResult",
    "check_can_ingest",
    "file_limits",
    "ingest_signals",
    "prepare_batch",
    "store_batch",
]

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10_000
MAX_PRODUCER_LENGTH = 150
# Reasons the intake adds to the contract's (contract.Reason): catalog checks.
UNKNOWN_MARKET = "unknown_market"
UNKNOWN_POLICY = "unknown_policy"
# The key of the PostgreSQL advisory lock that serialises intake writers ("WFSIGNAL").
WRITER_LOCK_KEY = 0x5746_5349_474E_414C

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


class BatchTooLarge(InvalidInput):
    code = "batch_too_large"
    http_status = 413


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item: ``accepted``, ``duplicate`` (of the signal and cluster
    given) or ``rejected`` (with the reason code, the dotted field and a message)."""

    index: int
    line: int | None
    status: str
    signal_id: int | None = None
    cluster_id: int | None = None
    reason: str = ""
    field: str = ""
    message: str = ""


@dataclass(frozen=True)
class BatchResult:
    results: list[ItemResult]
    cluster_ids: list[int] = field(default_factory=list)
    series_keys: list[reactions.SeriesKey] = field(default_factory=list)
    first_signal_id: int | None = None
    last_signal_id: int | None = None
    # Seconds spent preparing (no lock), storing (from the start of the transaction to
    # its commit) and reacting (after commit).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return sum(1 for result in self.results if result.status == ACCEPTED)

    @property
    def duplicates(self) -> int:
        return sum(1 for result in self.results if result.status == DUPLICATE)

    @property
    def rejected(self) -> int:
        return sum(1 for result in self.results if result.status == REJECTED)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.results if r.status == REJECTED).items()))


# ---------------------------------------------------------------------------
# The batch as the steps see it


@dataclass(slots=True, eq=False)
class Item:
    index: int
    line: int | None
    raw: Any
    signal: SignalInput | None = None
    rejection: SignalRejected | None = None
    language: str = ""
    language_detected: bool = False
    url_normalised: str = ""
    keys: clustering.SignalKeys | None = None
    duplicate_of: tuple[int, int] | None = None  # (signal id, cluster id) already stored
    repeat_of: Item | None = None  # the item earlier in the batch with the same id
    signal_id: int | None = None  # once stored
    cluster_id: int | None = None

    def reject(self, rejection: SignalRejected) -> None:
        self.rejection = rejection.at_line(self.line) if self.line is not None else rejection
        self.signal = None


if TYPE_CHECKING:

    class ValidItem(Item):
        """An item as the steps after ``validate`` see it (``IntakeBatch.valid``): its
        signal passed the checks, and from ``normalise`` on it has its keys. A type for
        the checker only; at run time these are plain :class:`Item` objects."""

        signal: SignalInput
        keys: clustering.SignalKeys
else:
    ValidItem = Item


@dataclass(eq=False)
class IntakeBatch:
    producer: str
    actor: User | None
    items: list[Item]
    # Filled in by the STORE steps.
    new: list[ValidItem] = field(default_factory=list)
    clusters: dict[int, counting.ClusterCounts] = field(default_factory=dict)
    assignment: clustering.Assignment | None = None
    series_keys: list[reactions.SeriesKey] = field(default_factory=list)
    clusters_created: int = 0
    # Filled in by PREPARE.
    neighbours: clustering.BatchNeighbours | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        items: Sequence[Any],
        *,
        producer: str,
        actor: User | None,
        lines: Sequence[int | None] | None = None,
    ) -> IntakeBatch:
        if lines is not None and len(lines) != len(items):
            raise ValueError(f"{len(lines)} line numbers for {len(items)} items")
        return cls(
            producer=producer,
            actor=actor,
            items=[
                Item(index=i, line=lines[i] if lines is not None else None, raw=raw)
                for i, raw in enumerate(items)
            ],
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """A prepared batch crosses to the storing process (``watchfloor ingest``) as plain
        tuples and one array of text signatures: the default pickling of the slotted
        dataclasses cost 26 µs per signal to load, this 6 µs."""
        if self.new or self.assignment is not None:
            raise TypeError("only a prepared batch, not yet stored, can be sent elsewhere")
        rows: list[tuple[Any, ...]] = []
        signatures: list[np.ndarray] = []
        for item in self.items:
            keys = item.keys
            signature_row = None
            if keys is not None and keys.text_signature is not None:
                signature_row = len(signatures)
                signatures.append(keys.text_signature)
            rows.append(
                (
                    item.index,
                    item.line,
                    _signal_values(item.signal) if item.signal is not None else None,
                    item.rejection,
                    item.language,
                    item.language_detected,
                    item.url_normalised,
                    (
                        keys.subject,
                        keys.url,
                        keys.pdq,
                        keys.md5,
                        keys.sha256,
                        keys.figures,
                        keys.short_text,
                        keys.text_urls,
                    )
                    if keys is not None
                    else None,
                    signature_row,
                )
            )
        matrix = np.stack(signatures) if signatures else None
        return (
            _prepared_batch,
            (self.producer, self.actor, rows, matrix, dict(self.timings), self.neighbours),
        )

    def valid(self) -> list[ValidItem]:
        """Items that passed the checks so far and are not known duplicates."""
        valid = [
            item
            for item in self.items
            if item.signal is not None and item.duplicate_of is None and item.repeat_of is None
        ]
        return cast("list[ValidItem]", valid)

    def result(self) -> BatchResult:
        results = []
        for item in self.items:
            if item.rejection is not None:
                rejection = item.rejection
                results.append(
                    ItemResult(
                        item.index,
                        item.line if item.line is not None else rejection.line,
                        REJECTED,
                        reason=str(rejection.reason_code),
                        field=rejection.field,
                        message=rejection.message,
                    )
                )
            elif item.duplicate_of is not None or item.repeat_of is not None:
                signal_id, cluster_id = item.duplicate_of or (
                    (item.repeat_of.signal_id, item.repeat_of.cluster_id)
                    if item.repeat_of is not None
                    else (None, None)
                )
                results.append(ItemResult(item.index, item.line, DUPLICATE, signal_id, cluster_id))
            elif item.signal_id is not None:
                results.append(
                    ItemResult(item.index, item.line, ACCEPTED, item.signal_id, item.cluster_id)
                )
            else:  # pragma: no cover - every item ends in one of the three states
                raise RuntimeError(f"item {item.index} was neither stored nor rejected")
        ids = [item.signal_id for item in self.new if item.signal_id is not None]
        return BatchResult(
            results=results,
            cluster_ids=sorted(self.clusters),
            series_keys=self.series_keys,
            first_signal_id=min(ids, default=None),
            last_signal_id=max(ids, default=None),
            timings=dict(self.timings),
        )


_SIGNAL_FIELDS = tuple(field.name for field in dataclasses.fields(SignalInput))


def _signal_values(signal: SignalInput) -> tuple[Any, ...]:
    return tuple(getattr(signal, name) for name in _SIGNAL_FIELDS)


def _prepared_batch(
    producer: str,
    actor: User | None,
    rows: list[tuple[Any, ...]],
    signatures: np.ndarray | None,
    timings: dict[str, float],
    neighbours: clustering.BatchNeighbours | None,
) -> IntakeBatch:
    items = []
    for index, line, values, rejection, tag, detected, url, keys, row in rows:
        item = Item(
            index=index,
            line=line,
            raw=None,
            signal=SignalInput(*values) if values is not None else None,
            rejection=rejection,
            language=tag,
            language_detected=detected,
            url_normalised=url,
        )
        if keys is not None:
            subject, url_key, pdq, md5, sha256, figures, short_text, text_urls = keys
            item.keys = clustering.SignalKeys(
                subject,
                url_key,
                pdq,
                md5,
                sha256,
                text_signature=signatures[row]
                if row is not None and signatures is not None
                else None,
                figures=figures,
                short_text=short_text,
                text_urls=text_urls,
            )
        items.append(item)
    return IntakeBatch(
        producer=producer, actor=actor, items=items, timings=timings, neighbours=neighbours
    )


Step = Callable[[IntakeBatch], None]


# ---------------------------------------------------------------------------
# PREPARE: no lock, no writes


def validate(batch: IntakeBatch) -> None:
    """Each item against the contract (``contract.parse_signal``); a rejection carries
    its line when the batch came from a file. ``received_at`` may be ahead of the clock
    by ``WATCHFLOOR_SIGNAL_FUTURE_SKEW`` at most."""
    not_after = clock.now() + settings.WATCHFLOOR_SIGNAL_FUTURE_SKEW
    for item in batch.items:
        raw = item.raw
        if type(raw) is SignalRejected:
            item.reject(raw)
            continue
        if isinstance(raw, Mapping) and type(raw) is not dict:
            raw = dict(raw)
        try:
            item.signal = parse_signal(raw, not_after=not_after)
        except SignalRejected as rejection:
            item.reject(rejection)


def check_catalog(batch: IntakeBatch) -> None:
    """``market`` and ``policy_hint`` must exist in the catalog in force."""
    wanted = [item for item in batch.valid() if item.signal.market or item.signal.policy_hint]
    if not wanted:
        return
    try:
        version = active_catalog_version()
    except NotFound:
        version = None
    markets, policies = _catalog_codes(version.pk, version.digest) if version else ((), ())
    missing = "" if version else " (no catalog is loaded: run `watchfloor config load`)"
    for item in wanted:
        signal = item.signal
        if signal.market and signal.market not in markets:
            item.reject(
                SignalRejected(
                    UNKNOWN_MARKET,
                    "market",
                    f"market {signal.market!r} is not a market of the catalog{missing}: "
                    f"use one of {', '.join(markets) or 'the catalog markets'}",
                )
            )
        elif signal.policy_hint and signal.policy_hint not in policies:
            item.reject(
                SignalRejected(
                    UNKNOWN_POLICY,
                    "policy_hint",
                    f"policy_hint {signal.policy_hint!r} is not a policy of the catalog{missing}:"
                    f" use a policy code such as {', '.join(policies[:4]) or 'scams_fraud'}"
                    " (GET /api/v1/catalog lists them)",
                )
            )


@lru_cache(maxsize=4)
def _catalog_codes(version_id: int, digest: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    catalog = catalog_for(CatalogVersion.objects.get(pk=version_id))
    markets = tuple(sorted(market.code for market in catalog.markets.markets))
    policies = tuple(
        sorted(policy.code for area in catalog.policies.areas for policy in area.policies)
    )
    return markets, policies


@cache
def _minhasher() -> text.MinHasher:
    return text.MinHasher()


_UNKNOWN = object()


class _RecentResults:
    """The results for the last ``size`` distinct inputs: in a surge the same text
    arrives thousands of times, and its signature or language need computing once.
    Oldest first out; safe to share between the threads of a server."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._results: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The remembered result, or ``_UNKNOWN``."""
        return self._results.get(key, _UNKNOWN)

    def remember(self, key: Any, value: Any) -> None:
        with self._lock:
            self._results[key] = value
            if len(self._results) > self.size:
                del self._results[next(iter(self._results))]


# raw text -> (MinHash signature or None if too short, figures, short text key, links)
_SIGNATURES = _RecentResults(20_000)
_LANGUAGES = _RecentResults(20_000)  # (languages, raw text) -> detected language or None


def normalise(batch: IntakeBatch) -> None:
    """The clustering keys: subject, normalised URL, useful PDQ hash, file hashes, and the
    MinHash signature of texts long enough to judge."""
    with_text: list[ValidItem] = []
    known: dict[str, _TextKeys] = {}  # raw text -> its keys
    missing: dict[str, str] = {}  # raw text -> normalised text, to compute
    for item in batch.valid():
        signal = item.signal
        item.url_normalised = (normalise_url(signal.url) or "") if signal.url else ""
        item.keys = clustering.SignalKeys(
            subject=clustering.subject_key(signal.subject_kind, signal.subject_ref),
            url=clustering.exact_key_value(item.url_normalised) if item.url_normalised else None,
            pdq=signal.media_pdq if is_useful_quality(signal.media_pdq_quality) else None,
            md5=signal.media_md5,
            sha256=signal.media_sha256,
        )
        raw = signal.text
        if raw:
            with_text.append(item)
            if raw in known or raw in missing:
                continue
            remembered = _SIGNATURES.get(raw)
            if remembered is _UNKNOWN:
                missing[raw] = text.normalise_text(raw)
            else:
                known[raw] = remembered
    judged = {
        raw: normalised
        for raw, normalised in missing.items()
        if clustering.text_weight(normalised) >= clustering.MIN_TEXT_WEIGHT
    }
    signatures = _minhasher().signatures_of_normalised(list(judged.values()))
    computed = dict(zip(judged, signatures, strict=True))
    for raw, normalised in missing.items():
        known[raw] = (computed.get(raw), *_text_keys(raw, normalised))
        _SIGNATURES.remember(raw, known[raw])
    for item in with_text:
        keys = item.keys
        keys.text_signature, keys.figures, keys.short_text, keys.text_urls = known[
            item.signal.text or ""
        ]


_TextKeys = tuple["np.ndarray | None", str, "str | None", tuple[str, ...]]


def _text_keys(raw: str, normalised: str) -> tuple[str, str | None, tuple[str, ...]]:
    """What a text adds to the keys: its figures, its exact key when it is short, and,
    when it is too short for a signature, the links inside it (normalised, the first
    ``MAX_TEXT_LINKS``)."""
    weight = clustering.text_weight(normalised)
    short = (
        clustering.exact_key_value(normalised)
        if clustering.MIN_SHORT_TEXT_WEIGHT <= weight < clustering.MIN_TEXT_WEIGHT
        else None
    )
    links: list[str] = []
    # A link is the key when the text around it is too short to judge; a longer text is
    # judged on its words (keyed always, a shared news link fused different reports: the
    # pairwise precision on the CrisisLex tweets fell from 0.99 to 0.42).
    in_text = text.links_in(raw) if weight < clustering.MIN_TEXT_WEIGHT else []
    for found in in_text[: clustering.MAX_TEXT_LINKS]:
        normalised_link = normalise_url(found)
        if normalised_link:
            links.append(clustering.exact_key_value(normalised_link))
    return clustering.figures_of(normalised), short, tuple(dict.fromkeys(links))


def detect_language(batch: IntakeBatch) -> None:
    """The producer's ``language`` is kept; when absent it is detected among
    ``WATCHFLOOR_SIGNAL_LANGUAGES`` and marked ``language_detected``."""
    unknown = []
    for item in batch.valid():
        if item.signal.language:
            item.language = item.signal.language
        elif item.signal.text:
            unknown.append(item)
    if not unknown:
        return
    codes = tuple(
        getattr(settings, "WATCHFLOOR_SIGNAL_LANGUAGES", None) or language.DEFAULT_LANGUAGES
    )
    found: dict[str, str | None] = {}
    for item in unknown:
        raw = item.signal.text or ""
        if raw not in found and (remembered := _LANGUAGES.get((codes, raw))) is not _UNKNOWN:
            found[raw] = remembered
    texts = [
        raw for raw in dict.fromkeys(item.signal.text or "" for item in unknown) if raw not in found
    ]
    if texts:
        detector = language.get_language_detector(codes)
        for raw, detected in zip(texts, detector.detect_many(texts), strict=True):
            found[raw] = detected
            _LANGUAGES.remember((codes, raw), detected)
    market_languages: dict[str, tuple[str, ...]] | None = None
    for item in unknown:
        raw = item.signal.text or ""
        detected = found[raw]
        if detected in ("ja", "zh") and item.signal.market:
            if market_languages is None:
                market_languages = _market_languages()
            detected = language.han_tie_break(
                detected, raw, market_languages.get(item.signal.market, ())
            )
        if detected:
            item.language = detected
            item.language_detected = True


def _market_languages() -> dict[str, tuple[str, ...]]:
    """Each market's languages in the catalog in force (none without a catalog, or
    without a database: a backtest replays files in memory)."""
    try:
        version = active_catalog_version()
    except (NotFound, DatabaseError):
        return {}
    return _catalog_market_languages(version.pk, version.digest)


@lru_cache(maxsize=4)
def _catalog_market_languages(version_id: int, digest: str) -> dict[str, tuple[str, ...]]:
    catalog = catalog_for(CatalogVersion.objects.get(pk=version_id))
    return {market.code: tuple(market.languages) for market in catalog.markets.markets}


def pair_within_batch(batch: IntakeBatch) -> None:
    """Which hashes and texts of the batch are near each other
    (``clustering.BatchNeighbours``): it needs only the batch, so it is worked out here
    rather than under the lock."""
    batch.neighbours = clustering.BatchNeighbours(
        [item.keys for item in batch.valid()], clustering.clustering_config()
    )


# ---------------------------------------------------------------------------
# STORE: one transaction, under the writer lock


def find_duplicates(batch: IntakeBatch) -> None:
    """A signal already stored for this producer, or sent earlier in the same batch, is a
    duplicate of that one."""
    items = batch.valid()
    stored = {
        external_id: (signal_id, cluster_id)
        for external_id, signal_id, cluster_id in storage.select_in(
            Signal,
            ["external_id", "id", "cluster"],
            where=[("producer", batch.producer)],
            field="external_id",
            values=sorted({item.signal.id for item in items}),
        )
    }
    first_in_batch: dict[str, ValidItem] = {}
    for item in items:
        known = stored.get(item.signal.id)
        if known is not None:
            item.duplicate_of = known
        elif item.signal.id in first_in_batch:
            item.repeat_of = first_in_batch[item.signal.id]
        else:
            first_in_batch[item.signal.id] = item
            batch.new.append(item)


def cluster(batch: IntakeBatch) -> None:
    """Assign each new signal to a cluster (``clustering.assign_clusters``), create the
    clusters the batch starts and load the ones it joins."""
    keys = [item.keys for item in batch.new]
    exact = sorted({key for signal_keys in keys for key in signal_keys.exact()})
    owners = _key_owners(exact)
    for _attempt in range(2):
        with clustering.indexes_in_use(clustering.clustering_config()) as indexes:
            assignment = clustering.assign_clusters(
                keys, owners=owners, indexes=indexes, neighbours=batch.neighbours
            )
        joined = sorted(assignment.existing_cluster_ids())
        existing = counting.load_counts(joined)
        if len(existing) == len(joined):
            break
        # A cluster the indexes know of is gone (the database was restored underneath
        # this process): rebuild them from the database and assign again.
        clustering.forget_indexes()
    else:  # pragma: no cover - a rebuilt index only holds clusters that exist
        raise RuntimeError(f"clusters {sorted(set(joined) - set(existing))} do not exist")
    real_ids = _create_clusters(batch, assignment.founders)
    batch.clusters = existing
    for temporary, made in real_ids.items():
        first_seen = batch.new[assignment.founders[temporary]].signal.received_at
        batch.clusters[made] = counting.ClusterCounts(
            id=made, first_seen_at=first_seen, last_seen_at=first_seen
        )
    batch.clusters_created = len(real_ids)

    def real(cluster_id: int) -> int:
        return real_ids[cluster_id] if cluster_id < 0 else cluster_id

    assignment.cluster_ids = [real(cluster_id) for cluster_id in assignment.cluster_ids]
    assignment.founders = {real(c): position for c, position in assignment.founders.items()}
    assignment.new_keys = [(kind, value, real(c)) for kind, value, c in assignment.new_keys]
    assignment.new_media = [(real(c), pdq) for c, pdq in assignment.new_media]
    assignment.new_texts = [
        (real(c), signature, figures) for c, signature, figures in assignment.new_texts
    ]
    assignment.relations = Counter(
        {(real(a), real(b), kind): n for (a, b, kind), n in assignment.relations.items()}
    )
    batch.assignment = assignment


def _key_owners(exact: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The stored clusters owning these keys: a query per kind of key, its values looked
    up on the (kind, value) index."""
    owners: dict[tuple[str, str], int] = {}
    for kind in sorted({kind for kind, _ in exact}):
        for value, cluster_id in storage.select_in(
            ClusterKey,
            ["value", "cluster"],
            where=[("kind", kind)],
            field="value",
            values=[value for k, value in exact if k == kind],
        ):
            owners[(kind, value)] = cluster_id
    return owners


def _create_clusters(batch: IntakeBatch, founders: dict[int, int]) -> dict[int, int]:
    """Insert the clusters the batch starts, from their first signals; returns the real id
    of each temporary one. Rows come back in no promised order, so each is recognised by
    its subject, which no two new clusters share (the second would have joined the
    first)."""
    if not founders:
        return {}
    now = clock.now()
    fields = [field for field in Cluster._meta.concrete_fields if not field.primary_key]
    subjects: dict[tuple[str, str], int] = {}
    rows = []
    for temporary, position in founders.items():
        signal = batch.new[position].signal
        made = Cluster(
            representative_text=signal.text or "",
            representative_url=signal.url or "",
            subject_kind=signal.subject_kind,
            subject_ref=signal.subject_ref,
            origin_key=KeyKind.NEW,
            first_seen_at=signal.received_at,
            last_seen_at=signal.received_at,
            updated_at=now,
        )
        rows.append([getattr(made, field.attname) for field in fields])
        subjects[(signal.subject_kind, signal.subject_ref)] = temporary
    if len(subjects) != len(founders):  # pragma: no cover - see the docstring
        raise RuntimeError("two new clusters of one batch have the same subject")
    created = storage.insert_returning(
        Cluster,
        [field.name for field in fields],
        rows,
        returning=["id", "subject_kind", "subject_ref"],
    )
    return {subjects[(kind, ref)]: cluster_id for cluster_id, kind, ref in created}


# The columns of a stored signal, in the order _signal_row gives their values.
_SIGNAL_COLUMNS = (
    "producer",
    "external_id",
    "received_at",
    "ingested_at",
    "source",
    "subject_kind",
    "subject_ref",
    "text",
    "url",
    "url_normalised",
    "media_pdq",
    "media_pdq_quality",
    "media_md5",
    "media_sha256",
    "market",
    "language",
    "language_detected",
    "policy_hint",
    "reach_impressions",
    "reach_followers",
    "reach_shares",
    "reporter",
    "attributes",
    "cluster",
    "matched_by",
)


def store_signals(batch: IntakeBatch) -> None:
    """Write the new signals, and the keys, media, text and relations they add."""
    assignment = batch.assignment
    assert assignment is not None, "store_signals runs after cluster"
    now = clock.now()
    for item, cluster_id in zip(batch.new, assignment.cluster_ids, strict=True):
        item.cluster_id = cluster_id
    rows = [
        _signal_row(item, batch.producer, matched_by, now)
        for item, matched_by in zip(batch.new, assignment.matched_by, strict=True)
    ]
    # Ids come back with the external id they belong to: RETURNING promises no order.
    ids = {
        external_id: signal_id
        for signal_id, external_id in storage.insert_returning(
            Signal, _SIGNAL_COLUMNS, rows, returning=["id", "external_id"]
        )
    }
    for item in batch.new:
        item.signal_id = ids[item.signal.id]
    for cluster_id, position in assignment.founders.items():
        batch.clusters[cluster_id].representative_id = batch.new[position].signal_id
    storage.insert_returning(
        ClusterKey, ["kind", "value", "cluster"], assignment.new_keys, returning=["id"]
    )
    storage.insert_returning(
        ClusterMedia,
        ["cluster", "pdq"],
        [(c, pdq) for c, pdq in assignment.new_media],
        returning=["id"],
    )
    storage.insert_returning(
        ClusterText,
        ["cluster", "signature", "figures"],
        [
            (c, text.signature_to_bytes(signature), figures)
            for c, signature, figures in assignment.new_texts
        ],
        returning=["id"],
    )
    counting.record_relations(assignment.relations)


def _signal_row(item: ValidItem, producer: str, matched_by: str, now: datetime) -> tuple[Any, ...]:
    signal = item.signal
    return (
        producer,
        signal.id,
        signal.received_at,
        now,
        signal.source,
        signal.subject_kind,
        signal.subject_ref,
        signal.text or "",
        signal.url or "",
        item.url_normalised,
        signal.media_pdq,
        signal.media_pdq_quality,
        signal.media_md5 or "",
        signal.media_sha256 or "",
        signal.market or "",
        item.language,
        item.language_detected,
        signal.policy_hint or "",
        signal.reach_impressions,
        signal.reach_followers,
        signal.reach_shares,
        signal.reporter or "",
        dict(signal.attributes),
        item.cluster_id,
        matched_by,
    )


def count(batch: IntakeBatch) -> None:
    """Counts, tallies, buckets and velocities of the clusters and series touched."""
    counted = [
        counting.CountedSignal(
            cluster_id=cast(int, item.cluster_id),  # set by store_signals
            received_at=item.signal.received_at,
            source=item.signal.source,
            market=item.signal.market or "",
            language=item.language,
            policy_hint=item.signal.policy_hint or "",
            reach_impressions=item.signal.reach_impressions,
            reach_followers=item.signal.reach_followers,
            reach_shares=item.signal.reach_shares,
            reporter=item.signal.reporter or "",
        )
        for item in batch.new
    ]
    result = counting.count_signals(signals=counted, clusters=batch.clusters, now=clock.now())
    batch.series_keys = result.series_keys


def record_ingest(batch: IntakeBatch) -> None:
    """One ``signals.ingested`` audit event for the batch, in its transaction."""
    if not batch.new:
        return
    rejected = Counter(
        str(item.rejection.reason_code) for item in batch.items if item.rejection is not None
    )
    ids = [item.signal_id for item in batch.new if item.signal_id is not None]
    record_event(
        action=AuditAction.SIGNALS_INGESTED,
        actor=batch.actor,
        data={
            "producer": batch.producer,
            "accepted": len(batch.new),
            "duplicates": len(batch.items) - len(batch.new) - rejected.total(),
            "rejected": rejected.total(),
            "rejected_by_reason": dict(sorted(rejected.items())),
            "first_signal_id": min(ids),
            "last_signal_id": max(ids),
            "clusters_created": batch.clusters_created,
            "clusters_touched": len(batch.clusters),
        },
    )


def queue_reactions(batch: IntakeBatch) -> None:
    """Record, in the batch's transaction, that its reactions (surge checks, rules,
    watchlists) are due, and have the worker run them once it has committed
    (``signals.backlog``): they are never lost and never slow the acknowledgement."""
    if not batch.new:
        return
    backlog.queue_reactions(
        cluster_ids=batch.clusters,
        series_keys=batch.series_keys,
        signal_ids=[item.signal_id for item in batch.new if item.signal_id is not None],
        actor=batch.actor,
    )
    react_after_commit()


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
