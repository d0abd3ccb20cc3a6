"""The surge detector: windows against a seasonal or recent baseline with floors, and the
hysteresis that ends an alert; pure functions, so properties hold for every series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.signals.surge import (
    CLUSTER_CONFIG,
    Surge,
    SurgeConfig,
    dense_counts,
    detect_surge,
    detect_surges,
    end_level,
    expectation,
    has_quieted,
    raise_level,
    seasonal_rate,
    seasonal_samples,
)

END = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
CONFIG = SurgeConfig()
BASELINE = CONFIG.baseline_buckets + 12  # the baseline window and the longest window
BUCKET = timedelta(minutes=5)


def series(baseline: list[int] | int, window: list[int]) -> list[int]:
    history = baseline if isinstance(baseline, list) else [baseline] * BASELINE
    return [*history, *window]


def test_the_defaults_are_documented_values():
    assert CONFIG.windows == (BUCKET, 3 * BUCKET, 12 * BUCKET)
    assert (CONFIG.baseline_window, CONFIG.end_window, CONFIG.quiet) == (
        timedelta(hours=6),
        timedelta(minutes=15),
        timedelta(minutes=30),
    )
    assert (CONFIG.raise_ratio, CONFIG.end_ratio, CONFIG.min_count) == (4.0, 2.0, 6)
    assert (CONFIG.min_rate_per_hour, CONFIG.floor_per_hour, CONFIG.volume_share) == (
        12.0,
        1.0,
        0.5,
    )
    assert (CONFIG.seasonal_weeks, CONFIG.seasonal_min_weeks) == (4, 2)
    assert CLUSTER_CONFIG.min_count == 10
    assert (CONFIG.window_buckets, CONFIG.baseline_buckets, CONFIG.total_buckets) == (
        (1, 3, 12),
        72,
        84,
    )


def test_a_burst_over_a_steady_series_is_a_surge_with_its_numbers():
    surge = detect_surge(series(2, [3, 30, 40]), end=END)

    assert isinstance(surge, Surge)
    # The last 5 minutes stand out most: 40 against 2 expected.
    assert (surge.window, surge.current_count, surge.expected_count) == (BUCKET, 40, 2.0)
    assert surge.ratio == pytest.approx(20.0)
    assert surge.baseline_rate == pytest.approx(24.0)
    assert surge.basis == "recent"
    assert surge.started_at == END - BUCKET
    assert not surge.floored
    assert surge.explanation == (
        "40 signals in the last 5 min against 2.0 expected (24.0/h, the median 5-minute "
        "count over the previous 6 h): 20.0×"
    )


def test_a_series_from_zero_does_not_alarm_on_a_few_items():
    assert detect_surge(series(0, [0, 1, 1]), end=END) is None
    assert detect_surge(series(0, [0, 0, 5]), end=END) is None  # below min_count


def test_a_new_series_with_real_volume_surges_against_the_floor():
    surge = detect_surge(series(0, [0, 0, 6]), end=END)
    assert surge is not None
    assert (surge.basis, surge.baseline_rate, surge.current_count) == ("floor", 1.0, 6)
    assert "the floor for a series with little history" in surge.explanation


def test_a_cluster_needs_more_than_a_market():
    assert detect_surge(series(0, [0, 0, 9]), end=END, config=CLUSTER_CONFIG) is None
    assert detect_surge(series(0, [0, 0, 10]), end=END, config=CLUSTER_CONFIG) is not None


def test_a_slow_steady_rise_is_seen_by_the_long_window():
    """Two an hour, then one per 5 minutes for an hour: never sharp over 5 or 15 minutes
    (below min_count), but 12 in the hour against 1 expected is."""
    history = [1 if i % 6 == 0 else 0 for i in range(BASELINE)]
    surge = detect_surge([*history, *([1] * 12)], end=END)
    assert surge is not None
    assert surge.window == timedelta(hours=1)
    assert (surge.current_count, surge.expected_count) == (12, 1.0)


def test_a_sparse_series_is_judged_against_its_own_volume():
    """Bursts of 12 every half hour: the median bucket is zero, but half the mean (1 a
    bucket) is the series' own level, and 6 in 5 minutes is no surge for it."""
    history = [12 if i % 6 == 0 else 0 for i in range(BASELINE)]
    expected = expectation(history)
    assert (expected.basis, expected.per_bucket) == ("volume", Fraction(1))
    assert detect_surge([*history, 0, 0, 0], end=END) is None


