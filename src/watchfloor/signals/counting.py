"""The counts a batch of new signals adds to its clusters and series.

Per cluster: first and last seen, signal count, exact reporter count (through
``ClusterReporter``), tallies of sources, markets, languages and policy hints, reach
sums and the largest follower count, signals per 5-minute bucket (``ClusterBucket``)
and the velocities read from them. Per market × policy hint × language: signals per
5-minute bucket (``SeriesBucket``).

It runs inside the batch's transaction, under the intake's writer lock, so the
clusters' totals it read cannot change before it writes them. The new totals are
computed in memory and written in one statement per table (``storage``): the number
of queries does not grow with the number of signals. Counters (buckets, relations)
are added to in the database (``n = n + excluded.n``), with no read first.

Velocities have one definition, ``velocities``, used here and by the reactions: the
signals in the 5-minute buckets of the last 5 minutes, hour and 24 hours up to the
current time (``core.clock``, simulated in replays and drills), the current bucket
counted in full. Signals dated after the current bucket (a producer's clock running
ahead) are stored and counted but do not move the velocities until their time comes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import F, Q, Sum

from watchfloor.signals import storage
from watchfloor.signals.models import (
    Cluster,
    ClusterBucket,
    ClusterRelation,
    ClusterReporter,
    SeriesBucket,
    Signal,
)

__all__ = [
    "BUCKET",
    "ClusterCounts",
    "CountedSignal",
    "bucket_start",
    "count_signals",
    "in_chunks",
    "load_counts",
    "record_relations",
    "recount_clusters",
    "velocities",
]

BUCKET = timedelta(minutes=5)
SeriesKey = tuple[str, str, str]  # (market, policy hint, language); "" where not given
VELOCITY_WINDOWS = {
    "velocity_5m": timedelta(minutes=5),
    "velocity_1h": timedelta(hours=1),
    "velocity_24h": timedelta(hours=24),
}
MAX_STORED_COUNT = 2**63 - 1  # the largest value a PositiveBigIntegerField holds
# Values per IN (...) list: well under SQLite's 32,766 and PostgreSQL's 65,535
# parameters, and more than a batch of 2,000 signals needs in one query.
CHUNK = 10_000

T = TypeVar("T")


def in_chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bucket_start(moment: datetime) -> datetime:
    """The start of the 5-minute bucket holding ``moment`` (aware, UTC)."""
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class CountedSignal:
    """What the counts need of a stored signal ("" where a value was not given)."""

    cluster_id: int
    received_at: datetime
    source: str
    market: str = ""
    language: str = ""
    policy_hint: str = ""
    reach_impressions: int | None = None
    reach_followers: int | None = None
    reach_shares: int | None = None
    reporter: str = ""


# The Signal fields a CountedSignal is made of, in its order.
COUNTED_SIGNAL_FIELDS = (
    "cluster_id",
    "received_at",
    "source",
    "market",
    "language",
    "policy_hint",
    "reach_impressions",
    "reach_followers",
    "reach_shares",
    "reporter",
)


@dataclass(slots=True)
class ClusterCounts:
    """The counted columns of one cluster (``Cluster`` attribute names), read under the
    lock and written back; lighter than the model for the hundreds a batch touches."""

    id: int
    first_seen_at: datetime
    last_seen_at: datetime
    signal_count: int = 0
    reporter_count: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    markets: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    policy_hints: dict[str, int] = field(default_factory=dict)
    reach_impressions: int = 0
    reach_shares: int = 0
    max_followers: int = 0
    velocity_5m: int = 0
    velocity_1h: int = 0
    velocity_24h: int = 0
    updated_at: datetime | None = None
    representative_id: int | None = None


# The columns of ClusterCounts after its id, as Cluster's attribute names.
COUNTED_COLUMNS = tuple(name for name in ClusterCounts.__slots__ if name != "id")


def load_counts(cluster_ids: Iterable[int]) -> dict[int, ClusterCounts]:
    """The counted columns of these clusters (missing ones are left out)."""
    return {
        row[0]: ClusterCounts(*row)
        for row in storage.select_in(
            Cluster, ["id", *COUNTED_COLUMNS], field="id", values=sorted(cluster_ids)
        )
    }


@dataclass(frozen=True)
class CountResult:
    series_keys: list[SeriesKey]


def count_signals(
    *, signals: Sequence[CountedSignal], clusters: dict[int, ClusterCounts], now: datetime
) -> CountResult:
    """Add ``signals`` (stored, each in its cluster) to the counts of ``clusters`` (every
    cluster they belong to, read under the lock) and of their series; write."""
    if not signals:
        return CountResult(series_keys=[])
    _tally(signals, clusters)
    _count_reporters(signals, clusters)
    starts = _bucket_starts(signals)
    _count_buckets(signals, starts, clusters, now=now)
    series_keys = _count_series(signals, starts)
    _write_counts(clusters, now=now)
    return CountResult(series_keys=series_keys)


def _write_counts(clusters: dict[int, ClusterCounts], *, now: datetime) -> None:
    """Write the counted columns only: state, escalation and the rest are left as they
    are (the surge and rule code changes them in its own transactions)."""
    for cluster in clusters.values():
        cluster.updated_at = now
    storage.update_by_id(
        Cluster,
        COUNTED_COLUMNS,
        [
            [*(getattr(cluster, name) for name in COUNTED_COLUMNS), cluster.id]
            for cluster in sorted(clusters.values(), key=lambda cluster: cluster.id)
        ],
    )


def recount_clusters(cluster_ids: Sequence[int], *, now: datetime) -> None:
    """Count these clusters again from the signals they keep (quarantined ones left out):
    totals, tallies, reporters, buckets and velocities, as if those signals had just
    arrived. For when signals leave a cluster, which ``count_signals`` cannot subtract
    (a distinct reporter may have sent another). The caller holds the intake's writer
    lock; a cluster left with no signal counts zero and is seen at ``now``."""
    ids = sorted(set(cluster_ids))
    if not ids:
        return
    clusters = load_counts(ids)
    for cluster in clusters.values():
        fresh = ClusterCounts(id=cluster.id, first_seen_at=now, last_seen_at=now)
        fresh.representative_id = cluster.representative_id
        clusters[cluster.id] = fresh
    for chunk in in_chunks(ids):
        ClusterBucket.objects.filter(cluster_id__in=chunk).delete()
        ClusterReporter.objects.filter(cluster_id__in=chunk).delete()
    signals = [
        CountedSignal(*row)
        for chunk in in_chunks(ids)
        for row in Signal.objects.filter(cluster_id__in=chunk, quarantined_at__isnull=True)
        .order_by()
        .values_list(*COUNTED_SIGNAL_FIELDS)
        .iterator(chunk_size=CHUNK)
    ]
    if signals:
        _tally(signals, clusters)
        _count_reporters(signals, clusters)
        _count_buckets(signals, _bucket_starts(signals), clusters, now=now)
    _write_counts(clusters, now=now)


def remove_from_series(signals: Sequence[CountedSignal]) -> None:
    """Take these signals out of their market × policy × language buckets (an emptied
    bucket is deleted)."""
    removed = Counter(
        (signal.market, signal.policy_hint, signal.language, start)
        for signal, start in zip(signals, _bucket_starts(signals), strict=True)
    )
    for (market, policy, language, start), n in sorted(removed.items()):
        bucket = SeriesBucket.objects.filter(
            market=market, policy=policy, language=language, bucket_start=start
        )
        bucket.filter(count__lte=n).delete()
        bucket.update(count=F("count") - n)


def _tally(signals: Sequence[CountedSignal], clusters: dict[int, ClusterCounts]) -> None:
    for signal in signals:
        cluster = clusters[signal.cluster_id]
        received_at = signal.received_at
        if cluster.signal_count == 0 or received_at < cluster.first_seen_at:
            cluster.first_seen_at = received_at
        if cluster.signal_count == 0 or received_at > cluster.last_seen_at:
            cluster.last_seen_at = received_at
        cluster.signal_count += 1
        _add(cluster.sources, signal.source)
        if signal.market:
            _add(cluster.markets, signal.market)
        if signal.language:
            _add(cluster.languages, signal.language)
        if signal.policy_hint:
            _add(cluster.policy_hints, signal.policy_hint)
        if signal.reach_impressions:
            cluster.reach_impressions = min(
                MAX_STORED_COUNT, cluster.reach_impressions + signal.reach_impressions
            )
        if signal.reach_shares:
            cluster.reach_shares = min(MAX_STORED_COUNT, cluster.reach_shares + signal.reach_shares)
        if signal.reach_followers and signal.reach_followers > cluster.max_followers:
            cluster.max_followers = signal.reach_followers


def _add(tally: dict[str, int], value: str) -> None:
    tally[value] = tally.get(value, 0) + 1


def _count_reporters(signals: Sequence[CountedSignal], clusters: dict[int, ClusterCounts]) -> None:
    """Insert every (cluster, reporter) pair, skipping the known ones: the rows that come
    back are the new reporters. (Reading the known pairs first made SQLite probe the
    unique index for every cluster × reporter combination of the batch.)"""
    pairs = sorted({(signal.cluster_id, signal.reporter) for signal in signals if signal.reporter})
    for (cluster_id,) in storage.insert_returning(
        ClusterReporter,
        ["cluster", "reporter"],
        pairs,
        returning=["cluster"],
        ignore_conflicts=True,
    ):
        clusters[cluster_id].reporter_count += 1


def _bucket_starts(signals: Sequence[CountedSignal]) -> list[datetime]:
    """The bucket of each signal; the signals of a batch share a few minutes, so each
    minute's bucket is worked out once."""
    by_minute: dict[tuple[Any, ...], datetime] = {}
    starts = []
    for signal in signals:
        moment = signal.received_at
        minute = (moment.tzinfo, moment.year, moment.month, moment.day, moment.hour, moment.minute)
        start = by_minute.get(minute)
        if start is None:
            start = by_minute[minute] = bucket_start(moment)
        starts.append(start)
    return starts


