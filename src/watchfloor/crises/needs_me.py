"""What waits on one person ("needs me"): the rows of the ``/me/`` page and the count in
the header navigation.

It reads from escalations, playbooks, coordination, notify and crises, so it lives on the
highest of those floors. Need to know comes first: every query starts from
``escalations.selectors.visible_through`` or ``crises_visible_to``, so a restricted
escalation or crisis the person is not on never shows, not even in the count.

Each kind is one query (:func:`_queries`). The page runs them for their rows; the count
runs them all at once as one ``SELECT`` of scalar ``count(*)`` subqueries, plus, only for
the commander of an active crisis, the commanded crises and their handoffs (sitrep and
handoff times come from the crisis settings, not from a column).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse

from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.core import clock
from watchfloor.core.roles import can_approve_decisions
from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.models import Crisis, Handoff, RoleAssignment, RoleKind
from watchfloor.crises.selectors import crises_visible_to, handoff_in_play
from watchfloor.escalations.models import Decision, Escalation, SeverityDowngrade
from watchfloor.escalations.selectors import visible_through
from watchfloor.notify.models import Engagement, EngagementStatus, Notification
from watchfloor.playbooks.models import FINISHED_STATES, RunRole, RunStatus, RunStep

if TYPE_CHECKING:
    from watchfloor.people.models import User

# A playbook step shows when it is overdue or falls due within this span.
STEP_DUE_SOON = timedelta(hours=1)


class NeedKind(StrEnum):
    APPROVAL = "approval"
    DOWNGRADE = "downgrade"
    STEP = "step"
    HANDOFF = "handoff"
    PARTNER_REQUEST = "partner_request"
    PAGE = "page"
    SITREP = "sitrep"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    NeedKind.APPROVAL: "Decision to approve",
    NeedKind.DOWNGRADE: "Severity downgrade to approve",
    NeedKind.STEP: "Playbook step",
    NeedKind.HANDOFF: "Handoff",
    NeedKind.PARTNER_REQUEST: "Partner request overdue",
    NeedKind.PAGE: "Page to acknowledge",
    NeedKind.SITREP: "Sitrep due",
}


@dataclass(frozen=True)
class NeedRow:
    """One thing waiting on the person: what it is, where to act, by when, and why it is
    theirs."""

    kind: NeedKind
    title: str
    link: str
    due_at: datetime | None
    why: str
    reference: str = ""
    is_overdue: bool = False
    # What the due time is when it is not the item's own deadline ("escalation's next clock").
    due_what: str = ""
    # The zone of the market it is about, shown beside the viewer's time where it differs.
    market_zone: str = ""

    @property
    def kind_label(self) -> str:
        return self.kind.label


@dataclass(frozen=True)
class _Queries:
    approvals: QuerySet[Decision]
    downgrades: QuerySet[SeverityDowngrade]
    steps: QuerySet[RunStep]
    handoffs_to_acknowledge: QuerySet[Handoff]
    partner_requests: QuerySet[PartnerRequest]
    pages: QuerySet[Engagement]
    commanded_crises: QuerySet[Crisis]


def _queries(user: User, *, now: datetime) -> _Queries:
    """One query per kind, need to know applied first."""
    # Need to know on each row's own escalation (the joined row and the person's access
    # list), not ``escalation__in=`` every visible escalation: the header asks this on
    # every page, and listing 100,000 escalations four times cost 40 ms of each.
    seen = visible_through(user)
    may_approve = can_approve_decisions(user)
    approvals = Decision.objects.filter(seen, state=Decision.State.PENDING_APPROVAL).exclude(
        decided_by=user
    )
    downgrades = SeverityDowngrade.objects.filter(
        seen, state=SeverityDowngrade.State.PENDING
    ).exclude(proposed_by=user)
    if not may_approve:
        approvals, downgrades = approvals.none(), downgrades.none()
    # A step is the person's when they hold its role in the run, or when nobody does and
    # they own the escalation (the owner is the analyst of record). A team's step is the
    # team's, not the owner's.
    holds_role = Exists(
        RunRole.objects.filter(run_id=OuterRef("run_id"), role=OuterRef("owner_role"), user=user)
    )
    role_held = Exists(
        RunRole.objects.filter(run_id=OuterRef("run_id"), role=OuterRef("owner_role"))
    )
    steps = (
        RunStep.objects.filter(
            visible_through(user, "run__escalation"),
            run__status=RunStatus.ACTIVE,
            due_at__isnull=False,
            due_at__lte=now + STEP_DUE_SOON,
        )
        .exclude(state__in=FINISHED_STATES)
        .filter(holds_role | (~role_held & Q(owner_team="", run__escalation__owner=user)))
    )
    visible_crises = crises_visible_to(user).values("pk")
    handoffs = Handoff.objects.filter(
        status=Handoff.Status.CONFIRMED,
        incoming_commander=user,
        crisis__is_active=True,
        crisis__in=visible_crises,
    )
    partner_requests = PartnerRequest.objects.filter(
        seen,
        status=RequestStatus.OPEN,
        requested_by=user,
        due_at__lt=now,
    )
    paged_me = Exists(Notification.objects.filter(engagement_id=OuterRef("pk"), recipient=user))
    pages = Engagement.objects.filter(seen, status=EngagementStatus.ACTIVE).filter(paged_me)
    commands = Exists(
        RoleAssignment.objects.filter(
            crisis_id=OuterRef("pk"),
            role=RoleKind.INCIDENT_COMMANDER,
            holder=user,
            ended_at__isnull=True,
        )
    )
    commanded = Crisis.objects.filter(pk__in=visible_crises, is_active=True).filter(commands)
    return _Queries(
        approvals=approvals,
        downgrades=downgrades,
        steps=steps,
        handoffs_to_acknowledge=handoffs,
        partner_requests=partner_requests,
        pages=pages,
        commanded_crises=commanded,
    )


class _Count(Subquery):
    template = "(SELECT count(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()


def needs_me_count(user: User) -> int:
    """How many rows :func:`needs_me` would list, in one query (three for the commander of
    an active crisis)."""
    if not user.is_authenticated or not user.is_active:
        return 0
    now = clock.now()
    queries = _queries(user, now=now)
    counted = {
        name: _Count(getattr(queries, name).order_by().values("pk"))
        for name in (
            "approvals",
            "downgrades",
            "steps",
            "handoffs_to_acknowledge",
            "partner_requests",
            "pages",
            "commanded_crises",
        )
    }
    row = get_user_model().objects.filter(pk=user.pk).annotate(**counted).values(*counted).first()
    if row is None:
        return 0
    # A kind the person cannot have (approvals for an analyst) is no query at all: None.
    commanded = row.pop("commanded_crises")
    total = sum(count or 0 for count in row.values())
    if commanded:
        total += len(_command_rows(queries.commanded_crises, now=now, config=crisis_config()))
    return total


def needs_me(user: User) -> list[NeedRow]:
    """Everything waiting on ``user``, the overdue first, then by due time."""
    if not user.is_authenticated or not user.is_active:
        return []
    now = clock.now()
    queries = _queries(user, now=now)
    rows: list[NeedRow] = []
    rows += _approval_rows(queries.approvals)
    rows += _downgrade_rows(queries.downgrades)
    rows += _step_rows(queries.steps, now=now)
    rows += _handoff_rows(queries.handoffs_to_acknowledge)
    rows += _partner_request_rows(queries.partner_requests)
    rows += _page_rows(queries.pages)
    rows += _command_rows(queries.commanded_crises, now=now, config=crisis_config())
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda row: (row.due_at or far, row.kind, row.reference))


def _escalation_link(escalation_id: int, anchor: str = "") -> str:
    link = reverse("escalation-detail", args=[escalation_id])
    return f"{link}#{anchor}" if anchor else link


def _about_escalation(
    kind: NeedKind,
    escalation: Escalation,
    *,
    what: str,
    why: str,
    anchor: str = "",
    due_at: datetime | None = None,
    due_what: str = "",
) -> NeedRow:
    """A row about an escalation as a whole: due when its next clock is, unless told."""
    return NeedRow(
        kind=kind,
        title=f"{what}: {escalation.title}",
        link=_escalation_link(escalation.pk, anchor),
        due_at=due_at or escalation.next_due_at,
        why=why,
        reference=escalation.reference,
        due_what=due_what if due_at else "the escalation's next clock",
        market_zone=_market_zone(escalation),
    )


def _market_zone(escalation: Escalation) -> str:
    """The primary market's zone (loaded with the escalation by the row's query)."""
    market = escalation.primary_market
    return market.primary_time_zone if market is not None else ""


def _approval_rows(approvals: QuerySet[Decision]) -> list[NeedRow]:
    approvals = approvals.select_related("escalation__primary_market", "action", "decided_by")
    return [
        _about_escalation(
            NeedKind.APPROVAL,
            decision.escalation,
            what=decision.action.label,
            anchor="decisions-heading",
            why=f"{decision.decided_by.display_name} proposed it; a second person must approve",
        )
        for decision in approvals
    ]


def _downgrade_rows(downgrades: QuerySet[SeverityDowngrade]) -> list[NeedRow]:
    downgrades = downgrades.select_related("escalation__primary_market", "proposed_by")
    return [
        _about_escalation(
            NeedKind.DOWNGRADE,
            change.escalation,
            what=f"SEV{change.from_severity} → SEV{change.to_severity}",
            anchor="severity-heading",
            why=(
                f"{change.proposed_by.display_name} proposed lowering a SEV{change.from_severity}; "
                "a second lead must approve"
            ),
        )
        for change in downgrades
    ]


def _step_rows(steps: QuerySet[RunStep], *, now: datetime) -> list[NeedRow]:
    steps = steps.select_related("run__escalation__primary_market", "run__version")
    rows = []
    for step in steps:
        escalation: Escalation = step.run.escalation
        role = step.owner_role.replace("_", " ") or "owner"
        overdue = step.due_at is not None and step.due_at < now
        rows.append(
            NeedRow(
                kind=NeedKind.STEP,
                title=f"{step.title} ({step.run.version.name})",
                link=_escalation_link(escalation.pk, "playbooks"),
                due_at=step.due_at,
                why=f"{'overdue' if overdue else 'due within the hour'}; you are its {role}",
                reference=escalation.reference,
                is_overdue=overdue,
                market_zone=_market_zone(escalation),
            )
        )
    return rows


def _handoff_rows(handoffs: QuerySet[Handoff]) -> list[NeedRow]:
    handoffs = handoffs.select_related("crisis", "outgoing_commander")
    return [
        NeedRow(
            kind=NeedKind.HANDOFF,
            title=f"Acknowledge the handoff: {handoff.crisis.title}",
            link=reverse("crisis-handoff", args=[handoff.crisis_id]),
            due_at=handoff.handoff_at,
            why=(
                f"{handoff.outgoing_commander.display_name} handed command to you; "
                "acknowledging makes you the incident commander"
            ),
            reference=handoff.crisis.reference,
        )
        for handoff in handoffs
    ]


def _partner_request_rows(requests: QuerySet[PartnerRequest]) -> list[NeedRow]:
    requests = requests.select_related("team", "escalation__primary_market")
    return [
        NeedRow(
            kind=NeedKind.PARTNER_REQUEST,
            title=f"{request.get_kind_display()} to {request.team.name}",
            link=reverse("partner-request", args=[request.pk]),
            due_at=request.due_at,
            why=f"you asked on {request.escalation.reference}; no answer yet",
            reference=request.reference,
            is_overdue=True,
            market_zone=_market_zone(request.escalation),
        )
        for request in requests
    ]


def _page_rows(pages: QuerySet[Engagement]) -> list[NeedRow]:
    pages = pages.select_related("escalation__primary_market")
    return [
        _about_escalation(
            NeedKind.PAGE,
            page.escalation,
            what=page.rule_name,
            due_at=page.next_stage_at,
            due_what="the next stage is told",
            why="you were paged and nobody has acknowledged it yet",
        )
        for page in pages
    ]


def _command_rows(
    crises: QuerySet[Crisis], *, now: datetime, config: CrisisConfig
) -> list[NeedRow]:
    """The sitrep due soon or overdue, and the handoff to confirm, of each crisis the
    person commands."""
    rows = []
    due_soon = config.settings.sitreps.due_soon_window
    for crisis in crises.prefetch_related("handoffs"):
        due = crisis.next_sitrep_due_at
        if due is not None and due - now <= due_soon:
            rows.append(
                NeedRow(
                    kind=NeedKind.SITREP,
                    title=f"Sitrep: {crisis.title}",
                    link=reverse("crisis-sitrep", args=[crisis.pk]),
                    due_at=due,
                    why="you are the incident commander"
                    + ("; it is overdue" if due < now else "; it falls due soon"),
                    reference=crisis.reference,
                    is_overdue=due < now,
                )
            )
        recorded = list(crisis.handoffs.all())
        upcoming = handoff_in_play(crisis, now, config=config, recorded=recorded)
        if upcoming is None or upcoming.at - now > due_soon:
            continue
        if any(handoff.handoff_at == upcoming.at for handoff in recorded):
            continue
        rows.append(
            NeedRow(
                kind=NeedKind.HANDOFF,
                title=f"Confirm the handoff to {upcoming.to_region.name}: {crisis.title}",
                link=reverse("crisis-handoff", args=[crisis.pk]),
                due_at=upcoming.at,
                why="you are the outgoing incident commander",
                reference=crisis.reference,
                is_overdue=upcoming.at < now,
            )
        )
    return rows