def test_an_earlier_spike_in_the_baseline_does_not_hide_the_next_one():
    history = [2] * BASELINE
    history[10:16] = [60] * 6
    assert detect_surge(series(history, [40, 45, 50]), end=END) is not None


def test_the_seasonal_rate_needs_enough_weeks_and_takes_their_median():
    assert seasonal_rate([30, None, None, None]) is None  # one week of history
    assert seasonal_rate([30, 90, 60, None]) == 60
    assert seasonal_rate([30, 90]) == 60


def test_a_week_counts_only_if_the_series_ran_on_that_day():
    """Zero signals in the hour of a week the series was running is a zero; a week it
    had nothing all day is unknown (it did not exist yet, or its feed was down)."""
    week = timedelta(days=7)
    points = [
        (END - week - timedelta(minutes=10), 30),
        (END - 2 * week - timedelta(hours=5), 4),
        (END - 3 * week - timedelta(days=2), 9),  # outside the day before that hour
    ]
    assert seasonal_samples(points, end=END) == [30, 0, None, None]
    assert seasonal_rate(seasonal_samples(points, end=END)) == 15


def test_the_seasonal_rate_replaces_the_recent_median():
    """Busy every week at this hour: 40 in 5 minutes is no surge against 240/h."""
    counts = series(0, [0, 0, 40])
    assert detect_surge(counts, end=END) is not None
    assert detect_surge(counts, end=END, seasonal_per_hour=240) is None
    surge = detect_surge(series(0, [0, 0, 100]), end=END, seasonal_per_hour=240)
    assert surge is not None
    assert (surge.basis, surge.baseline_rate) == ("seasonal", 240.0)
    assert "the median of this hour in previous weeks" in surge.explanation


def test_a_rise_that_has_already_fallen_back_is_not_raised():
    """An hour-old burst still fills the long window, but the last 15 minutes are quiet."""
    assert detect_surge(series(0, [30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), end=END) is None


def test_only_the_last_buckets_are_read():
    old_noise = [500] * 50
    assert detect_surge(old_noise + series(2, [3, 30, 40]), end=END) == detect_surge(
        series(2, [3, 30, 40]), end=END
    )


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        detect_surge(series(1, [1, -1, 1]), end=END)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bucket": timedelta(0)}, "bucket"),
        ({"windows": (timedelta(minutes=7),)}, "windows"),
        ({"windows": ()}, "windows"),
        ({"raise_ratio": 1.0}, "raise_ratio"),
        ({"end_ratio": 4.0}, "end_ratio"),
        ({"min_count": 0}, "min_count"),
        ({"floor_per_hour": 0}, "floor_per_hour"),
        ({"volume_share": 2}, "volume_share"),
        ({"seasonal_min_weeks": 5}, "seasonal_min_weeks"),
        ({"quiet": timedelta(minutes=1)}, "quiet"),
    ],
)
def test_impossible_configurations_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SurgeConfig(**changes)


def test_dense_counts_turn_sparse_rows_into_buckets():
    counts = dense_counts(
        [(END - timedelta(minutes=1), 3), (END - timedelta(minutes=4), 1), (END, 9)],
        end=END,
    )
    assert len(counts) == CONFIG.total_buckets
    assert counts[-1] == 4  # the one at END itself belongs to the next bucket
    assert sum(counts) == 4


def test_dense_counts_needs_aware_times():
    with pytest.raises(ValueError, match="aware"):
        dense_counts([], end=END.replace(tzinfo=None))


def test_detect_surges_keeps_only_the_series_that_surge():
    found = detect_surges({"quiet": series(2, [2, 2, 2]), "loud": series(2, [3, 30, 40])}, end=END)
    assert list(found) == ["loud"]


# ---------------------------------------------------------------- hysteresis