def _count_buckets(
    signals: Sequence[CountedSignal],
    starts: Sequence[datetime],
    clusters: dict[int, ClusterCounts],
    *,
    now: datetime,
) -> None:
    added: dict[tuple[int, datetime], int] = {}
    for signal, start in zip(signals, starts, strict=True):
        key = (signal.cluster_id, start)
        added[key] = added.get(key, 0) + 1
    storage.add_to_counts(
        ClusterBucket,
        ["cluster", "bucket_start"],
        "count",
        [(cluster_id, start, n) for (cluster_id, start), n in sorted(added.items())],
    )
    cluster_ids = sorted({cluster_id for cluster_id, _ in added})
    figures = velocities(cluster_ids, now=now)
    for cluster_id in cluster_ids:
        cluster = clusters[cluster_id]
        cluster.velocity_5m, cluster.velocity_1h, cluster.velocity_24h = figures.get(
            cluster_id, (0, 0, 0)
        )


def velocities(cluster_ids: Sequence[int], *, now: datetime) -> dict[int, tuple[int, int, int]]:
    """{cluster id: (signals in the last 5 minutes, hour, 24 hours)} at ``now``, from the
    buckets; clusters with none in the last day are left out."""
    end = bucket_start(now) + BUCKET
    figures: dict[int, tuple[int, int, int]] = {}
    for chunk in in_chunks(cluster_ids):
        # The velocity names are computed here, so the checker cannot know the rows' keys.
        rows: Iterable[Mapping[str, Any]] = (
            ClusterBucket.objects.filter(
                cluster_id__in=chunk,
                bucket_start__gte=end - VELOCITY_WINDOWS["velocity_24h"],
                bucket_start__lt=end,
            )
            .order_by()
            .values("cluster_id")
            .annotate(
                **{
                    name: Sum("count", filter=Q(bucket_start__gte=end - window))
                    for name, window in VELOCITY_WINDOWS.items()
                }
            )
        )
        for row in rows:
            figures[row["cluster_id"]] = (
                row["velocity_5m"] or 0,
                row["velocity_1h"] or 0,
                row["velocity_24h"] or 0,
            )
    return figures


def _count_series(signals: Sequence[CountedSignal], starts: Sequence[datetime]) -> list[SeriesKey]:
    added: dict[tuple[str, str, str, datetime], int] = {}
    for signal, start in zip(signals, starts, strict=True):
        key = (signal.market, signal.policy_hint, signal.language, start)
        added[key] = added.get(key, 0) + 1
    storage.add_to_counts(
        SeriesBucket,
        ["market", "policy", "language", "bucket_start"],
        "count",
        [(*key, n) for key, n in sorted(added.items())],
    )
    return sorted({key[:3] for key in added})


def record_relations(relations: Counter[tuple[int, int, str]]) -> None:
    """Add to the number of signals linking each pair of clusters by a key kind."""
    storage.add_to_counts(
        ClusterRelation,
        ["cluster", "related", "key_kind"],
        "signal_count",
        [(*key, n) for key, n in sorted(relations.items())],
    )
