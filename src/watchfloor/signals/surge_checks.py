"""Surge checks: raising and ending surge alerts from the 5-minute buckets.

The surge lifecycle, per subject (a cluster, or a market × policy × language series):

1. **Raised** when ``surge.detect_surge`` finds one in the subject's 5-minute buckets
   at the current time (``core.clock``; a replay runs on simulated time) and no alert
   is open for it: one open alert per subject, however many batches follow.
2. **Open** while the subject keeps surging. Its numbers are those it was raised with:
   what surged, by how much, since when, against which baseline.
3. **Ended** when the rate has fallen back: the detector no longer finds a surge *and*
   the last 15 minutes run below ``factor`` × the baseline the alert was raised against
   (the second test keeps a long surge open after its own volume has lifted the median
   baseline). Open alerts are re-checked on every batch, touched or not, and by
   ``watchfloor surges check`` when no signals arrive at all.

``signals.reactions`` runs these checks after each batch and in the periodic pass; each
alert raised or ended is its own transaction (``services.raise_surge_alert``,
``services.end_surge_alert``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING

from django.db.models import Q

from watchfloor.signals import services
from watchfloor.signals.counting import SeriesKey
from watchfloor.signals.models import Cluster, ClusterBucket, SeriesBucket, SurgeAlert
from watchfloor.signals.selectors import bucket_end, surge_config
from watchfloor.signals.surge import (
    SEASONAL_PRESENCE,
    WEEK,
    SurgeConfig,
    dense_counts,
    detect_surge,
    has_quieted,
    seasonal_rate,
    seasonal_samples,
    window_count,
)
from watchfloor.signals.surge_stream import series_containing

if TYPE_CHECKING:
    from watchfloor.signals.reactions import ReactionReport


def _cluster_counts(
    cluster_ids: list[int], *, end: datetime, config: SurgeConfig
) -> dict[int, list[int]]:
    start = end - config.total_buckets * config.bucket
    points: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for cluster_id, bucket_start, count in ClusterBucket.objects.filter(
        cluster_id__in=cluster_ids, bucket_start__gte=start, bucket_start__lt=end
    ).values_list("cluster_id", "bucket_start", "count"):
        points[cluster_id].append((bucket_start, count))
    return {pk: dense_counts(points[pk], end=end, config=config) for pk in cluster_ids}


def _series_counts(
    keys: list[SeriesKey], *, end: datetime, config: SurgeConfig
) -> tuple[dict[SeriesKey, list[int]], dict[SeriesKey, Fraction | None]]:
    """The recent counts of these series (``*`` for every policy or language of the
    market), summed from the market × policy × language buckets, and their seasonal rate
    (the same hour in previous weeks, where the series is old enough)."""
    wanted = set(keys)
    markets = {key[0] for key in keys}
    start = end - config.total_buckets * config.bucket
    points: dict[SeriesKey, list[tuple[datetime, int]]] = defaultdict(list)
    rows = SeriesBucket.objects.filter(
        market__in=markets, bucket_start__gte=start, bucket_start__lt=end
    ).values_list("market", "policy", "language", "bucket_start", "count")
    for market, policy, language, bucket_start, count in rows:
        for key in series_containing(market, policy, language):
            if key in wanted:
                points[key].append((bucket_start, count))
    counts = {key: dense_counts(points[key], end=end, config=config) for key in keys}
    return counts, _seasonal_rates(keys, markets, end=end, config=config)


def _seasonal_rates(
    keys: list[SeriesKey], markets: set[str], *, end: datetime, config: SurgeConfig
) -> dict[SeriesKey, Fraction | None]:
    """Per series, the median of the same hour in the previous weeks: a week counts if
    the series had signals in the day up to that hour (``surge.seasonal_samples``). One
    query over at most ``seasonal_weeks`` days of buckets."""
    days = [end - weeks * WEEK for weeks in range(1, config.seasonal_weeks + 1)]
    in_days = Q()
    for day_end in days:
        in_days |= Q(bucket_start__gte=day_end - SEASONAL_PRESENCE, bucket_start__lt=day_end)
    points: dict[SeriesKey, list[tuple[datetime, int]]] = defaultdict(list)
    wanted = set(keys)
    for market, policy, language, bucket_start, count in SeriesBucket.objects.filter(
        in_days, market__in=markets
    ).values_list("market", "policy", "language", "bucket_start", "count"):
        for key in series_containing(market, policy, language):
            if key in wanted:
                points[key].append((bucket_start, count))
    return {
        key: seasonal_rate(seasonal_samples(points.get(key, ()), end=end, config=config), config)
        for key in keys
    }


def _window(counts: list[int], config: SurgeConfig) -> tuple[int, float]:
    """(signals in the end window, their rate per hour)."""
    count = window_count(counts, config)
    return count, count / (config.end_window / timedelta(hours=1))


def _has_fallen_back(
    counts: list[int], alert: SurgeAlert, *, now: datetime, config: SurgeConfig
) -> bool:
    """The hysteresis of ``surge.has_quieted``, against the expected rate the alert was
    raised with (a long surge cannot lift its own baseline and end itself)."""
    return has_quieted(
        counts, expected_per_hour=alert.baseline_rate, open_for=now - alert.raised_at, config=config
    )


def check_clusters(cluster_ids: list[int], *, now: datetime, report: ReactionReport) -> None:
    """For each of these clusters: raise an alert if it surges now and has none open,
    or end its open alert once the rate has fallen back."""
    if not cluster_ids:
        return
    config = surge_config("cluster")
    end = bucket_end(now, config.bucket)
    counts = _cluster_counts(cluster_ids, end=end, config=config)
    open_alerts = {
        alert.cluster_id: alert
        for alert in SurgeAlert.objects.filter(
            subject=SurgeAlert.Subject.CLUSTER, cluster_id__in=cluster_ids, ended_at__isnull=True
        )
    }
    # Only the link to an escalation is needed here (for the alert's audit event).
    escalation_of = dict(
        Cluster.objects.filter(pk__in=cluster_ids).values_list("pk", "escalation_id")
    )
    for pk in cluster_ids:
        if pk not in escalation_of:
            continue
        alert = open_alerts.get(pk)
        if alert is not None:
            if _has_fallen_back(counts[pk], alert, now=now, config=config):
                count, rate = _window(counts[pk], config)
                report.ended.append(
                    services.end_surge_alert(
                        alert=alert,
                        current_rate=rate,
                        window_count=count,
                        escalation_id=escalation_of[pk],
                    )
                )
            continue
        surge = detect_surge(counts[pk], end=end, config=config)
        if surge is not None:
            raised = services.raise_surge_alert(
                surge=surge, cluster_id=pk, escalation_id=escalation_of[pk]
            )
            if raised is not None:
                report.raised.append(raised)


def check_series(keys: list[SeriesKey], *, now: datetime, report: ReactionReport) -> None:
    """For each of these series: raise an alert if it surges now and has none open, or
    end its open alert once the rate has fallen back."""
    if not keys:
        return
    config = surge_config("series")
    end = bucket_end(now, config.bucket)
    counts, seasonal = _series_counts(keys, end=end, config=config)
    open_alerts = open_series_alerts(keys)
    for key in keys:
        alert = open_alerts.get(key)
        if alert is not None:
            if _has_fallen_back(counts[key], alert, now=now, config=config):
                count, rate = _window(counts[key], config)
                report.ended.append(
                    services.end_surge_alert(alert=alert, current_rate=rate, window_count=count)
                )
            continue
        surge = detect_surge(counts[key], end=end, config=config, seasonal_per_hour=seasonal[key])
        if surge is not None:
            raised = services.raise_surge_alert(surge=surge, series=key)
            if raised is not None:
                report.raised.append(raised)


def open_series_alerts(keys: Iterable[SeriesKey]) -> dict[SeriesKey, SurgeAlert]:
    """The open alert of each of these series that has one."""
    wanted = set(keys)
    alerts = SurgeAlert.objects.filter(subject=SurgeAlert.Subject.SERIES, ended_at__isnull=True)
    if wanted:
        alerts = alerts.filter(market__in={k[0] for k in wanted})
    return {
        (a.market, a.policy, a.language): a
        for a in alerts
        if (a.market, a.policy, a.language) in wanted
    }


def end_fallen_alerts(
    *,
    now: datetime,
    skip_clusters: set[int],
    skip_series: set[SeriesKey],
    report: ReactionReport,
) -> None:
    """Alerts on subjects that received nothing in this batch can end too: quiet is
    exactly how a surge ends."""
    open_alerts = list(SurgeAlert.objects.filter(ended_at__isnull=True).select_related("cluster"))
    cluster_alerts = [
        a
        for a in open_alerts
        if a.subject == SurgeAlert.Subject.CLUSTER and a.cluster_id not in skip_clusters
    ]
    series_alerts = [
        a
        for a in open_alerts
        if a.subject == SurgeAlert.Subject.SERIES
        and (a.market, a.policy, a.language) not in skip_series
    ]
    if cluster_alerts:
        config = surge_config("cluster")
        end = bucket_end(now, config.bucket)
        counts = _cluster_counts(
            [a.cluster_id for a in cluster_alerts if a.cluster_id is not None],
            end=end,
            config=config,
        )
        for alert in cluster_alerts:
            cluster = alert.cluster
            if cluster is None:  # pragma: no cover - a cluster's alert has its cluster
                continue
            if _has_fallen_back(counts[cluster.pk], alert, now=now, config=config):
                count, rate = _window(counts[cluster.pk], config)
                report.ended.append(
                    services.end_surge_alert(
                        alert=alert,
                        current_rate=rate,
                        window_count=count,
                        escalation_id=cluster.escalation_id,
                    )
                )
    if series_alerts:
        config = surge_config("series")
        end = bucket_end(now, config.bucket)
        keys = [(a.market, a.policy, a.language) for a in series_alerts]
        by_series, _ = _series_counts(keys, end=end, config=config)
        for alert, key in zip(series_alerts, keys, strict=True):
            if _has_fallen_back(by_series[key], alert, now=now, config=config):
                count, rate = _window(by_series[key], config)
                report.ended.append(
                    services.end_surge_alert(alert=alert, current_rate=rate, window_count=count)
                )
