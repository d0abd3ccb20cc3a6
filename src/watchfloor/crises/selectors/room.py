"""The war room: everything the crisis page shows in one read, each part built with the
viewer's visibility (escalations, decisions, steps, requests, the record), with its
query count pinned by tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.audit.models import AuditEvent
from watchfloor.coordination.selectors import RequestRow
from watchfloor.crises.cadence import SitrepClock
from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.models import (
    Crisis,
    CrisisEscalation,
    CrisisNote,
    Handoff,
    RoleAssignment,
    RoleKind,
    Sitrep,
)
from watchfloor.crises.selectors.access import RoleSlot, current_assignments, role_slots
from watchfloor.crises.selectors.deadlines import (
    Deadline,
    crisis_deadlines,
    open_partner_requests,
    sitrep_clock,
)
from watchfloor.crises.selectors.handoffs import handoff_in_play
from watchfloor.crises.selectors.lists import visible_links
from watchfloor.crises.selectors.record import (
    ESCALATION_DECISION_ACTIONS,
    crisis_events,
    escalation_events,
    pinned_notes,
    sitreps_readable_by,
)
from watchfloor.crises.selectors.stand_down import CriterionResult, stand_down_criteria
from watchfloor.crises.shifts import HandoffTime
from watchfloor.escalations.models import Decision
from watchfloor.playbooks.models import FINISHED_STATES, RunStatus
from watchfloor.playbooks.selectors import runs_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User


@dataclass
class WarRoom:
    """Everything the war room shows, loaded in a fixed number of queries."""

    crisis: Crisis
    now: datetime
    config: CrisisConfig
    current: list[RoleAssignment]
    slots: list[RoleSlot]
    links: list[CrisisEscalation]
    deadlines: list[Deadline]
    pinned: list[CrisisNote]
    crisis_decisions: list[CrisisNote]
    crisis_decision_count: int
    sitrep: SitrepClock
    recent_sitreps: list[Sitrep]
    handoff: HandoffTime | None
    handoffs: list[Handoff]
    events: list[AuditEvent]
    decision_events: list[AuditEvent]
    requests: list[RequestRow] = field(default_factory=list)
    criteria: list[CriterionResult] = field(default_factory=list)

    @property
    def commander(self) -> User | None:
        return next((a.holder for a in self.current if a.role == RoleKind.INCIDENT_COMMANDER), None)

    @property
    def visible_escalation_ids(self) -> set[int]:
        return {link.escalation_id for link in self.links}

    @property
    def open_escalations(self) -> int:
        return sum(1 for link in self.links if link.escalation.is_open)

    @property
    def recorded_handoff(self) -> Handoff | None:
        if self.handoff is None:
            return None
        return next((h for h in self.handoffs if h.handoff_at == self.handoff.at), None)

    def escalation_decisions(self) -> list[Decision]:
        decisions = [d for link in self.links for d in link.escalation.decisions.all()]
        return sorted(decisions, key=lambda d: (d.decided_at, d.pk), reverse=True)


# Events the war room's live timeline shows (the latest); the review reconstructs them all.
TIMELINE_LIMIT = 100


# Entries the war room's decision log shows (the latest); the review has every one.
DECISION_LOG_LIMIT = 50


def war_room(
    *,
    crisis: Crisis,
    viewer: User,
    now: datetime,
    with_criteria: bool = False,
    config: CrisisConfig | None = None,
) -> WarRoom:
    config = config or crisis_config()
    crisis = (
        Crisis.objects.select_related("declared_by", "declared_from")
        .prefetch_related("markets", "access_list")
        .get(pk=crisis.pk)
    )
    current = current_assignments(crisis)
    links = visible_links(crisis=crisis, viewer=viewer)
    handoffs = list(
        Handoff.objects.filter(crisis=crisis)
        .select_related("outgoing_commander", "incoming_commander")
        .order_by("-handoff_at")[:6]
    )
    handoff = handoff_in_play(crisis, now, config=config, recorded=handoffs)
    pinned = list(
        pinned_notes(crisis).select_related("author", "pinned_by").order_by("-created_at", "-pk")
    )
    # The latest decisions only: a long crisis records thousands, the review lists them all.
    decisions = CrisisNote.objects.filter(crisis=crisis, kind=CrisisNote.Kind.DECISION)
    crisis_decisions = list(
        decisions.select_related("author", "pinned_by").order_by("-created_at", "-pk")[
            :DECISION_LOG_LIMIT
        ]
    )
    ids = [link.escalation_id for link in links]
    requests = open_partner_requests(viewer=viewer, escalation_ids=ids, now=now)
    events = list(crisis_events(crisis).order_by("-sequence")[:TIMELINE_LIMIT])
    decision_events = list(
        escalation_events(ids, actions=ESCALATION_DECISION_ACTIONS).order_by("-sequence")[
            :TIMELINE_LIMIT
        ]
    )
    return WarRoom(
        crisis=crisis,
        now=now,
        config=config,
        current=current,
        slots=role_slots(market_codes=[m.code for m in crisis.markets.all()], current=current),
        links=links,
        deadlines=crisis_deadlines(
            crisis=crisis,
            viewer=viewer,
            links=links,
            now=now,
            config=config,
            handoff=handoff,
            requests=requests,
        ),
        requests=requests,
        pinned=pinned,
        crisis_decisions=crisis_decisions,
        crisis_decision_count=(
            decisions.count()
            if len(crisis_decisions) == DECISION_LOG_LIMIT
            else len(crisis_decisions)
        ),
        sitrep=sitrep_clock(crisis, now=now, config=config),
        recent_sitreps=list(sitreps_readable_by(crisis, viewer=viewer, config=config)[:8]),
        handoff=handoff,
        handoffs=handoffs,
        events=events,
        decision_events=decision_events,
        criteria=stand_down_criteria(crisis=crisis, viewer=viewer, now=now, config=config)
        if with_criteria
        else [],
    )


def pending_decisions(links: Iterable[CrisisEscalation]) -> list[Decision]:
    return [
        d
        for link in links
        for d in link.escalation.decisions.all()
        if d.state == Decision.State.PENDING_APPROVAL
    ]


def partner_owned_open_steps(
    *, viewer: User, escalation_ids: list[int]
) -> list[tuple[int, str, str]]:
    """Unfinished steps of active runs that a partner team owns: (escalation id, title, team)."""
    runs = (
        runs_visible_to(viewer)
        .filter(escalation_id__in=escalation_ids, status=RunStatus.ACTIVE)
        .prefetch_related("steps")
    )
    return [
        (run.escalation_id, step.title, step.owner_team)
        for run in runs
        for step in run.steps.all()
        if step.owner_team and step.state not in FINISHED_STATES
    ]
