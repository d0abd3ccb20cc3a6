"""Writer slices: many audited writes in a few transactions, each still refused alone, and
the reactions' firings the same whether committed one by one or together."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.escalations.models import Clock
from watchfloor.signals import reactions
from watchfloor.signals.models import Cluster, RuleFiring
from watchfloor.signals.writer_slices import WriterSlices

from .factories import add_signals, make_cluster

pytestmark = pytest.mark.django_db

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "src/watchfloor/defaults/signal_rules.yaml"


def test_a_slice_is_committed_once_it_has_held_the_writer_long_enough():
    with WriterSlices(hold=math.inf) as together:
        for _ in range(3):
            together.next()
            make_cluster()
    with WriterSlices(hold=0) as apart:
        for _ in range(3):
            apart.next()
            make_cluster()
    assert (together.slices, apart.slices) == (1, 3)
    assert Cluster.objects.count() == 6
    assert not transaction.get_connection().needs_rollback


def test_a_refused_write_rolls_back_alone_and_an_error_only_its_own_slice():
    kept = make_cluster()
    with pytest.raises(ZeroDivisionError), WriterSlices(hold=0) as slices:
        slices.next()
        committed = make_cluster()
        slices.next()  # the first slice is committed here
        survivor = make_cluster()
        # A write refused in its own atomic block (as every service's is) is undone alone.
        with pytest.raises(IntegrityError), transaction.atomic():
            Cluster.objects.create(
                pk=kept.pk,
                first_seen_at=kept.first_seen_at,
                last_seen_at=kept.last_seen_at,
                updated_at=kept.updated_at,
                subject_kind="post",
                subject_ref="post:again",
                origin_key=kept.origin_key,
            )
        assert Cluster.objects.filter(pk=survivor.pk).exists()
        _ = 1 / 0  # an unexpected error: the open slice goes with it
    remaining = set(Cluster.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk, committed.pk}


def _regulator_clusters(count: int, at, *, prefix: str) -> list[Cluster]:
    clusters = []
    for number in range(count):
        cluster = make_cluster(subject_kind="account", subject_ref=f"acct:{prefix}_{number}")
        add_signals(cluster, at=at, source="regulator", market="PH", language="en")
        clusters.append(cluster)
    return clusters


def _what_the_firings_did(firings) -> list[tuple]:
    """Each firing with its escalation, clocks and audit trail, in the order they fired,
    without the ids and times that differ between runs."""
    done = []
    for firing in firings.order_by("pk").select_related("escalation__type"):
        escalation = firing.escalation
        assert escalation is not None
        clocks = sorted(
            (c.kind, c.label, c.due_at - c.starts_at, c.met_at)
            for c in Clock.objects.filter(escalation=escalation)
        )
        trail = [
            (event.action, event.actor_label, sorted(event.data))
            for event in AuditEvent.objects.filter(escalation_id=escalation.pk).order_by("sequence")
        ]
        done.append(
            (
                firing.rule_code,
                firing.outcome,
                sorted(firing.evidence),
                escalation.type.code,
                escalation.severity,
                escalation.next_due_label,
                escalation.next_due_at - escalation.created_at,
                clocks,
                trail,
            )
        )
    return done


def test_firings_committed_together_open_the_same_escalations_as_one_by_one(
    catalog, frozen_clock, monkeypatch
):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(DEFAULT_RULES))
    used: list[WriterSlices] = []
    results = {}
    for name, hold in (("one by one", 0.0), ("together", math.inf)):

        class Recorded(WriterSlices):
            def __init__(self, hold: float = hold) -> None:
                super().__init__(hold=hold)
                used.append(self)

        monkeypatch.setattr(reactions, "WriterSlices", Recorded)
        clusters = _regulator_clusters(3, frozen_clock, prefix=name.replace(" ", "_"))
        report = reactions.after_ingest(
            cluster_ids=[c.pk for c in clusters], series_keys=[], actor=None
        )
        assert len(report.fired) == 3
        results[name] = _what_the_firings_did(RuleFiring.objects.filter(cluster__in=clusters))
        # One firing per rule and cluster, whichever way they were committed.
        again = reactions.after_ingest(
            cluster_ids=[c.pk for c in clusters], series_keys=[], actor=None
        )
        assert again.fired == []

    # Three transactions, then one (and one each for the passes that found nothing to do).
    assert [slices.slices for slices in used] == [3, 0, 1, 0]
    assert results["one by one"] == results["together"]
    first = results["together"][0]
    assert first[:2] == ("trusted-source-direct", "opened")
    assert first[8][0][0] == AuditAction.ESCALATION_CREATED
    assert first[8][-1][0] == AuditAction.SIGNALS_RULE_FIRED