def test_an_alert_does_not_end_before_its_quiet_period():
    quiet = series(0, [0, 0, 0])
    assert not has_quieted(quiet, expected_per_hour=1.0, open_for=timedelta(minutes=25))
    assert has_quieted(quiet, expected_per_hour=1.0, open_for=timedelta(minutes=30))


def test_an_alert_ends_below_half_its_raise_level_only():
    """Raised against 24/h, the 15-minute raise level is 24: it ends below 12."""
    level = end_level(Fraction(2), CONFIG)
    assert level == 12
    open_for = timedelta(hours=2)
    assert not has_quieted(series(2, [4] * 12), expected_per_hour=24, open_for=open_for)
    assert has_quieted(series(2, [3] * 12), expected_per_hour=24, open_for=open_for)


def simulate(counts: list[int], *, start: int, config: SurgeConfig = CONFIG):
    """Alerts (raised, ended bucket numbers) over ``counts`` checked at every bucket
    from ``start`` on, as the reactions would."""
    alerts: list[list[int | None]] = []
    expected_per_hour = 0.0
    for upto in range(start, len(counts) + 1):
        window = counts[:upto]
        if alerts and alerts[-1][1] is None:
            open_for = (upto - alerts[-1][0]) * config.bucket  # type: ignore[operator]
            if has_quieted(
                window, expected_per_hour=expected_per_hour, open_for=open_for, config=config
            ):
                alerts[-1][1] = upto
            continue
        surge = detect_surge(window, end=END, config=config)
        if surge is not None:
            alerts.append([upto, None])
            expected_per_hour = surge.baseline_rate
    return alerts


@settings(max_examples=60, deadline=None)
@given(
    level=st.integers(min_value=0, max_value=30),
    wobble=st.lists(st.integers(min_value=-2, max_value=2), min_size=24, max_size=48),
)
def test_a_series_hovering_around_the_raise_level_raises_once(level, wobble):
    """No flapping: a series that rises to the raise level and then wanders a little
    around it raises one alert, which stays open."""
    history = [level] * BASELINE
    per_bucket = expectation(history).per_bucket
    at_raise = int(raise_level(1, per_bucket, CONFIG)) + 1  # one bucket alone raises
    counts = [*history, *(max(0, at_raise + step) for step in wobble)]
    alerts = simulate(counts, start=BASELINE + 1)
    assert len(alerts) == 1
    assert alerts[0][1] is None


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(min_value=0, max_value=40), min_size=BASELINE, max_size=130))
def test_every_alert_lasts_at_least_the_quiet_period(counts):
    quiet_buckets = CONFIG.quiet // CONFIG.bucket
    for raised, ended in simulate(counts, start=1):
        if ended is not None:
            assert ended - raised >= quiet_buckets  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(
    background=st.lists(st.integers(min_value=0, max_value=3), min_size=BASELINE, max_size=200),
    onset_size=st.integers(min_value=8, max_value=200),
    ramp=st.integers(min_value=1, max_value=3),
)
def test_an_onset_is_found_within_fifteen_minutes(background, onset_size, ramp):
    """A quiet series (0 to 3 a bucket) then an event growing over ``ramp`` buckets to
    ``onset_size`` a bucket: an alert within three buckets of the onset."""
    level = max(background)
    top = max(onset_size, 4 * 4 * level + CONFIG.min_count)
    rise = [top * (step + 1) // ramp for step in range(ramp)] + [top] * 3
    alerts = simulate([*background, *rise], start=len(background))
    assert alerts, "no alert"
    assert alerts[0][0] - len(background) <= 3


@settings(max_examples=60, deadline=None)
@given(level=st.integers(min_value=0, max_value=500), longer=st.integers(0, 100))
def test_a_flat_series_never_surges(level, longer):
    assert detect_surge([level] * (CONFIG.total_buckets + longer), end=END) is None


@settings(max_examples=80, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=100),
    extra=st.integers(min_value=1, max_value=100),
)
def test_more_signals_in_the_window_never_remove_a_surge(counts, extra):
    padded = [0] * (CONFIG.total_buckets - len(counts)) + counts if len(counts) < 84 else counts
    before = detect_surge(padded, end=END)
    more = list(padded)
    more[-1] += extra  # the newest bucket is in every window
    if before is not None:
        assert detect_surge(more, end=END) is not None
