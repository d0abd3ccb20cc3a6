"""Surge detection over counts in fixed time buckets: is this rising unusually fast?

The input is a series of counts per bucket (5 minutes by default), oldest first,
the last bucket ending at ``end``: signals of one cluster, or of one market ×
policy × language. ``detect_surge`` compares the **current rate** (the last
``window``, 15 minutes) with the **baseline rate** (the previous
``baseline_window``, 6 hours) and reports a surge when both hold:

* ``current rate ≥ factor × baseline rate`` (3× by default), and
* ``current count ≥ min_count`` (20 signals in the window by default).

The baseline is the **median** bucket count of the baseline window, as a rate,
raised to a **floor** (12 per hour: one per 5-minute bucket). The median is
robust: an earlier spike inside the baseline window does not mask the next one,
and a few quiet buckets do not make every busy one look like a surge. The floor
and ``min_count`` stop a series that starts from zero from alarming on two items:
a brand-new cluster has to reach 20 signals in 15 minutes (80/h, well above 3×
the floor) before it surges. History shorter than the baseline window counts as
zero, which is what it was.

Why not a Poisson tail test or an EWMA. A Poisson test assumes independent
arrivals, but reports about one viral post come in correlated bursts
(overdispersed counts), so at high volume it would call every 20% rise
"significant" and alarm on every busy cluster; at low volume it adds nothing that
``min_count`` does not already do. An EWMA baseline suits streaming, but it
depends on the whole past through weights an analyst cannot check at 3 a.m.;
"the typical 5-minute count over the last 6 hours" is a number they can read off
the chart. Every surge says why in ``Surge.explanation``.

The decision is made in exact rational arithmetic, so it is monotone: scaling
every count by k > 1 never removes a surge, and a flat series never surges (both
are tested as properties).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

__all__ = ["Surge", "SurgeConfig", "dense_counts", "detect_surge", "detect_surges"]

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SurgeConfig:
    """How surges are detected; every field has a default that suits a cluster."""

    bucket: timedelta = timedelta(minutes=5)
    """The width of one count."""
    window: timedelta = timedelta(minutes=15)
    """The recent period whose rate is tested."""
    baseline_window: timedelta = timedelta(hours=6)
    """The period before the window that defines normal."""
    factor: float = 3.0
    """How many times the baseline rate counts as a surge (above 1)."""
    min_count: int = 20
    """The fewest signals in the window that can be a surge."""
    baseline_floor_per_hour: float = 12.0
    """The lowest baseline rate, so that a quiet series needs real volume to surge."""

    window_buckets: int = field(init=False, repr=False)
    baseline_buckets: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bucket <= timedelta(0):
            raise ValueError(f"bucket is {self.bucket}: use a positive duration such as 5 minutes")
        for name in ("window", "baseline_window"):
            value: timedelta = getattr(self, name)
            if value <= timedelta(0) or value % self.bucket:
                raise ValueError(
                    f"{name} is {value}: use a positive whole number of buckets ({self.bucket})"
                )
        if not self.factor > 1:
            raise ValueError(
                f"factor is {self.factor}: use a number above 1 (3 means three times the baseline)"
            )
        if self.min_count < 1:
            raise ValueError(f"min_count is {self.min_count}: use 1 or more")
        if not self.baseline_floor_per_hour > 0:
            raise ValueError(
                f"baseline_floor_per_hour is {self.baseline_floor_per_hour}: use a positive rate, "
                "or a series from zero surges on its first signals"
            )
        object.__setattr__(self, "window_buckets", self.window // self.bucket)
        object.__setattr__(self, "baseline_buckets", self.baseline_window // self.bucket)

    @property
    def total_buckets(self) -> int:
        """How many counts ``detect_surge`` reads: the baseline window, then the window."""
        return self.window_buckets + self.baseline_buckets


DEFAULT_CONFIG = SurgeConfig()


@dataclass(frozen=True)
class Surge:
    """A surge, with every number it rests on."""

    started_at: datetime
    """Start of the first bucket of the window that alone ran at the surge rate
    (the window's start if the rise is spread out)."""
    ratio: float
    """current_rate / baseline_rate."""
    current_rate: float
    """Signals per hour in the window."""
    baseline_rate: float
    """Signals per hour the window is compared with (after the floor)."""
    window: timedelta
    baseline_window: timedelta
    current_count: int
    baseline_median: float
    """The median bucket count of the baseline window."""
    floored: bool
    """Whether the floor, not the median, set the baseline rate."""

    @property
    def explanation(self) -> str:
        baseline = (
            f"the floor of {self.baseline_rate:g}/h (the usual rate, "
            f"{self.baseline_median:g} per bucket over the previous "
            f"{_duration(self.baseline_window)}, is lower)"
            if self.floored
            else f"the usual {self.baseline_rate:.1f}/h (median bucket over the previous "
            f"{_duration(self.baseline_window)})"
        )
        return (
            f"{self.current_count} signals in the last {_duration(self.window)} "
            f"({self.current_rate:.0f}/h): {self.ratio:.1f}× {baseline}"
        )


def detect_surge(
    counts: Sequence[int], *, end: datetime, config: SurgeConfig = DEFAULT_CONFIG
) -> Surge | None:
    """A ``Surge`` if the last ``config.window`` of ``counts`` is one, else None.

    ``counts`` are per bucket, oldest first, the last one for the bucket ending at
    ``end``; only the last ``config.total_buckets`` are read and missing older
    ones count as zero.
    """
    needed = config.total_buckets
    recent = list(counts[-needed:])
    if any(count < 0 for count in recent):
        raise ValueError("counts cannot be negative")
    recent = [0] * (needed - len(recent)) + recent
    baseline_counts = recent[: config.baseline_buckets]
    window_counts = recent[config.baseline_buckets :]

    current_count = sum(window_counts)
    if current_count < config.min_count:
        return None
    buckets_per_hour = Fraction(_HOUR / config.bucket)
    floor_per_bucket = Fraction(config.baseline_floor_per_hour) / buckets_per_hour
    median = _median(baseline_counts)
    baseline_per_bucket = max(median, floor_per_bucket)
    surge_per_bucket = Fraction(config.factor) * baseline_per_bucket
    # current / window ≥ factor × baseline, in counts per bucket, exactly.
    if current_count < surge_per_bucket * config.window_buckets:
        return None

    first = next(
        (index for index, count in enumerate(window_counts) if count >= surge_per_bucket), 0
    )
    window_start = end - config.window
    current_rate = current_count / (config.window / _HOUR)
    baseline_rate = float(baseline_per_bucket * buckets_per_hour)
    return Surge(
        started_at=window_start + first * config.bucket,
        ratio=current_rate / baseline_rate,
        current_rate=current_rate,
        baseline_rate=baseline_rate,
        window=config.window,
        baseline_window=config.baseline_window,
        current_count=current_count,
        baseline_median=float(median),
        floored=median < floor_per_bucket,
    )


def detect_surges(
    series: Mapping[Hashable, Sequence[int]],
    *,
    end: datetime,
    config: SurgeConfig = DEFAULT_CONFIG,
) -> dict[Hashable, Surge]:
    """``detect_surge`` for many series (clusters, or market × policy × language)."""
    surges = {}
    for key, counts in series.items():
        surge = detect_surge(counts, end=end, config=config)
        if surge is not None:
            surges[key] = surge
    return surges


def dense_counts(
    points: Iterable[tuple[datetime, int]],
    *,
    end: datetime,
    config: SurgeConfig = DEFAULT_CONFIG,
) -> list[int]:
    """Counts per bucket for ``detect_surge`` from sparse (time, count) pairs.

    Suits a ``GROUP BY`` over buckets (only non-empty ones come back) as well as
    raw signal times with a count of 1. Buckets end at ``end``; times outside the
    ``config.total_buckets`` before it are ignored. Times must be aware.
    """
    if end.tzinfo is None:
        raise ValueError("end must be an aware datetime (UTC)")
    total = config.total_buckets
    start = end - total * config.bucket
    counts = [0] * total
    for at, count in points:
        if at.tzinfo is None:
            raise ValueError(f"{at} has no time zone: use aware datetimes (UTC)")
        if start <= at < end:
            counts[(at - start) // config.bucket] += count
    return counts


def _median(values: list[int]) -> Fraction:
    if not values:
        return Fraction(0)
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle])
    return Fraction(ordered[middle - 1] + ordered[middle], 2)


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
