"""Background work of the actioner, on the Django tasks API (database backend).

Each retry is a task row with ``run_after``, so it survives restarts; the task calls
one service, which re-reads the request under a lock and does nothing when it was
already sent or is not yet due. Enqueue only through :func:`send_after_commit`.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django_tasks import task

from watchfloor.core import clock


@task()
def send_enforcement_request(request_id: int) -> str:
    """One attempt at sending an enforcement request to its connector."""
    from watchfloor.banks.actioner import send_request

    return send_request(request_id=request_id)


def send_after_commit(request_id: int, *, at: datetime | None = None) -> None:
    def enqueue() -> None:
        run_after = at if at is not None and at > clock.now() else None
        target = (
            send_enforcement_request.using(run_after=run_after)
            if run_after
            else send_enforcement_request
        )
        target.enqueue(request_id)

    transaction.on_commit(enqueue)
