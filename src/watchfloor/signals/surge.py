"""Surge detection: is this series rising unusually fast, and has it calmed down since?

A pure module (no database, no clock): it reads counts per 5-minute bucket, oldest
first, the last bucket ending at ``end``. A series is the signals of one cluster, or of
one market (all of it, or one policy or one language of it). The method, with the
reasoning behind every parameter, is in ``docs/signals.md`` ("Surges"); in short:

**Expected rate.** What the series usually does at this time:

* the **seasonal** rate, the median of the same hour of the week over the previous
  weeks, when the series has at least ``seasonal_min_weeks`` of them; else
* the **recent** rate, the median 5-minute count over the ``baseline_window`` (6 hours)
  before the longest window, as a rate;

raised to the series' **volume floor**, ``volume_share`` of its mean rate over that
same baseline window (a sparse series whose median bucket is zero still has a level of
its own), and never below ``floor_per_hour`` (a series from nothing).

**Raise.** Each window (5, 15 and 60 minutes, ending now) is tested on its own:
``observed ≥ raise_ratio × expected`` and ``observed ≥ min_count``. The short window
sees a sudden onset within minutes; the long one sees a slow, steady rise that never
looks sharp over 5 minutes. The surge reported is the window with the highest ratio.

**End (hysteresis).** An open alert ends only when the ``end_window`` count has stayed
below the end level, ``end_ratio / raise_ratio`` of what it took to raise (against the
expectation the alert was raised with, so a long surge cannot lift its own baseline and
end itself), at every bucket of the last ``quiet`` period. A series hovering around the
raise level therefore never flaps: it would have to fall to half of it and stay there for
half an hour.

The decisions are made in exact rational arithmetic, so they are monotone: more signals
in a window never remove a surge, and a flat series never surges (both tested as
properties).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

__all__ = [
    "Expectation",
    "Surge",
    "SurgeConfig",
    "dense_counts",
    "detect_surge",
    "detect_surges",
    "expectation",
    "has_quieted",
    "seasonal_rate",
]

_HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SurgeConfig:
    """How surges are detected; every field has a documented default."""

    bucket: timedelta = timedelta(minutes=5)
    """The width of one count."""
    windows: tuple[timedelta, ...] = (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=60),
    )
    """The recent periods tested, each on its own."""
    baseline_window: timedelta = timedelta(hours=6)
    """The period before the longest window that defines the recent rate."""
    raise_ratio: float = 4.0
    """How many times the expected count raises an alert."""
    min_count: int = 6
    """The fewest signals in a window that can raise an alert."""
    min_rate_per_hour: float = 12.0
    """The lowest rate a window must run at to raise an alert (one signal per bucket)."""
    end_ratio: float = 2.0
    """The alert ends below this many times the expected count (below ``raise_ratio``)."""
    end_window: timedelta = timedelta(minutes=15)
    """The window whose count must stay below the end level."""
    quiet: timedelta = timedelta(minutes=30)
    """How long it must stay there before the alert ends."""
    volume_share: float = 0.5
    """The expected rate is at least this share of the series' mean rate (baseline window)."""
    floor_per_hour: float = 1.0
    """The lowest expected rate, for a series with no history."""
    seasonal_weeks: int = 4
    """How many previous weeks the seasonal rate looks at."""
    seasonal_min_weeks: int = 2
    """How many of them the series must have been seen in for the seasonal rate to apply."""

    window_buckets: tuple[int, ...] = field(init=False, repr=False)
    baseline_buckets: int = field(init=False, repr=False)
    # The settings as exact fractions, worked out once (the detector runs per series).
    exact: dict[str, Fraction] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.bucket <= timedelta(0):
            raise ValueError(f"bucket is {self.bucket}: use a positive duration such as 5 minutes")
        if not self.windows:
            raise ValueError("windows is empty: give at least one window, such as 15 minutes")
        for name, value in [
            *(("windows", window) for window in self.windows),
            ("baseline_window", self.baseline_window),
            ("end_window", self.end_window),
            ("quiet", self.quiet),
        ]:
            if value <= timedelta(0) or value % self.bucket:
                raise ValueError(
                    f"{name} has {value}: use a positive whole number of buckets ({self.bucket})"
                )
        if not self.raise_ratio > 1:
            raise ValueError(
                f"raise_ratio is {self.raise_ratio}: use a number above 1 "
                "(4 means four times the expected count)"
            )
        if not 0 < self.end_ratio < self.raise_ratio:
            raise ValueError(
                f"end_ratio is {self.end_ratio}: use a positive number below raise_ratio "
                f"({self.raise_ratio}), or alerts flap around the threshold"
            )
        if self.min_rate_per_hour < 0:
            raise ValueError(f"min_rate_per_hour is {self.min_rate_per_hour}: use 0 or more")
        if self.min_count < 1:
            raise ValueError(f"min_count is {self.min_count}: use 1 or more")
        if not self.floor_per_hour > 0:
            raise ValueError(
                f"floor_per_hour is {self.floor_per_hour}: use a positive rate, "
                "or a series from zero surges on its first signal"
            )
        if not 0 <= self.volume_share <= 1:
            raise ValueError(f"volume_share is {self.volume_share}: use a share from 0 to 1")
        if not 1 <= self.seasonal_min_weeks <= self.seasonal_weeks:
            raise ValueError(
                f"seasonal_min_weeks is {self.seasonal_min_weeks}: use 1 to seasonal_weeks "
                f"({self.seasonal_weeks})"
            )
        windows = tuple(sorted(set(self.windows)))
        object.__setattr__(self, "windows", windows)
        object.__setattr__(self, "window_buckets", tuple(w // self.bucket for w in windows))
        object.__setattr__(self, "baseline_buckets", self.baseline_window // self.bucket)
        per_hour = Fraction(_HOUR / self.bucket)
        object.__setattr__(
            self,
            "exact",
            {
                "per_hour": per_hour,
                "raise_ratio": Fraction(self.raise_ratio),
                "end_share": Fraction(self.end_ratio) / Fraction(self.raise_ratio),
                "min_count": Fraction(self.min_count),
                "min_per_bucket": Fraction(self.min_rate_per_hour) / per_hour,
                "floor_per_bucket": Fraction(self.floor_per_hour) / per_hour,
                "volume_share": Fraction(self.volume_share),
            },
        )

    @property
    def window(self) -> timedelta:
        """The longest window."""
        return self.windows[-1]

    @property
    def total_buckets(self) -> int:
        """How many counts the detector reads: the baseline window, then the longest
        window, and the quiet period's worth of end windows before now."""
        ending = (self.quiet + self.end_window) // self.bucket
        return max(self.baseline_buckets + self.window_buckets[-1], ending)

    @property
    def per_hour(self) -> Fraction:
        return self.exact["per_hour"]


DEFAULT_CONFIG = SurgeConfig()
# A cluster is the signals about one item: it needs more than a market to count as a
# surge (a handful of retweets in five minutes is not yet news), see docs/signals.md.
CLUSTER_CONFIG = SurgeConfig(min_count=10)


@dataclass(frozen=True)
class Expectation:
    """The expected rate of a series, and where it comes from."""

    per_bucket: Fraction
    basis: str
    """``seasonal``, ``recent``, ``volume`` (the series' own mean) or ``floor``."""
    recent_median: Fraction
    """The median bucket count of the baseline window."""

    @property
    def floored(self) -> bool:
        return self.basis in ("volume", "floor")


@dataclass(frozen=True)
class Surge:
    """A surge, with every number it rests on."""

    started_at: datetime
    """Start of the first bucket of the window that alone ran at the raise rate
    (the window's start if the rise is spread out)."""
    ratio: float
    """observed / expected in the window."""
    current_rate: float
    """Signals per hour in the window."""
    baseline_rate: float
    """The expected signals per hour."""
    window: timedelta
    """The window that surged (of those tested, the one with the highest ratio)."""
    baseline_window: timedelta
    current_count: int
    """Signals observed in the window."""
    expected_count: float
    """Signals expected in the window."""
    basis: str
    """Where the expectation comes from (see ``Expectation.basis``)."""
    baseline_median: float
    """The median bucket count of the baseline window."""

    @property
    def floored(self) -> bool:
        return self.basis in ("volume", "floor")

    @property
    def explanation(self) -> str:
        return (
            f"{self.current_count} signals in the last {_duration(self.window)} against "
            f"{self.expected_count:.1f} expected ({_basis_words(self.basis, self)}): "
            f"{self.ratio:.1f}×"
        )


def _basis_words(basis: str, surge: Surge) -> str:
    rate = f"{surge.baseline_rate:.1f}/h"
    return {
        "seasonal": f"{rate}, the median of this hour in previous weeks",
        "recent": f"{rate}, the median 5-minute count over the previous "
        f"{_duration(surge.baseline_window)}",
        "volume": f"{rate}, half the series' mean over the previous "
        f"{_duration(surge.baseline_window)}",
        "floor": f"{rate}, the floor for a series with little history",
    }[basis]


def seasonal_rate(
    same_hour_counts: Sequence[int | None], config: SurgeConfig = DEFAULT_CONFIG
) -> Fraction | None:
    """The seasonal rate per hour: the median of the counts of the same hour of the week,
    one per previous week (most recent first; None where the series did not exist yet).
    None when fewer than ``config.seasonal_min_weeks`` weeks are known."""
    known = [count for count in same_hour_counts[: config.seasonal_weeks] if count is not None]
    if len(known) < config.seasonal_min_weeks:
        return None
    return _median(known)


SEASONAL_PRESENCE = timedelta(days=1)


def seasonal_samples(
    points: Iterable[tuple[datetime, int]], *, end: datetime, config: SurgeConfig = DEFAULT_CONFIG
) -> list[int | None]:
    """For ``seasonal_rate``: per previous week (most recent first), the signals in the
    hour ending ``end`` minus that many weeks, or None if the series had no signal in the
    day up to then (it did not exist yet, or was not running: unknown, not zero).
    ``points`` are (bucket start, count) pairs covering at least those days."""
    samples: list[int | None] = []
    totals = [[0, 0] for _ in range(config.seasonal_weeks)]  # [hour, day] per week
    day_ends = [end - weeks * WEEK for weeks in range(1, config.seasonal_weeks + 1)]
    for at, count in points:
        for week, day_end in enumerate(day_ends):
            if day_end - SEASONAL_PRESENCE <= at < day_end:
                totals[week][1] += count
                if at >= day_end - _HOUR:
                    totals[week][0] += count
    for hour, day in totals:
        samples.append(hour if day else None)
    return samples


def expectation(
    counts: Sequence[int],
    *,
    config: SurgeConfig = DEFAULT_CONFIG,
    seasonal_per_hour: Fraction | float | None = None,
) -> Expectation:
    """The expected count per bucket, from the baseline window of ``counts`` (the
    ``config.baseline_buckets`` before the longest window)."""
    recent = _padded(counts, config)
    longest = config.window_buckets[-1]
    baseline = recent[-(config.baseline_buckets + longest) : -longest]
    median = _median(baseline)
    per_hour = config.per_hour
    candidates = [
        (config.exact["floor_per_bucket"], "floor"),
        (config.exact["volume_share"] * Fraction(sum(baseline), len(baseline)), "volume"),
    ]
    if seasonal_per_hour is not None:
        candidates.append((Fraction(seasonal_per_hour) / per_hour, "seasonal"))
    else:
        candidates.append((median, "recent"))
    # Ties go to the named baseline before the floors: the explanation should name the
    # series' own figure where it is as high.
    value, basis = max(candidates, key=lambda c: (c[0], c[1] in ("seasonal", "recent")))
    return Expectation(per_bucket=value, basis=basis, recent_median=median)


def raise_level(window_buckets: int, per_bucket: Fraction, config: SurgeConfig) -> Fraction:
    """The count a window of this many buckets must reach to raise an alert."""
    return max(
        config.exact["raise_ratio"] * per_bucket * window_buckets,
        config.exact["min_count"],
        config.exact["min_per_bucket"] * window_buckets,
    )


def end_level(per_bucket: Fraction, config: SurgeConfig) -> Fraction:
    """The ``end_window`` count an open alert must stay below to end."""
    buckets = config.end_window // config.bucket
    return raise_level(buckets, per_bucket, config) * config.exact["end_share"]


def detect_surge(
    counts: Sequence[int],
    *,
    end: datetime,
    config: SurgeConfig = DEFAULT_CONFIG,
    seasonal_per_hour: Fraction | float | None = None,
) -> Surge | None:
    """A ``Surge`` if one of ``config.windows`` ending at ``end`` is one, else None.

    ``counts`` are per bucket, oldest first, the last one for the bucket ending at
    ``end``; only the last ``config.total_buckets`` are read and missing older ones
    count as zero. ``seasonal_per_hour`` is the series' rate at this hour of the week
    (``seasonal_rate``), when its history allows.
    """
    recent = _padded(counts, config)
    if sum(recent[-config.window_buckets[-1] :]) < config.min_count:
        return None  # every window is within the longest, and no level is below min_count
    expected = expectation(recent, config=config, seasonal_per_hour=seasonal_per_hour)
    end_buckets = config.end_window // config.bucket
    # A window longer than the end window can still hold a burst of an hour ago; it is
    # not raised once the end window has fallen below the end level (it would end at once).
    still_rising = sum(recent[-end_buckets:]) >= end_level(expected.per_bucket, config)
    best: tuple[Fraction, int, int] | None = None  # (ratio, window buckets, observed)
    for buckets in config.window_buckets:
        if buckets > end_buckets and not still_rising:
            continue
        observed = sum(recent[-buckets:])
        if observed < raise_level(buckets, expected.per_bucket, config):
            continue
        ratio = Fraction(observed) / (expected.per_bucket * buckets)
        if best is None or ratio > best[0]:
            best = (ratio, buckets, observed)
    if best is None:
        return None
    ratio, buckets, observed = best
    window = buckets * config.bucket
    per_bucket_rise = config.exact["raise_ratio"] * expected.per_bucket
    window_counts = recent[-buckets:]
    first = next((i for i, count in enumerate(window_counts) if count >= per_bucket_rise), 0)
    return Surge(
        started_at=end - window + first * config.bucket,
        ratio=float(ratio),
        current_rate=observed / (window / _HOUR),
        baseline_rate=float(expected.per_bucket * config.per_hour),
        window=window,
        baseline_window=config.baseline_window,
        current_count=observed,
        expected_count=float(expected.per_bucket * buckets),
        basis=expected.basis,
        baseline_median=float(expected.recent_median),
    )


def has_quieted(
    counts: Sequence[int],
    *,
    expected_per_hour: float,
    open_for: timedelta,
    config: SurgeConfig = DEFAULT_CONFIG,
) -> bool:
    """Whether an alert raised against ``expected_per_hour``, ``open_for`` ago, may end:
    it has been open for ``config.quiet`` at least, and the ``config.end_window`` count
    has stayed below the end level at every bucket of the last ``config.quiet`` period
    (``counts`` as for ``detect_surge``)."""
    if open_for < config.quiet:
        return False
    recent = _padded(counts, config)
    level = end_level(Fraction(expected_per_hour) / config.per_hour, config)
    window = config.end_window // config.bucket
    for back in range(config.quiet // config.bucket):
        upto = len(recent) - back
        if sum(recent[upto - window : upto]) >= level:
            return False
    return True


def window_count(counts: Sequence[int], config: SurgeConfig = DEFAULT_CONFIG) -> int:
    """The signals in the ``end_window`` ending now."""
    return sum(counts[-(config.end_window // config.bucket) :])


def detect_surges(
    series: Mapping[Hashable, Sequence[int]],
    *,
    end: datetime,
    config: SurgeConfig = DEFAULT_CONFIG,
) -> dict[Hashable, Surge]:
    """``detect_surge`` for many series (without seasonal rates)."""
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
    buckets: int | None = None,
) -> list[int]:
    """Counts per bucket for ``detect_surge`` from sparse (time, count) pairs.

    Suits a ``GROUP BY`` over buckets (only non-empty ones come back) as well as raw
    signal times with a count of 1. Buckets end at ``end``; times outside the
    ``buckets`` (default ``config.total_buckets``) before it are ignored. Times must be
    aware.
    """
    if end.tzinfo is None:
        raise ValueError("end must be an aware datetime (UTC)")
    total = buckets or config.total_buckets
    start = end - total * config.bucket
    counts = [0] * total
    for at, count in points:
        if at.tzinfo is None:
            raise ValueError(f"{at} has no time zone: use aware datetimes (UTC)")
        if start <= at < end:
            counts[(at - start) // config.bucket] += count
    return counts


def _padded(counts: Sequence[int], config: SurgeConfig) -> list[int]:
    needed = config.total_buckets
    recent = list(counts[-needed:])
    if recent and min(recent) < 0:
        raise ValueError("counts cannot be negative")
    return [0] * (needed - len(recent)) + recent


def _median(values: Sequence[int]) -> Fraction:
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
