"""The surge detector run over a stream of signals in memory, on the signals' own time.

``SurgeStream`` counts each signal into its series (the market, the market × policy,
the market × language, and its cluster), and at each check raises and ends alerts with
``surge.detect_surge`` and ``surge.has_quieted``, exactly as the reactions do over the
database. It holds nothing but counts, so a backtest of 40,000 signals takes seconds:
``watchfloor surges backtest`` and ``bench/early_warning.py`` use it.

Alerts of one market that are open at the same time form one **market alert** ("CR: 3
series rising, led by CR × es"): it opens with the market's first series alert and ends
when the last one has ended. That is what an analyst is told about, so it is also the
unit the backtest measures (delay, alerts before onset, duration).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from watchfloor.signals.surge import (
    CLUSTER_CONFIG,
    DEFAULT_CONFIG,
    SEASONAL_PRESENCE,
    WEEK,
    Surge,
    SurgeConfig,
    detect_surge,
    has_quieted,
    seasonal_rate,
    seasonal_samples,
)

__all__ = ["MarketAlert", "SeriesAlert", "SeriesId", "SurgeStream"]

ALL = "*"  # a series over every policy or every language of its market
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class SeriesId:
    """One series: ``cluster`` set for a cluster, else a market (``policy`` and
    ``language`` are ``*`` where the series covers them all)."""

    market: str
    policy: str = ALL
    language: str = ALL
    cluster: int | None = None

    @property
    def kind(self) -> str:
        if self.cluster is not None:
            return "cluster"
        if self.policy == ALL and self.language == ALL:
            return "market"
        return "market × policy" if self.language == ALL else "market × language"

    @property
    def label(self) -> str:
        market = self.market or "no market"
        if self.cluster is not None:
            return f"{market} cluster {self.cluster}"
        parts = [market]
        if self.policy != ALL:
            parts.append(self.policy or "no policy")
        if self.language != ALL:
            parts.append(self.language or "language unknown")
        return " × ".join(parts)


def series_of(market: str, policy: str, language: str, cluster: int | None) -> list[SeriesId]:
    """The series a signal counts in."""
    found = [
        SeriesId(market),
        SeriesId(market, policy=policy),
        SeriesId(market, language=language),
    ]
    if cluster is not None:
        found.append(SeriesId(market, cluster=cluster))
    return found


def series_containing(market: str, policy: str, language: str) -> list[tuple[str, str, str]]:
    """The market series a market × policy × language bucket counts in."""
    return [(market, ALL, ALL), (market, policy, ALL), (market, ALL, language)]


def series_keys_for(touched: Iterable[Sequence[str]]) -> list[tuple[str, str, str]]:
    """The market series to check after buckets of these market × policy × language
    triples changed, sorted."""
    return sorted({key for triple in touched for key in series_containing(*triple)})


@dataclass
class SeriesAlert:
    series: SeriesId
    surge: Surge
    raised_at: datetime
    ended_at: datetime | None = None

    @property
    def explanation(self) -> str:
        return f"{self.series.label}: {self.surge.explanation}"


@dataclass
class MarketAlert:
    market: str
    raised_at: datetime
    alerts: list[SeriesAlert] = field(default_factory=list)
    ended_at: datetime | None = None

    @property
    def lead(self) -> SeriesAlert:
        """The series alert with the highest ratio (the market series on a tie)."""
        return max(self.alerts, key=lambda a: (a.surge.ratio, a.series.kind == "market"))

    @property
    def first(self) -> SeriesAlert:
        return self.alerts[0]

    @property
    def explanation(self) -> str:
        series = {alert.series for alert in self.alerts}
        lead = self.lead
        if len(series) == 1:
            return lead.explanation
        return (
            f"{self.market or 'no market'}: {len(series)} series rising, led by "
            f"{lead.series.label} ({lead.surge.explanation})"
        )


class _Counts:
    """Counts per bucket of one series (by bucket number since the epoch)."""

    __slots__ = ("buckets", "first")

    def __init__(self, first: int) -> None:
        self.buckets: dict[int, int] = {}
        self.first = first


class SurgeStream:
    """Counts and alerts of many series, checked on the signals' time."""

    def __init__(
        self, *, config: SurgeConfig = DEFAULT_CONFIG, cluster_config: SurgeConfig = CLUSTER_CONFIG
    ) -> None:
        if config.bucket != cluster_config.bucket:
            raise ValueError("the cluster and market configurations must share a bucket width")
        self.config = config
        self.cluster_config = cluster_config
        self._bucket_seconds = int(config.bucket.total_seconds())
        self._counts: dict[SeriesId, _Counts] = {}
        self._touched: set[SeriesId] = set()
        self._cluster_markets: dict[int, Counter[str]] = defaultdict(Counter)
        self.open: dict[SeriesId, SeriesAlert] = {}
        self.open_markets: dict[str, MarketAlert] = {}
        self.series_alerts: list[SeriesAlert] = []
        self.market_alerts: list[MarketAlert] = []

    def _bucket(self, moment: datetime) -> int:
        return int((moment - _EPOCH).total_seconds()) // self._bucket_seconds

    def add(
        self,
        at: datetime,
        *,
        market: str = "",
        policy: str = "",
        language: str = "",
        cluster: int | None = None,
    ) -> None:
        """Count one signal received at ``at``."""
        number = self._bucket(at)
        if cluster is not None:
            self._cluster_markets[cluster][market] += 1
        for series in series_of(market, policy, language, cluster):
            counts = self._counts.get(series)
            if counts is None:
                counts = self._counts[series] = _Counts(number)
            counts.buckets[number] = counts.buckets.get(number, 0) + 1
            self._touched.add(series)

    def _config(self, series: SeriesId) -> SurgeConfig:
        return self.cluster_config if series.cluster is not None else self.config

    def _dense(self, series: SeriesId, current: int, config: SurgeConfig) -> list[int]:
        buckets = self._counts[series].buckets
        first = current - config.total_buckets + 1
        return [buckets.get(number, 0) for number in range(first, current + 1)]

    def _seasonal(self, series: SeriesId, current: int, config: SurgeConfig) -> Fraction | None:
        counts = self._counts[series]
        per_week = WEEK // config.bucket
        per_day = SEASONAL_PRESENCE // config.bucket
        if current - counts.first < config.seasonal_min_weeks * per_week - per_day:
            return None  # too young to have been running in enough earlier weeks
        buckets = counts.buckets
        points: list[tuple[datetime, int]] = []
        for weeks in range(1, config.seasonal_weeks + 1):
            day_end = current + 1 - weeks * per_week  # exclusive
            points.extend(
                (_EPOCH + n * config.bucket, buckets[n])
                for n in range(day_end - per_day, day_end)
                if n in buckets
            )
        if not points:
            return None
        end = _EPOCH + (current + 1) * config.bucket
        return seasonal_rate(seasonal_samples(points, end=end, config=config), config)

    def check(self, now: datetime) -> tuple[list[SeriesAlert], list[SeriesAlert]]:
        """Raise alerts on the series touched since the last check and end the open ones
        that have quietened, at ``now`` (the current bucket counted in full, as the
        reactions do). Returns (raised, ended)."""
        current = self._bucket(now)
        end = _EPOCH + (current + 1) * self.config.bucket
        raised: list[SeriesAlert] = []
        ended: list[SeriesAlert] = []
        for series, alert in list(self.open.items()):
            config = self._config(series)
            counts = self._dense(series, current, config)
            if has_quieted(
                counts,
                expected_per_hour=alert.surge.baseline_rate,
                open_for=now - alert.raised_at,
                config=config,
            ):
                alert.ended_at = now
                del self.open[series]
                ended.append(alert)
        for series in sorted(self._touched, key=_check_order):
            if series in self.open:
                continue
            config = self._config(series)
            counts = self._dense(series, current, config)
            surge = detect_surge(
                counts,
                end=end,
                config=config,
                seasonal_per_hour=self._seasonal(series, current, config),
            )
            if surge is not None:
                alert = SeriesAlert(series=series, surge=surge, raised_at=now)
                self.open[series] = alert
                self.series_alerts.append(alert)
                raised.append(alert)
        self._touched.clear()
        self._merge(raised, ended, now)
        return raised, ended

    def _market_of(self, series: SeriesId) -> str:
        if series.cluster is None:
            return series.market
        return self._cluster_markets[series.cluster].most_common(1)[0][0]

    def _merge(self, raised: list[SeriesAlert], ended: list[SeriesAlert], now: datetime) -> None:
        for alert in raised:
            market = self._market_of(alert.series)
            merged = self.open_markets.get(market)
            if merged is None:
                merged = self.open_markets[market] = MarketAlert(market=market, raised_at=now)
                self.market_alerts.append(merged)
            merged.alerts.append(alert)
        if ended:
            still_open = {self._market_of(series) for series in self.open}
            for market in list(self.open_markets):
                if market not in still_open:
                    self.open_markets.pop(market).ended_at = now

    def run(
        self,
        signals: Iterable[tuple[datetime, str, str, str, int | None]],
        *,
        step: timedelta = timedelta(minutes=1),
        until: datetime | None = None,
    ) -> None:
        """Feed ``(received_at, market, policy, language, cluster)`` in time order,
        checking at the last signal of each ``step`` (a live intake's batch), and every
        bucket in between while alerts are open (the periodic check)."""
        last: datetime | None = None
        batch_end: datetime | None = None
        for at, market, policy, language, cluster in signals:
            if batch_end is not None and last is not None and at >= batch_end:
                self.check(last)
                self._quiet_checks(last, at)
                batch_end = None
            if batch_end is None:
                batch_end = at + step
            self.add(at, market=market, policy=policy, language=language, cluster=cluster)
            last = at
        if last is not None:
            self.check(last)
            self._quiet_checks(last, until or last + self.config.quiet + self.config.end_window)

    def _quiet_checks(self, since: datetime, until: datetime) -> None:
        tick = since + self.config.bucket
        while tick < until and self.open:
            self.check(tick)
            tick += self.config.bucket


def _check_order(series: SeriesId) -> tuple[int, SeriesId]:
    # Markets first, so a market alert is led by its own series when they rise together.
    return ({"market": 0, "market × language": 1, "market × policy": 2}.get(series.kind, 3), series)
