"""Background work of the actioner, on the Django tasks API (database backend).

Each retry is a task row with ``run_after``, so it survives restarts; the task calls
one service, which re-reads the request under a lock and does nothing when it was
already sent or is not yet due. Enqueue only through :func:`send_after_commit`.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

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


@task()
def fetch_exchange_task(exchange_id: int) -> str:
    """Fetch one exchange from its checkpoint, then send its queued opinions."""
    from watchfloor.banks.exchange_feedback import send_feedback
    from watchfloor.banks.exchanges import fetch_exchange
    from watchfloor.banks.models import Exchange
    from watchfloor.core.errors import Conflict

    exchange = Exchange.objects.select_related("bank").get(pk=exchange_id)
    try:
        result = fetch_exchange(exchange=exchange, actor=None)
    except Conflict as busy:
        return busy.message
    sent = send_feedback(exchange=exchange)
    return f"{result.summary()}; opinions: {sent}"


@task()
def send_exchange_feedback(exchange_id: int) -> str:
    from watchfloor.banks.exchange_feedback import send_feedback
    from watchfloor.banks.models import Exchange

    return str(send_feedback(exchange=Exchange.objects.get(pk=exchange_id)))


def send_feedback_after_commit(exchange_id: int) -> None:
    transaction.on_commit(lambda: send_exchange_feedback.enqueue(exchange_id))


def send_missed_decisions() -> int:
    """Final decisions whose hook was lost, sent now (the worker's housekeeping)."""
    from watchfloor.banks.decision_sending import send_missed_decisions as send

    return send()


def fetch_due_exchanges() -> int:
    """Enqueue a fetch for each exchange that is due (the worker's housekeeping calls
    this); returns how many."""
    from watchfloor.banks.exchanges import exchanges_due, mark_queued

    now = clock.now()
    with transaction.atomic():
        due = exchanges_due(now=now)
        mark_queued(due, now=now)
        for exchange in due:
            transaction.on_commit(partial(fetch_exchange_task.enqueue, exchange.pk))
    return len(due)
