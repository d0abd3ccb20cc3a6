"""Background work for notifications, on the Django tasks API (database backend).

Every timer is a task row with ``run_after``, so it survives restarts. The task
functions are thin: each calls one service, which re-reads the state under a lock and
does nothing if the work was already done or is no longer wanted (acknowledged,
stopped, not yet due on the application's clock). Running one twice is harmless.

Enqueue only through the ``*_after_commit`` helpers: a task must never run for a row
that a rolled-back transaction never wrote.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django_tasks import task

from watchfloor.core import clock


@task()
def deliver_notification(notification_id: int) -> str:
    """Make one delivery attempt (or record why none is needed)."""
    from watchfloor.notify.delivery import attempt_delivery

    return attempt_delivery(notification_id=notification_id)


@task()
def reach_policy_stage(engagement_id: int, stage: int) -> str:
    """The escalation policy's timer: notify the next stage unless somebody acknowledged."""
    from watchfloor.notify.services import reach_stage

    return reach_stage(engagement_id=engagement_id, stage=stage)


def _run_after(at: datetime | None) -> datetime | None:
    # A time already past means "now": the row is ready at once.
    return at if at is not None and at > clock.now() else None


def deliver_after_commit(notification_id: int, *, at: datetime | None = None) -> None:
    def enqueue() -> None:
        run_after = _run_after(at)
        target = (
            deliver_notification.using(run_after=run_after) if run_after else deliver_notification
        )
        target.enqueue(notification_id)

    transaction.on_commit(enqueue)


def stage_after_commit(engagement_id: int, stage: int, *, at: datetime) -> None:
    def enqueue() -> None:
        run_after = _run_after(at)
        target = reach_policy_stage.using(run_after=run_after) if run_after else reach_policy_stage
        target.enqueue(engagement_id, stage)

    transaction.on_commit(enqueue)
