"""The housekeeping chain: periodic work that no event triggers runs on the worker."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from watchfloor.bootstrap.scheduler import ensure_housekeeping_scheduled, housekeeping_sweep

pytestmark = pytest.mark.django_db


def _waiting() -> int:
    return DBTaskResult.objects.filter(
        task_path=housekeeping_sweep.module_path, status="READY"
    ).count()


def test_a_starting_worker_starts_one_chain_and_never_a_second(catalog):
    assert ensure_housekeeping_scheduled() is True
    assert ensure_housekeeping_scheduled() is False
    assert _waiting() == 1


def test_a_sweep_does_its_work_and_schedules_the_next_one(catalog):
    result = housekeeping_sweep.call()
    assert result.startswith("chased 0 partner requests")
    next_run = DBTaskResult.objects.get(task_path=housekeeping_sweep.module_path)
    assert next_run.status == "READY"
    assert next_run.run_after > next_run.enqueued_at
