"""The queue's figures at a glance (breached, due within the hour, awaiting approval) and
the "new since you loaded" count: capped counts of what the viewer may see, read through
:mod:`watchfloor.escalations.selectors`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from watchfloor.escalations.models import Decision, SeverityDowngrade
from watchfloor.escalations.selectors import QueueFilters, escalations_visible_to, triage_queue
from watchfloor.web.pagination import capped_count, capped_counts, capped_text

if TYPE_CHECKING:
    from watchfloor.people.models import User

# Past this a figure reads "999+": the strip is for a glance, and a count stops reading
# rows there (web.pagination.capped_count) however long the queue grows.
GLANCE_CAP = 999
DUE_SOON = timedelta(hours=1)


@dataclass(frozen=True)
class GlanceFigure:
    count: int
    is_capped: bool

    def __str__(self) -> str:
        return capped_text(self.count, self.is_capped)


@dataclass(frozen=True)
class QueueGlance:
    breached: GlanceFigure
    due_within_the_hour: GlanceFigure
    awaiting_approval: GlanceFigure


def queue_glance(*, user: User, now: datetime) -> QueueGlance:
    """The open queue's figures that ask for someone now, of what ``user`` may see: one
    capped count each, on the open-queue indexes (open, not a drill: the default queue),
    the three in one query."""
    open_queue = escalations_visible_to(user).filter(is_open=True, is_drill=False)
    # From the approvals' side: the few pending ones, each on a partial index, rather
    # than a test on every open row.
    awaiting_approval = (
        Decision.objects.filter(state=Decision.State.PENDING_APPROVAL)
        .order_by()
        .values("escalation_id")
        .union(
            SeverityDowngrade.objects.filter(state=SeverityDowngrade.State.PENDING)
            .order_by()
            .values("escalation_id")
        )
    )
    breached, due_soon, approval = capped_counts(
        [
            # queue_due_at is the earliest running clock's deadline (NO_DEADLINE when none
            # runs).
            open_queue.filter(queue_due_at__lt=now),
            open_queue.filter(queue_due_at__gte=now, queue_due_at__lt=now + DUE_SOON),
            open_queue.filter(pk__in=awaiting_approval),
        ],
        cap=GLANCE_CAP,
    )
    return QueueGlance(
        breached=GlanceFigure(*breached),
        due_within_the_hour=GlanceFigure(*due_soon),
        awaiting_approval=GlanceFigure(*approval),
    )


# ---------------------------------------------------------------- new since the page loaded

# Past this the indicator reads "99+ new": it asks for a reload, not for a figure.
NEW_SINCE_CAP = 99


def queue_high_water_mark(*, user: User) -> int:
    """The newest escalation ``user`` may see (0 for none): the queue page's mark for
    "new since you loaded". Ids grow as escalations are filed, so "filed after the page
    loaded" is "an id above the mark": a range on the primary key. The newest one the
    viewer may see, not the newest of all, so the page says nothing of hidden ones."""
    return escalations_visible_to(user).order_by("-pk").values_list("pk", flat=True).first() or 0


def new_since(*, user: User, filters: QueueFilters, mark: int) -> GlanceFigure:
    """How many escalations of the queue as filtered (need-to-know first, drills hidden
    unless asked for) were filed after ``mark``: one capped count on a primary-key range."""
    escalations = triage_queue(user=user, filters=filters).filter(pk__gt=mark)
    return GlanceFigure(*capped_count(escalations, cap=NEW_SINCE_CAP))
