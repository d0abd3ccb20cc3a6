"""Background work for signals, on the Django tasks API (database backend)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from watchfloor.signals import backlog
from watchfloor.signals.models import ReactionBacklog

__all__ = ["react_after_commit", "react_to_signals"]

# Passes one task runs before handing over: during a surge the backlog refills as fast as
# it drains, and the worker's other tasks (notifications, timers) must not wait on it.
PASSES_PER_TASK = 5


@task()
def react_to_signals() -> dict:
    """Run the reactions of the stored batches waiting for them, a few passes' worth, then
    queue the next run if more are waiting. The result (kept with the task) says what was
    done and how long each batch waited for it."""
    report = backlog.drain(worker="task", max_passes=PASSES_PER_TASK)
    if ReactionBacklog.objects.filter(claimed_at__isnull=True).exists():
        _enqueue_unless_waiting()
    return {
        "summary": str(report),
        "rows": report.rows,
        "signals": report.signals,
        "raised": report.raised,
        "ended": report.ended,
        "fired": report.fired,
        "failed": report.failed,
        "seconds": round(report.seconds, 3),
        "lag_seconds": [round(lag, 3) for lag in report.lags],
    }


def react_after_commit() -> None:
    """Queue ``react_to_signals`` once the current transaction commits, unless one is
    already waiting: a burst of batches shares one run, which picks up every row."""

    transaction.on_commit(_enqueue_unless_waiting)


def _enqueue_unless_waiting() -> None:
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        task_path=react_to_signals.module_path, status="READY"
    ).exists()
    if not waiting:
        react_to_signals.enqueue()
