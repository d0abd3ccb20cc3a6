"""Reads of partner requests. Every query starts from :func:`requests_visible_to`.

Need to know: a request is as visible as its escalation, and a partner sees only the
requests made of their own team. So a partner's inbox, the API and every count hold
the requests to their team on escalations shared with it, and nothing else; a request
whose escalation is no longer shared with the team disappears from its inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.people.rotas import is_working_time

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User


def requests_visible_to(user: User) -> QuerySet[PartnerRequest]:
    requests = PartnerRequest.objects.filter(escalation__in=escalations_visible_to(user))
    if user.is_authenticated and user.role == Role.PARTNER:
        if user.team_id is None:
            return requests.none()
        requests = requests.filter(team_id=user.team_id)
    return requests


def access_partner_request(*, actor: User, request_id: int | str) -> PartnerRequest:
    """The request, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(request_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no partner request '{request_id}'", field="request_id") from exc
    found = (
        requests_visible_to(actor)
        .select_related(
            "team",
            "escalation__type",
            "escalation__primary_market",
            "requested_by",
            "answered_by",
            "withdrawn_by",
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(f"no partner request PR-{pk} that you can see", field="request_id")
    return found


@dataclass(frozen=True)
class InboxFilters:
    statuses: tuple[str, ...] = (RequestStatus.OPEN,)
    team: str = ""
    kind: str = ""
    escalation_id: int | None = None
    overdue_only: bool = False


def inbox(*, user: User, filters: InboxFilters, now: datetime) -> QuerySet[PartnerRequest]:
    """Open requests first, nearest deadline first (so the overdue lead); then the
    answered and withdrawn, most recent first."""
    requests = requests_visible_to(user)
    if filters.statuses:
        requests = requests.filter(status__in=filters.statuses)
    if filters.team:
        requests = requests.filter(team__code=filters.team)
    if filters.kind:
        requests = requests.filter(kind=filters.kind)
    if filters.escalation_id is not None:
        requests = requests.filter(escalation_id=filters.escalation_id)
    if filters.overdue_only:
        requests = requests.filter(status=RequestStatus.OPEN, due_at__lt=now)
    open_first = Case(
        When(status=RequestStatus.OPEN, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        requests.select_related(
            "team", "escalation__type", "requested_by", "answered_by", "withdrawn_by"
        )
        .annotate(open_first=open_first)
        .order_by("open_first", "due_at", "-answered_at", "-pk")
    )


@dataclass(frozen=True)
class InboxCounts:
    open: int
    overdue: int


def inbox_counts(*, user: User, now: datetime) -> InboxCounts:
    """How many of the viewer's visible requests are open and overdue, in one query."""
    counts = requests_visible_to(user).aggregate(
        open=Count("pk", filter=Q(status=RequestStatus.OPEN)),
        overdue=Count("pk", filter=Q(status=RequestStatus.OPEN, due_at__lt=now)),
    )
    return InboxCounts(open=counts["open"], overdue=counts["overdue"])


def requests_for_escalation(*, escalation: Escalation, viewer: User) -> QuerySet[PartnerRequest]:
    """The requests of one (visible) escalation the viewer may see: all of them for site
    policy, their own team's for a partner."""
    return (
        requests_visible_to(viewer)
        .filter(escalation=escalation)
        .select_related("team", "requested_by", "answered_by", "withdrawn_by")
        .order_by("requested_at", "pk")
    )


@dataclass(frozen=True)
class RequestRow:
    """A request as a list shows it: whether it is overdue, and whether its deadline falls
    in the asked team's working hours (a 03:00 deadline for Legal should be visible)."""

    request: PartnerRequest
    is_overdue: bool
    team_zone: str
    due_in_working_hours: bool | None


def request_rows(requests: list[PartnerRequest], *, now: datetime) -> list[RequestRow]:
    rows = []
    for partner_request in requests:
        team = partner_request.team
        rows.append(
            RequestRow(
                request=partner_request,
                is_overdue=partner_request.is_open and partner_request.due_at < now,
                team_zone=team.time_zone or "UTC",
                due_in_working_hours=is_working_time(
                    partner_request.due_at,
                    zone=team.time_zone or "UTC",
                    starts=team.working_hours_start,
                    ends=team.working_hours_end,
                    days=team.working_days or [],
                ),
            )
        )
    return rows
