"""Drills moved out of crises: a database whose drill runs were written while the models
lived in crises keeps every run and inject, in the same tables, after migrating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last migration before the move: the drill models were crises.DrillRun/DrillInject.
BEFORE_THE_MOVE = [("crises", "0004_decision_log_index"), ("drills", None)]
MOMENT = datetime(2026, 11, 17, 5, 0, tzinfo=UTC)


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def _leaves() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_drill_runs_made_before_the_move_survive_the_migration():
    from django.contrib.contenttypes.models import ContentType

    from watchfloor.crises.models import Crisis
    from watchfloor.people.models import User

    lead = User.objects.create(username="old.lead", role="lead")
    crisis = Crisis.objects.create(
        title="[DRILL] Old drill",
        level="closed",
        is_active=False,
        is_drill=True,
        level_changed_at=MOMENT,
        declared_at=MOMENT,
        declared_by=lead,
        updated_at=MOMENT,
    )
    try:
        old = _migrate(BEFORE_THE_MOVE).loader.project_state(BEFORE_THE_MOVE[0]).apps
        OldRun = old.get_model("crises", "DrillRun")
        OldInject = old.get_model("crises", "DrillInject")
        run = OldRun.objects.create(
            crisis_id=crisis.pk,
            scenario_code="jp_livestream_attack",
            scenario_title="Livestreamed attack in Osaka",
            scenario={"code": "jp_livestream_attack"},
            scenario_digest="ab" * 32,
            status="finished",
            autoplay=True,
            sim_started_at=MOMENT,
            sim_now=MOMENT + timedelta(hours=5),
            started_at=MOMENT,
            started_by_id=lead.pk,
            finished_at=MOMENT + timedelta(hours=5),
            score={"percent": 95.5, "scored": 22},
        )
        for sequence in range(3):
            OldInject.objects.create(
                run_id=run.pk,
                sequence=sequence,
                offset=timedelta(minutes=5 * sequence),
                kind="signals",
                title=f"inject {sequence}",
                payload={},
                due_at=MOMENT + timedelta(minutes=5 * sequence),
                injected_at=MOMENT + timedelta(minutes=5 * sequence),
                outcome={"signals": 10},
            )
        # The content types as the old code left them (post_migrate made them in crises).
        ContentType.objects.filter(app_label="drills").delete()
        ContentType.objects.get_or_create(app_label="crises", model="drillrun")
    finally:
        _migrate(_leaves())

    from watchfloor.drills.models import DrillInject, DrillRun

    moved = DrillRun.objects.get(pk=run.pk)
    assert moved.crisis_id == crisis.pk and crisis.drill == moved
    assert moved.scenario_code == "jp_livestream_attack"
    assert moved.score == {"percent": 95.5, "scored": 22}
    assert moved.started_by_id == lead.pk
    assert [i.title for i in moved.injects.all()] == ["inject 0", "inject 1", "inject 2"]
    assert DrillInject.objects.count() == 3
    assert DrillRun._meta.db_table == "crises_drillrun"
    assert ContentType.objects.get_for_model(DrillRun).app_label == "drills"
    assert not ContentType.objects.filter(app_label="crises", model="drillrun").exists()
