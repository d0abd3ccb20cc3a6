"""The reactions backlog: every committed batch gets its reactions, once, off the intake's
path; a failure or a dead worker loses nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from watchfloor.core import clock
from watchfloor.signals import backlog, reactions
from watchfloor.signals import hooks as signal_hooks
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import ReactionBacklog, Signal
from watchfloor.signals.tasks import react_to_signals

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)


def _signal(name: int, **fields):
    signal = {
        "id": f"s-{name}",
        "received_at": T0.isoformat(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": f"post:{name}"},
    }
    signal.update(fields)
    return signal


def _ingest(*signals):
    return ingest_signals(items=list(signals), producer="tests", actor=None)


@pytest.fixture
def recorded_reactions(monkeypatch):
    calls: list[dict] = []

    def record(**kwargs):
        calls.append(kwargs)
        return reactions.ReactionReport()

    monkeypatch.setattr(reactions, "after_ingest", record)
    return calls


def test_a_committed_batch_queues_its_reactions_and_one_task(
    catalog, django_capture_on_commit_callbacks, recorded_reactions
):
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        first = _ingest(_signal(1, market="JP", language="ja"), _signal(2))
    with django_capture_on_commit_callbacks(execute=True):
        second = _ingest(_signal(3, subject={"kind": "post", "ref": "post:1"}))

    rows = list(ReactionBacklog.objects.all())
    assert len(rows) == 2
    assert rows[0].cluster_ids == sorted({item.cluster_id for item in first.results})
    assert rows[0].series_keys == [["", "", ""], ["JP", "", "ja"]]
    ids = sorted(Signal.objects.values_list("pk", flat=True))
    assert rows[0].signal_ranges == [[ids[0], ids[1]]] and rows[0].signal_count == 2
    assert rows[0].created_at == T0
    # The intake itself ran no reaction, and queued one task for both batches.
    assert recorded_reactions == []
    assert DBTaskResult.objects.filter(task_path=react_to_signals.module_path).count() == 1

    report = backlog.drain()

    # One pass for both rows: the cluster both batches touched is checked once.
    assert len(recorded_reactions) == 1
    assert recorded_reactions[0]["cluster_ids"] == sorted(
        {item.cluster_id for item in (*first.results, *second.results)}
    )
    assert (report.rows, report.signals, report.passes) == (2, 3, 1)
    assert not ReactionBacklog.objects.exists()


def test_a_batch_with_nothing_new_queues_nothing(catalog, django_capture_on_commit_callbacks):
    _ingest(_signal(1))
    ReactionBacklog.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        result = _ingest(_signal(1))
    assert result.duplicates == 1
    assert not ReactionBacklog.objects.exists()


def test_a_failing_pass_is_logged_and_its_rows_kept_for_the_next(catalog, monkeypatch, caplog):
    _ingest(_signal(1))

    def broken(**kwargs):
        raise ValueError("rule engine exploded")

    monkeypatch.setattr(reactions, "after_ingest", broken)
    with caplog.at_level(logging.ERROR):
        report = backlog.drain()
    assert report.failed == 1 and report.rows == 0
    assert "rule engine exploded" in caplog.text
    row = ReactionBacklog.objects.get()
    assert row.claimed_at is None  # released: the next drain takes it
    assert Signal.objects.count() == 1

    monkeypatch.setattr(reactions, "after_ingest", lambda **kwargs: reactions.ReactionReport())
    assert backlog.drain().rows == 1
    assert not ReactionBacklog.objects.exists()


def test_a_row_claimed_by_a_worker_that_died_is_taken_over_after_the_lease(
    catalog, recorded_reactions
):
    with clock.frozen_at(T0):
        _ingest(_signal(1))
        ReactionBacklog.objects.update(claimed_at=T0, claimed_by="worker-that-died")
        assert backlog.drain().rows == 0  # still within its lease
    with clock.frozen_at(T0 + backlog.CLAIM_LEASE + timedelta(seconds=1)):
        assert backlog.drain().rows == 1
    assert len(recorded_reactions) == 1


def test_hooks_get_the_new_signal_ids(catalog, recorded_reactions, monkeypatch):
    seen: list[list[int]] = []
    monkeypatch.setattr(signal_hooks, "_hooks", [lambda ids: seen.append(list(ids))])
    _ingest(_signal(1), _signal(2))
    _ingest(_signal(3))
    backlog.drain()
    assert seen == [sorted(Signal.objects.values_list("pk", flat=True))]


@pytest.mark.parametrize(
    ("ids", "ranges"),
    [
        ([], []),
        ([5], [[5, 5]]),
        ([3, 1, 2], [[1, 3]]),
        ([1, 2, 4, 7, 8, 8], [[1, 2], [4, 4], [7, 8]]),
    ],
)
def test_signal_ranges_cover_exactly_the_ids(ids, ranges):
    assert backlog.signal_ranges(ids) == ranges


def test_the_housekeeping_share_is_only_the_rows_that_have_waited(catalog, recorded_reactions):
    with clock.frozen_at(T0):
        _ingest(_signal(1))
    with clock.frozen_at(T0 + timedelta(seconds=30)):
        _ingest(_signal(2))
    with clock.frozen_at(T0 + timedelta(minutes=1, seconds=10)):
        report = backlog.drain(older_than=timedelta(minutes=1))
    assert report.rows == 1
    assert ReactionBacklog.objects.get().created_at == T0 + timedelta(seconds=30)


def test_a_task_hands_over_after_a_few_passes_and_queues_the_next(
    catalog, recorded_reactions, monkeypatch
):
    from watchfloor.signals import tasks

    monkeypatch.setattr(backlog, "CLAIM_ROWS", 1)
    monkeypatch.setattr(tasks, "PASSES_PER_TASK", 2)
    for number in range(3):
        _ingest(_signal(number))
    DBTaskResult.objects.all().delete()

    done = react_to_signals.call()

    assert done["rows"] == 2
    assert ReactionBacklog.objects.count() == 1
    assert DBTaskResult.objects.filter(task_path=react_to_signals.module_path).count() == 1
