"""The worker's scheduler: periodic work that no event triggers.

It lives on the top floor because it reaches into several domain apps (partner
requests, signal reactions, crisis reminders); each of them only offers a service to
call, and none of them knows the schedule.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from watchfloor.audit.services import export_head
from watchfloor.banks.tasks import fetch_due_exchanges, send_missed_decisions
from watchfloor.coordination.services import chase_overdue_requests
from watchfloor.core import clock
from watchfloor.crises.tasks import send_sitrep_reminders
from watchfloor.signals.backlog import drain
from watchfloor.signals.reactions import check_all

HOUSEKEEPING_EVERY = timedelta(minutes=1)


@task()
def housekeeping_sweep() -> str:
    """Chase unanswered partner requests, drain reactions whose own task was lost, end
    surges whose rate has fallen, wake snoozed clusters, remind crisis commanders of
    sitreps due, publish the audit chain's signed head where one is due, queue the
    fetches of hash exchanges that are due and send final decisions whose own hook was
    lost. It
    schedules its own next run, so one chain of rows keeps it going across restarts;
    each step is safe to repeat."""
    try:
        chases = chase_overdue_requests(now=clock.now())
        # Only batches whose own reaction task was lost: fresh ones are that task's.
        drain(worker="housekeeping", older_than=HOUSEKEEPING_EVERY)
        surges = check_all()
        reminders = send_sitrep_reminders.call()
        heads = export_head(now=clock.now())
        fetches = fetch_due_exchanges()
        decisions = send_missed_decisions()
    finally:
        housekeeping_sweep.using(run_after=timezone.now() + HOUSEKEEPING_EVERY).enqueue()
    summary = f"chased {len(chases)} partner requests; surges: {surges}; {reminders}"
    if fetches:
        summary += f"; {fetches} exchange fetch(es) queued"
    if decisions:
        summary += f"; {decisions} final decision(s) sent late"
    if heads:
        published = sum(attempt.succeeded for attempt in heads)
        summary += f"; audit head published to {published} of {len(heads)} place(s) due"
    return summary


def ensure_housekeeping_scheduled() -> bool:
    """Start the housekeeping chain unless one is already waiting (called when a worker
    starts); returns whether it started one."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(
        task_path=housekeeping_sweep.module_path, status__in=["READY", "RUNNING"]
    ).exists()
    if not waiting:
        housekeeping_sweep.enqueue()
    return not waiting
