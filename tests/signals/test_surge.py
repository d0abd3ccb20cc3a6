"""Surge detection: rate against a median baseline with a floor, explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.signals.surge import (
    Surge,
    SurgeConfig,
    dense_counts,
    detect_surge,
    detect_surges,
)

END = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
CONFIG = SurgeConfig()
BASELINE_BUCKETS = CONFIG.baseline_buckets  # 72 five-minute buckets: 6 hours


def series(baseline: list[int] | int, window: list[int]) -> list[int]:
    history = baseline if isinstance(baseline, list) else [baseline] * BASELINE_BUCKETS
    return [*history, *window]


def test_the_defaults_are_documented_values():
    assert (CONFIG.bucket, CONFIG.window, CONFIG.baseline_window) == (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=6),
    )
    assert (CONFIG.factor, CONFIG.min_count, CONFIG.baseline_floor_per_hour) == (3.0, 20, 12.0)
    assert (CONFIG.window_buckets, CONFIG.baseline_buckets, CONFIG.total_buckets) == (3, 72, 75)


def test_a_burst_over_a_steady_series_is_a_surge_with_its_numbers():
    surge = detect_surge(series(2, [3, 30, 40]), end=END)

    assert isinstance(surge, Surge)
    assert surge.current_count == 73
    assert surge.current_rate == pytest.approx(292.0)
    assert surge.baseline_rate == pytest.approx(24.0)
    assert surge.ratio == pytest.approx(292 / 24)
    assert surge.started_at == END - timedelta(minutes=10)
    assert not surge.floored
    assert surge.explanation == (
        "73 signals in the last 15 min (292/h): 12.2× the usual 24.0/h "
        "(median bucket over the previous 6 h)"
    )


def test_a_series_from_zero_does_not_alarm_on_a_few_items():
    assert detect_surge(series(0, [0, 1, 1]), end=END) is None
    assert detect_surge(series(0, [0, 0, 19]), end=END) is None


def test_a_new_cluster_with_real_volume_surges_against_the_floor():
    surge = detect_surge(series(0, [5, 10, 10]), end=END)

    assert surge is not None and surge.floored
    assert surge.baseline_rate == pytest.approx(12.0)
    assert surge.started_at == END - timedelta(minutes=15)
    assert "the floor of 12/h" in surge.explanation


def test_a_busy_series_needs_three_times_its_usual_rate():
    assert detect_surge(series(20, [40, 40, 40]), end=END) is None  # 2×
    assert detect_surge(series(20, [60, 60, 60]), end=END) is not None  # 3×


def test_an_earlier_spike_in_the_baseline_does_not_hide_the_next_one():
    history = [4] * BASELINE_BUCKETS
    history[10:16] = [200] * 6  # a surge two hours ago
    assert detect_surge(series(history, [40, 45, 50]), end=END) is not None


def test_a_short_history_counts_as_zeros():
    assert detect_surge([5, 10, 10], end=END) == detect_surge(series(0, [5, 10, 10]), end=END)
    assert detect_surge([], end=END) is None


def test_only_the_last_buckets_are_read():
    old_noise = [1000] * 50
    assert detect_surge(old_noise + series(2, [3, 30, 40]), end=END) == detect_surge(
        series(2, [3, 30, 40]), end=END
    )


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        detect_surge(series(1, [1, -1, 1]), end=END)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"factor": 1.0}, "factor"),
        ({"min_count": 0}, "min_count"),
        ({"baseline_floor_per_hour": 0}, "floor"),
        ({"window": timedelta(minutes=7)}, "whole number of buckets"),
        ({"baseline_window": timedelta(0)}, "baseline_window"),
        ({"bucket": timedelta(0)}, "bucket"),
    ],
)
def test_impossible_configurations_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SurgeConfig(**changes)


def test_dense_counts_turn_sparse_rows_into_buckets():
    points = [
        (END - timedelta(minutes=1), 4),
        (END - timedelta(minutes=4, seconds=59), 1),
        (END - timedelta(minutes=5), 3),  # a bucket starts at its first instant
        (END - timedelta(minutes=5, seconds=1), 2),
        (END - timedelta(hours=6, minutes=15), 9),  # first bucket
        (END - timedelta(hours=7), 100),  # too old
        (END, 100),  # the next bucket, not this one
    ]

    counts = dense_counts(points, end=END)

    assert len(counts) == CONFIG.total_buckets
    assert counts[-1] == 8 and counts[-2] == 2 and counts[0] == 9
    assert sum(counts) == 19


def test_dense_counts_needs_aware_times():
    with pytest.raises(ValueError, match="time zone"):
        dense_counts([(datetime(2026, 11, 24), 1)], end=END)


def test_detect_surges_keeps_only_the_series_that_surge():
    found = detect_surges(
        {
            ("JP", "scams_fraud", "ja"): series(2, [3, 30, 40]),
            ("PH", "scams_fraud", "tl"): series(2, [2, 2, 2]),
        },
        end=END,
    )
    assert list(found) == [("JP", "scams_fraud", "ja")]


COUNTS = st.lists(st.integers(0, 500), min_size=0, max_size=CONFIG.total_buckets + 5)


@given(st.integers(0, 10_000), st.integers(CONFIG.total_buckets, CONFIG.total_buckets + 10))
def test_a_flat_series_never_surges(level, length):
    # (A shorter series is not flat: the history before it counts as zero.)
    assert detect_surge([level] * length, end=END) is None


@given(COUNTS, st.integers(2, 50))
def test_scaling_every_count_never_removes_a_surge(counts, factor):
    before = detect_surge(counts, end=END)
    if before is not None:
        assert before.current_count >= CONFIG.min_count
        after = detect_surge([count * factor for count in counts], end=END)
        assert after is not None
        assert after.ratio >= before.ratio - 1e-9


@given(COUNTS, st.integers(1, 100), st.integers(0, 2))
def test_more_signals_in_the_window_never_remove_a_surge(counts, extra, position):
    padded = [0] * (CONFIG.total_buckets - len(counts)) + counts
    before = detect_surge(padded, end=END)
    if before is not None:
        more = list(padded)
        more[-1 - position] += extra
        assert detect_surge(more, end=END) is not None
