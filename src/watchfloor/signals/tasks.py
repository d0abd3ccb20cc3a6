"""Background work for signals, on the Django tasks API (database backend)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from watchfloor.signals import backlog

__all__ = ["react_after_commit", "react_to_signals"]


@task()
def react_to_signals() -> dict:
    """Run the reactions of every stored batch still waiting for them. The result (kept
    with the task) says what was done and how long each batch waited for it."""
    report = backlog.drain(worker="task")
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

    def enqueue() -> None:
        from django_tasks_db.models import DBTaskResult

        waiting = DBTaskResult.objects.filter(
            task_path=react_to_signals.module_path, status="READY"
        ).exists()
        if not waiting:
            react_to_signals.enqueue()

    transaction.on_commit(enqueue)
