"""Surge alerts as the reactions raise and end them: once per subject, explained, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.signals import reactions
from watchfloor.signals.models import SurgeAlert
from watchfloor.signals.selectors import (
    bucket_end,
    bucket_floor,
    describe_surge_subject,
    surge_explanation,
)

from .factories import add_signals, make_cluster, steady_then_burst

pytestmark = pytest.mark.django_db

NO_RULES = {"WATCHFLOOR_SIGNAL_RULES": "/nonexistent/signal_rules.yaml"}


@pytest.fixture(autouse=True)
def without_rules(monkeypatch):
    """These tests are about surges; the rules have their own tests."""
    for name, value in NO_RULES.items():
        monkeypatch.setenv(name, value)


def _react(cluster, series=(("JP", "scams_fraud", "ja"),)):
    return reactions.after_ingest(cluster_ids=[cluster.pk], series_keys=series, actor=None)


def test_buckets_are_five_minutes_on_the_epoch(frozen_clock):
    moment = frozen_clock + timedelta(minutes=7, seconds=12)
    assert bucket_floor(moment) == frozen_clock + timedelta(minutes=5)
    assert bucket_end(moment) == frozen_clock + timedelta(minutes=10)


def test_a_burst_raises_one_alert_with_its_numbers_and_audits_it(catalog, frozen_clock):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))

    report = _react(cluster, series=())

    alert = SurgeAlert.objects.get()
    assert report.raised == [alert]
    assert (alert.subject, alert.cluster_id, alert.ended_at) == ("cluster", cluster.pk, None)
    assert alert.raised_at == frozen_clock
    # 2 per bucket is 24/h. Of the three windows the last 5 minutes stand out most: 40
    # signals against 2 expected (20×; the last 15 minutes hold 73 against 6, 12.2×).
    assert alert.baseline_rate == pytest.approx(24.0)
    assert alert.current_rate == pytest.approx(480.0)
    assert alert.ratio == pytest.approx(20.0)
    assert alert.started_at == bucket_end(frozen_clock) - timedelta(minutes=5)
    assert alert.window == timedelta(minutes=5)
    assert alert.baseline_window == timedelta(hours=6)
    assert surge_explanation(alert) == "40 signals in 5 min against 2.0 expected (24.0/h): 20.0×"

    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_SURGE_RAISED)
    assert event.object_id == str(alert.pk)
    assert event.data["cluster"] == cluster.pk
    assert event.data["window_count"] == 40
    assert event.data["explanation"] == (
        "40 signals in the last 5 min against 2.0 expected (24.0/h, the median 5-minute "
        "count over the previous 6 h): 20.0×"
    )


def test_later_batches_in_the_same_surge_do_not_raise_again(catalog, frozen_clock):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    _react(cluster, series=())

    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        add_signals(cluster, at=clock.now(), count=25)
        report = _react(cluster, series=())
        assert report.raised == []

    assert SurgeAlert.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.SIGNALS_SURGE_RAISED).count() == 1


def test_the_alert_ends_when_the_rate_falls_back_even_without_new_signals(catalog, frozen_clock):
    cluster = make_cluster()
    other = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    _react(cluster, series=())
    alert = SurgeAlert.objects.get()

    # Ten minutes on, the burst is still in the window.
    clock.advance(timedelta(minutes=10))
    add_signals(other, at=clock.now())
    assert reactions.after_ingest(cluster_ids=[other.pk], series_keys=[], actor=None).ended == []

    # Half an hour on, the last 15 minutes hold nothing, but not for the whole quiet
    # period of 30 minutes yet.
    clock.advance(timedelta(minutes=20))
    add_signals(other, at=clock.now())
    assert reactions.after_ingest(cluster_ids=[other.pk], series_keys=[], actor=None).ended == []

    # Ten minutes later every 15 minutes of the last half hour ran below half the raise
    # level: quiet is how a surge ends. The cluster itself received nothing; a batch
    # about another cluster ends it.
    clock.advance(timedelta(minutes=10))
    add_signals(other, at=clock.now())
    report = reactions.after_ingest(cluster_ids=[other.pk], series_keys=[], actor=None)

    alert.refresh_from_db()
    assert report.ended == [alert]
    assert alert.ended_at == clock.now()
    ended = AuditEvent.objects.get(action=AuditAction.SIGNALS_SURGE_ENDED)
    assert ended.data["window_count"] == 0
    assert ended.data["lasted_minutes"] == 40  # from 00:30 to 01:10


def test_a_second_wave_after_the_end_is_a_new_alert(catalog, frozen_clock):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    _react(cluster, series=())
    clock.advance(timedelta(minutes=40))
    _react(cluster, series=())
    assert SurgeAlert.objects.get().ended_at is not None

    clock.advance(timedelta(minutes=5))
    add_signals(cluster, at=clock.now(), count=60)
    report = _react(cluster, series=())

    assert len(report.raised) == 1
    assert SurgeAlert.objects.count() == 2
    assert SurgeAlert.objects.filter(ended_at__isnull=True).count() == 1


def test_a_long_surge_stays_open_while_it_runs_above_its_own_baseline(catalog, frozen_clock):
    """After hours of surge the median baseline catches up and the detector goes quiet,
    but the volume is still far above what the alert was raised against."""
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    _react(cluster, series=())
    for _ in range(4 * 12):  # four hours at 30 per bucket (360/h against a 24/h baseline)
        clock.advance(timedelta(minutes=5))
        add_signals(cluster, at=clock.now(), count=30)
        assert _react(cluster, series=()).ended == []
    assert SurgeAlert.objects.get().ended_at is None


def test_the_market_series_surge_on_their_own(catalog, frozen_clock):
    """Many small clusters in one market: none surges; the market, the market × policy
    and the market × language series do."""
    end = bucket_end(frozen_clock)
    clusters = [make_cluster() for _ in range(8)]
    for cluster in clusters:
        add_signals(
            cluster,
            at=end - timedelta(minutes=2),
            count=5,
            market="PH",
            language="tl",
            policy_hint="scams_fraud",
        )
    report = reactions.after_ingest(
        cluster_ids=[c.pk for c in clusters], series_keys=[("PH", "scams_fraud", "tl")], actor=None
    )

    alerts = list(SurgeAlert.objects.order_by("policy", "language"))
    assert sorted(report.raised, key=lambda a: a.pk) == sorted(alerts, key=lambda a: a.pk)
    assert [(a.subject, a.market, a.policy, a.language) for a in alerts] == [
        ("series", "PH", "*", "*"),
        ("series", "PH", "*", "tl"),
        ("series", "PH", "scams_fraud", "*"),
    ]
    assert [describe_surge_subject(a) for a in alerts] == [
        "PH × all signals",
        "PH × tl",
        "PH × scams fraud",
    ]
    for alert in alerts:
        assert alert.cluster is None
        # 40 signals in 5 minutes against the floor of 1/h of a series with no history.
        assert alert.baseline_rate == pytest.approx(1.0)
        assert alert.current_rate == pytest.approx(480.0)


def test_a_market_series_surge_is_judged_against_the_same_hour_in_earlier_weeks(
    catalog, frozen_clock
):
    """A market that is busy every Tuesday at this hour (240 signals): 40 in 5 minutes is
    no surge (20 expected), while against the recent median alone (nothing) it would be."""
    end = bucket_end(frozen_clock)
    cluster = make_cluster()
    for weeks in (1, 2, 3):
        add_signals(cluster, at=end - timedelta(weeks=weeks, minutes=10), count=240, market="PH")
    add_signals(cluster, at=end - timedelta(minutes=2), count=40, market="PH")

    report = reactions.after_ingest(cluster_ids=[], series_keys=[("PH", "", "")], actor=None)
    assert report.raised == []

    add_signals(cluster, at=end - timedelta(minutes=1), count=200, market="PH")
    report = reactions.after_ingest(cluster_ids=[], series_keys=[("PH", "", "")], actor=None)
    market = next(a for a in report.raised if (a.policy, a.language) == ("*", "*"))
    assert market.baseline_rate == pytest.approx(240.0)  # the median of 240 in that hour


def test_the_database_allows_one_open_alert_per_subject(catalog, frozen_clock):
    cluster = make_cluster()
    values = dict(
        subject="cluster",
        cluster=cluster,
        started_at=frozen_clock,
        raised_at=frozen_clock,
        ratio=4,
        current_rate=100,
        baseline_rate=25,
        window=timedelta(minutes=15),
        baseline_window=timedelta(hours=6),
    )
    SurgeAlert.objects.create(**values)
    with pytest.raises(IntegrityError), transaction.atomic():
        SurgeAlert.objects.create(**values)
    SurgeAlert.objects.create(**{**values, "ended_at": frozen_clock})  # ended ones may repeat


def test_velocities_are_refreshed_from_the_buckets(catalog, frozen_clock):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock - timedelta(hours=3), count=4)
    add_signals(cluster, at=frozen_clock - timedelta(minutes=30), count=3)
    add_signals(cluster, at=frozen_clock, count=2)
    _react(cluster, series=())
    cluster.refresh_from_db()
    assert (cluster.velocity_5m, cluster.velocity_1h, cluster.velocity_24h) == (2, 5, 9)

    # A day later nothing is recent any more; the periodic check brings the figures down.
    clock.advance(timedelta(days=1, minutes=5))
    reactions.check_all()
    cluster.refresh_from_db()
    assert (cluster.velocity_5m, cluster.velocity_1h, cluster.velocity_24h) == (0, 0, 0)


def test_signals_from_the_future_of_the_clock_are_not_counted_yet(catalog, frozen_clock):
    """A replay runs on simulated time: what has not 'happened' yet cannot surge."""
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock + timedelta(minutes=20), count=100)
    _react(cluster, series=())
    assert not SurgeAlert.objects.exists()
    clock.advance(timedelta(minutes=21))
    _react(cluster, series=())
    assert SurgeAlert.objects.count() == 1


def test_the_severity_hint_is_what_the_suggested_escalation_would_be(
    catalog, frozen_clock, analyst, make_escalation
):
    child = make_cluster()
    add_signals(child, at=frozen_clock, policy_hint="child_sexual_exploitation")
    scam = make_cluster()
    add_signals(scam, at=frozen_clock, count=3)
    unknown = make_cluster()
    add_signals(unknown, at=frozen_clock, policy_hint="")
    reactions.after_ingest(cluster_ids=[child.pk, scam.pk, unknown.pk], series_keys=[], actor=None)
    for cluster in (child, scam, unknown):
        cluster.refresh_from_db()
    assert child.severity_hint == 1  # child safety escalations are at least SEV1
    assert scam.severity_hint == 4  # a scam campaign with minimal reach
    assert unknown.severity_hint is None

    # Attached to a SEV2 escalation, the cluster is at least that.
    escalation = make_escalation(rubric_answers={"legal_exposure": "statutory_notice"})
    from watchfloor.signals import services

    services.attach_cluster(cluster=unknown, escalation_id=escalation.pk, actor=analyst)
    reactions.after_ingest(cluster_ids=[unknown.pk], series_keys=[], actor=None)
    unknown.refresh_from_db()
    assert unknown.severity_hint == escalation.severity == 2
