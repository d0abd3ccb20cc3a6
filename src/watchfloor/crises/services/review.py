"""The post-incident review: its facts, root causes and action items, and its export."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.roles import Role
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises import permissions
from watchfloor.crises.models import (
    ACTION_ITEM_TRANSITIONS,
    WHYS_MAX,
    ActionItem,
    Crisis,
    Level,
    Review,
    RootCause,
)
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.people.models import User

if TYPE_CHECKING:
    pass
from watchfloor.crises.services.common import REASON_MAX, SUMMARY_MAX, record_crisis_event

# ---------------------------------------------------------------- post-incident review


def _review_for_update(crisis: Crisis, actor: User) -> Review:
    _require(may_work_crisis(actor), "your role cannot write the post-incident review")
    if crisis.level not in (Level.STAND_DOWN, Level.CLOSED):
        raise Conflict(
            f"the post-incident review opens when {crisis.reference} stands down", field="review"
        )
    now = clock.now()
    review, _ = Review.objects.select_for_update().get_or_create(
        crisis=crisis, defaults={"started_at": now, "updated_at": now}
    )
    return review


def _aware(value: datetime | None, *, field: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput("times must carry their zone", field=field)
    if value is not None and value > clock.now():
        raise InvalidInput("that time is in the future", field=field)
    return value


@transaction.atomic
def update_review(
    *,
    crisis: Crisis,
    actor: User,
    summary: str = "",
    went_well: str = "",
    went_badly: str = "",
    contributing_factors: str = "",
    incident_started_at: datetime | None = None,
    contained_at: datetime | None = None,
) -> Review:
    review = _review_for_update(crisis, actor)
    values: dict[str, Any] = {
        "summary": _text(summary, field="summary", max_length=SUMMARY_MAX, required=False),
        "went_well": _text(went_well, field="went_well", max_length=SUMMARY_MAX, required=False),
        "went_badly": _text(went_badly, field="went_badly", max_length=SUMMARY_MAX, required=False),
        "contributing_factors": _text(
            contributing_factors,
            field="contributing_factors",
            max_length=SUMMARY_MAX,
            required=False,
        ),
        "incident_started_at": _aware(incident_started_at, field="incident_started_at"),
        "contained_at": _aware(contained_at, field="contained_at"),
    }
    if (
        values["incident_started_at"]
        and values["contained_at"]
        and values["contained_at"] < values["incident_started_at"]
    ):
        raise InvalidInput(
            "containment cannot come before the incident began", field="contained_at"
        )
    changed = {name: value for name, value in values.items() if getattr(review, name) != value}
    for name, value in changed.items():
        setattr(review, name, value)
    review.updated_at, review.updated_by = clock.now(), actor
    review.save()
    record_crisis_event(
        AuditAction.CRISIS_REVIEW_UPDATED,
        crisis=crisis,
        actor=actor,
        target=review,
        data={"changed": changed},
    )
    return review


@transaction.atomic
def add_root_cause(
    *, crisis: Crisis, actor: User, problem: str, whys: list[str], root_cause: str
) -> RootCause:
    """A five-whys chain: the problem, up to five answers to "why?", and the root cause."""
    review = _review_for_update(crisis, actor)
    problem = _text(problem, field="problem", max_length=REASON_MAX, required=True)
    answers = [
        _text(why, field=f"whys[{index}]", max_length=REASON_MAX, required=False)
        for index, why in enumerate(whys)
    ]
    answers = [answer for answer in answers if answer]
    if not answers:
        raise InvalidInput("answer at least the first 'why?'", field="whys[0]")
    if len(answers) > WHYS_MAX:
        raise InvalidInput(f"at most {WHYS_MAX} whys", field=f"whys[{WHYS_MAX}]")
    root_cause = _text(root_cause, field="root_cause", max_length=REASON_MAX, required=True)
    cause = RootCause.objects.create(
        review=review,
        problem=problem,
        whys=answers,
        root_cause=root_cause,
        created_at=clock.now(),
        created_by=actor,
    )
    record_crisis_event(
        AuditAction.CRISIS_ROOT_CAUSE_ADDED,
        crisis=crisis,
        actor=actor,
        target=cause,
        data={"problem": problem, "whys": answers, "root_cause": root_cause},
    )
    return cause


@transaction.atomic
def add_action_item(
    *, crisis: Crisis, actor: User, title: str, owner: User, due_on: date
) -> ActionItem:
    review = _review_for_update(crisis, actor)
    title = _text(title, field="title", max_length=300, required=True)
    if owner.role == Role.VIEWER or not owner.is_active:
        raise InvalidInput(f"{owner.username} cannot own an action item", field="owner")
    if not permissions.may_see(owner, crisis):
        raise InvalidInput(f"{owner.username} cannot see {crisis.reference}", field="owner")
    item = ActionItem.objects.create(
        review=review,
        title=title,
        owner=owner,
        due_on=due_on,
        created_at=clock.now(),
        created_by=actor,
    )
    record_crisis_event(
        AuditAction.CRISIS_ACTION_ITEM_ADDED,
        crisis=crisis,
        actor=actor,
        target=item,
        data={"item_id": item.pk, "title": title, "owner": owner.username, "due_on": due_on},
    )
    return item


@transaction.atomic
def change_action_item(*, item: ActionItem, actor: User, status: str, note: str = "") -> ActionItem:
    """Mark an action item done or dropped (dropping needs a note), or reopen it."""
    item = ActionItem.objects.select_for_update().select_related("review__crisis").get(pk=item.pk)
    _require(
        may_work_crisis(actor) or item.owner_id == actor.pk,
        "only site policy or the item's owner may update it",
    )
    if status not in ActionItem.Status.values:
        raise InvalidInput(
            f"unknown status '{status}'; use one of {', '.join(ActionItem.Status.values)}",
            field="status",
        )
    if status not in ACTION_ITEM_TRANSITIONS[item.status]:
        raise Conflict(
            f"this item is {ActionItem.Status(item.status).label.lower()}; it cannot become "
            f"{ActionItem.Status(status).label.lower()}",
            field="status",
        )
    note = _text(
        note, field="note", max_length=REASON_MAX, required=status == ActionItem.Status.DROPPED
    )
    previous = item.status
    now = clock.now()
    item.status = status
    item.status_note = note
    item.closed_at, item.closed_by = (
        (None, None) if status == ActionItem.Status.OPEN else (now, actor)
    )
    item.save(update_fields=["status", "status_note", "closed_at", "closed_by"])
    record_crisis_event(
        AuditAction.CRISIS_ACTION_ITEM_CHANGED,
        crisis=item.review.crisis,
        actor=actor,
        target=item,
        data={
            "item_id": item.pk,
            "title": item.title,
            "from": previous,
            "to": status,
            "note": note,
        },
    )
    return item


@transaction.atomic
def record_review_export(*, crisis: Crisis, actor: User, format: str) -> None:
    """Who took the review out of the system, and in what form."""
    record_crisis_event(
        AuditAction.CRISIS_REVIEW_EXPORTED, crisis=crisis, actor=actor, data={"format": format}
    )
