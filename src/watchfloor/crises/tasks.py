"""Background work for crises, on the Django tasks API (database backend).

Thin, as the notify app's tasks are: each calls one action that re-reads what it needs
under a lock and is safe to run twice. The notification worker's housekeeping sweep
(``bootstrap.scheduler.housekeeping_sweep``) runs :func:`send_sitrep_reminders` every minute.
"""

from __future__ import annotations

from django_tasks import task

from watchfloor.core import clock


@task()
def send_sitrep_reminders() -> str:
    """Tell each incident commander whose sitrep is due soon or overdue, once per due time
    (``crises.reminders``)."""
    from watchfloor.crises.reminders import remind_commanders

    reminders = remind_commanders(now=clock.now())
    return f"{len(reminders)} sitrep reminder{'' if len(reminders) == 1 else 's'}"
