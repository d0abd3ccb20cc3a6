"""Reads of escalations. Every query starts from :func:`escalations_visible_to`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.selectors import events_for_escalation
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role, is_admin
from watchfloor.escalations.models import Escalation

if TYPE_CHECKING:
    from watchfloor.people.models import User


def escalations_visible_to(user: User) -> QuerySet[Escalation]:
    """Need to know, applied before anything else.

    Admins see everything. Partner-team members see only escalations shared with their
    team. Everyone else sees unrestricted escalations. A restricted escalation is seen
    only by the people on its access list (and admins), whoever they are.
    """
    escalations = Escalation.objects.all()
    if not user.is_authenticated or not user.is_active:
        return escalations.none()
    if is_admin(user):
        return escalations
    on_access_list = Exists(
        Escalation.access_list.through.objects.filter(escalation_id=OuterRef("pk"), user_id=user.pk)
    )
    visible = Q(is_restricted=False) | Q(on_access_list)
    if user.role == Role.PARTNER:
        if user.team_id is None:
            return escalations.none()
        shared = Exists(
            Escalation.shared_with_teams.through.objects.filter(
                escalation_id=OuterRef("pk"), team_id=user.team_id
            )
        )
        return escalations.filter(shared).filter(visible)
    return escalations.filter(visible)


def access_escalation(*, actor: User, escalation_id: int | str) -> Escalation:
    """The escalation, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(escalation_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no escalation '{escalation_id}'", field="escalation_id") from exc
    escalation = (
        escalations_visible_to(actor)
        .select_related("type", "owner", "policy", "catalog_version", "source_team", "merged_into")
        .filter(pk=pk)
        .first()
    )
    if escalation is None:
        raise NotFound(f"no escalation WF-{pk} that you can see", field="escalation_id")
    return escalation


@dataclass(frozen=True)
class QueueFilters:
    statuses: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    market: str = ""
    policy: str = ""
    mine: bool = False
    owner_username: str = ""
    text: str = ""
    include_closed: bool = False
    # Escalations opened by crisis drills: "hide" (the default: a queue of real work),
    # "include" or "only".
    drills: str = "hide"


DRILL_FILTERS = ("hide", "include", "only")


def triage_queue(*, user: User, filters: QueueFilters) -> QuerySet[Escalation]:
    """Open escalations, most severe first, then the nearest deadline first."""
    escalations = escalations_visible_to(user)
    if filters.statuses:
        escalations = escalations.filter(status__in=filters.statuses)
    elif not filters.include_closed:
        # Written as the open-queue index's own condition, so the planner can use it.
        escalations = escalations.filter(is_open=True)
    if filters.drills == "hide":
        escalations = escalations.filter(is_drill=False)
    elif filters.drills == "only":
        escalations = escalations.filter(is_drill=True)
    if filters.severities:
        escalations = escalations.filter(severity__in=filters.severities)
    if filters.market:
        # From the market's side: a few thousand ids by index, not a test on every row.
        escalations = escalations.filter(
            pk__in=Escalation.markets.through.objects.filter(market__code=filters.market).values(
                "escalation_id"
            )
        )
    if filters.policy:
        escalations = escalations.filter(policy__code=filters.policy)
    if filters.mine:
        escalations = escalations.filter(owner=user)
    elif filters.owner_username:
        escalations = escalations.filter(owner__username=filters.owner_username)
    if filters.text:
        escalations = escalations.filter(
            Q(title__icontains=filters.text) | Q(summary__icontains=filters.text)
        )
    return (
        escalations.select_related("type", "owner", "policy")
        .prefetch_related("markets")
        # queue_due_at is never empty: no running clock sorts last on every database.
        .order_by("severity", "queue_due_at", "pk")
    )


def escalation_detail(escalation: Escalation) -> Escalation:
    """Load what the detail page and API show, in a fixed number of queries."""
    return (
        Escalation.objects.select_related(
            "type",
            "owner",
            "policy",
            "catalog_version",
            "source_team",
            "merged_into",
            "severity_overridden_by",
            "created_by",
            "primary_market",
        )
        .prefetch_related(
            "markets",
            "subjects",
            "clocks__statutory_rule",
            "access_list",
            "shared_with_teams",
            "decisions__policy_version__policy",
            "decisions__action",
            "decisions__decided_by",
            "decisions__reviewed_by",
            "merged_duplicates",
        )
        .get(pk=escalation.pk)
    )


def linked_escalations(*, escalation: Escalation, user: User) -> QuerySet[Escalation]:
    """Related escalations the viewer may see (a hidden one is simply not listed)."""
    from watchfloor.escalations.models import Link

    ids = set(
        Link.objects.filter(from_escalation=escalation).values_list("to_escalation_id", flat=True)
    ) | set(
        Link.objects.filter(to_escalation=escalation).values_list("from_escalation_id", flat=True)
    )
    return escalations_visible_to(user).filter(pk__in=ids).select_related("type")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    label: str
    data: dict[str, Any]


def escalation_timeline(escalation: Escalation) -> list[TimelineEntry]:
    """The audit events about this escalation, in order. Views of restricted escalations
    are kept in the log but left out of the reading timeline to keep it about the work."""
    return [
        TimelineEntry(
            at=event.occurred_at,
            actor=event.actor_label,
            action=event.action,
            label=event.action_label,
            data=event.data,
        )
        for event in events_for_escalation(escalation.pk).exclude(
            action=AuditAction.ESCALATION_VIEWED
        )
    ]


EXPORT_COLUMNS = (
    "reference",
    "title",
    "type",
    "severity",
    "status",
    "markets",
    "languages",
    "policy",
    "owner",
    "source",
    "next_deadline",
    "next_deadline_at_utc",
    "opened_at_utc",
    "restricted",
)


def queue_export_rows(*, user: User, filters: QueueFilters):
    """The queue as rows for a file: the same need-to-know as the page, streamed in chunks."""
    escalations = triage_queue(user=user, filters=filters)
    for escalation in escalations.iterator(chunk_size=2000):
        yield (
            escalation.reference,
            escalation.title,
            escalation.type.code,
            escalation.severity_name,
            escalation.status,
            " ".join(m.code for m in escalation.markets.all()),
            " ".join(escalation.languages),
            escalation.policy.code if escalation.policy else "",
            escalation.owner.username if escalation.owner else "",
            escalation.source_kind,
            escalation.next_due_label,
            escalation.next_due_at.isoformat() if escalation.next_due_at else "",
            escalation.opened_at.isoformat(),
            "yes" if escalation.is_restricted else "no",
        )
