"""Clusters, signals and buckets built directly, counted the way intake counts them.

The tests of surges, rules, views and exports need stored clusters without going through
the intake pipeline; these helpers write the same rows (a signal, its cluster's tallies,
its cluster bucket and its market × policy × language bucket) so what the reactions and
pages read looks like the real thing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import F

from watchfloor.core import clock
from watchfloor.signals.models import (
    Cluster,
    ClusterBucket,
    ClusterRelation,
    KeyKind,
    SeriesBucket,
    Signal,
)
from watchfloor.signals.selectors import bucket_floor

_ids = itertools.count(1)


def make_cluster(**fields) -> Cluster:
    now = clock.now()
    values = {
        "first_seen_at": now,
        "last_seen_at": now,
        "updated_at": now,
        "subject_kind": "post",
        "subject_ref": f"post:{next(_ids)}",
        "origin_key": KeyKind.NEW,
    }
    values.update(fields)
    return Cluster.objects.create(**values)


def add_signals(
    cluster: Cluster,
    *,
    at: datetime | Sequence[datetime],
    count: int = 1,
    source: str = "user_report",
    market: str = "JP",
    language: str = "ja",
    policy_hint: str = "scams_fraud",
    text: str = "台風の義援金を装った詐欺アカウントです。",
    url: str = "",
    impressions: int | None = None,
    producer: str = "tests",
    attributes: dict | None = None,
    matched_by: str = KeyKind.SUBJECT,
) -> list[Signal]:
    """``count`` signals at each time in ``at`` (or at the one time), counted like intake:
    the cluster's first signal started it, the others joined by ``matched_by``."""
    times = [at] if isinstance(at, datetime) else list(at)
    first = not Signal.objects.filter(cluster=cluster).exists()
    created = []
    for moment in times:
        for _ in range(count):
            number = next(_ids)
            created.append(
                Signal(
                    producer=producer,
                    external_id=f"sig-{number}",
                    received_at=moment,
                    ingested_at=clock.now(),
                    source=source,
                    subject_kind=cluster.subject_kind or "post",
                    subject_ref=cluster.subject_ref or f"post:{number}",
                    text=text,
                    url=url,
                    market=market,
                    language=language,
                    policy_hint=policy_hint,
                    reach_impressions=impressions,
                    reporter=f"user:{number}",
                    attributes=attributes or {},
                    cluster=cluster,
                    matched_by=KeyKind.NEW if first and not created else matched_by,
                )
            )
    Signal.objects.bulk_create(created)
    _count(cluster, created)
    return created


def _count(cluster: Cluster, signals: Iterable[Signal]) -> None:
    signals = list(signals)
    cluster.refresh_from_db()
    per_bucket: Counter[datetime] = Counter()
    per_series: Counter[tuple[str, str, str, datetime]] = Counter()
    for signal in signals:
        start = bucket_floor(signal.received_at)
        per_bucket[start] += 1
        per_series[(signal.market, signal.policy_hint, signal.language, start)] += 1
        for tally, value in (
            (cluster.sources, signal.source),
            (cluster.markets, signal.market),
            (cluster.languages, signal.language),
            (cluster.policy_hints, signal.policy_hint),
        ):
            if value:
                tally[value] = tally.get(value, 0) + 1
        cluster.signal_count += 1
        cluster.reporter_count += 1
        cluster.reach_impressions += signal.reach_impressions or 0
        cluster.first_seen_at = min(cluster.first_seen_at, signal.received_at)
        cluster.last_seen_at = max(cluster.last_seen_at, signal.received_at)
    for start, count in per_bucket.items():
        bucket, _ = ClusterBucket.objects.get_or_create(cluster=cluster, bucket_start=start)
        ClusterBucket.objects.filter(pk=bucket.pk).update(count=F("count") + count)
    for (market, policy, language, start), count in per_series.items():
        series, _ = SeriesBucket.objects.get_or_create(
            market=market, policy=policy, language=language, bucket_start=start
        )
        SeriesBucket.objects.filter(pk=series.pk).update(count=F("count") + count)
    if cluster.representative_id is None and signals:
        cluster.representative = signals[0]
        cluster.representative_text = signals[0].text
        cluster.representative_url = signals[0].url
    cluster.updated_at = clock.now()
    cluster.save()


def steady_then_burst(
    cluster: Cluster,
    *,
    end: datetime,
    per_bucket: int = 2,
    burst: Sequence[int] = (3, 30, 40),
    hours: int = 6,
    **signal_fields,
) -> None:
    """A steady baseline for ``hours`` before the window, then ``burst`` in its buckets.

    ``end`` is the end of the last bucket (``selectors.bucket_end(now)``).
    """
    bucket = timedelta(minutes=5)
    window_start = end - len(burst) * bucket
    baseline = [window_start - (index + 1) * bucket for index in range(hours * 12)]
    if per_bucket:
        add_signals(cluster, at=baseline, count=per_bucket, **signal_fields)
    for index, count in enumerate(burst):
        if count:
            add_signals(
                cluster,
                at=window_start + index * bucket + timedelta(seconds=30),
                count=count,
                **signal_fields,
            )


def relate(cluster: Cluster, other: Cluster, *, key_kind: str = KeyKind.URL) -> ClusterRelation:
    return ClusterRelation.objects.create(
        cluster=cluster, related=other, key_kind=key_kind, signal_count=1
    )
