"""Reads of crises. Every query of crises starts from :func:`crises_visible_to`, and what a
crisis shows of its escalations goes through ``escalations_visible_to`` as well, so a
hidden escalation is never listed, counted or quoted in a crisis the viewer may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.coordination.selectors import RequestRow, request_rows, requests_visible_to
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role, is_admin
from watchfloor.crises.cadence import SitrepClock, sitrep_state
from watchfloor.crises.config import CrisisConfig, Criterion, crisis_config
from watchfloor.crises.models import (
    LEVEL_URGENCY,
    Crisis,
    CrisisEscalation,
    CrisisNote,
    Handoff,
    Level,
    RoleAssignment,
    RoleKind,
    Sitrep,
    SitrepSection,
)
from watchfloor.crises.models import SitrepReminder as SitrepReminderRow
from watchfloor.crises.permissions import may_read_sitrep, may_work_crisis
from watchfloor.crises.shifts import HandoffTime, next_handoff_time, previous_handoff_time
from watchfloor.escalations.models import Clock, Decision, Escalation, Status
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.playbooks.models import FINISHED_STATES, RunStatus
from watchfloor.playbooks.selectors import runs_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User

# Escalation statuses at which an escalation no longer holds a crisis open.
SETTLED_STATUSES = frozenset({Status.DECIDED, Status.ACTIONED, Status.CLOSED})
# What the crisis writes to the log, and what of its escalations' log it reads back.
CRISIS_ACTIONS = tuple(action for action in AuditAction.values if action.startswith("crisis."))
TIMELINE_CRISIS_ACTIONS = tuple(
    a
    for a in CRISIS_ACTIONS
    if a not in (AuditAction.CRISIS_VIEWED, AuditAction.CRISIS_REVIEW_EXPORTED)
)
ESCALATION_DECISION_ACTIONS = (
    AuditAction.DECISION_RECORDED,
    AuditAction.DECISION_APPROVED,
    AuditAction.DECISION_REJECTED,
)


# ---------------------------------------------------------------- need to know


def crises_visible_to(user: User) -> QuerySet[Crisis]:
    """Need to know, applied before anything else.

    Admins see every crisis. A restricted crisis is seen only by the people on its access
    list. Partner-team members see a crisis only when one of its escalations is shared
    with their team (and visible to them); everyone else sees unrestricted crises.
    """
    crises = Crisis.objects.all()
    if not user.is_authenticated or not user.is_active:
        return crises.none()
    if is_admin(user):
        return crises
    on_access_list = Exists(
        Crisis.access_list.through.objects.filter(crisis_id=OuterRef("pk"), user_id=user.pk)
    )
    visible = Q(is_restricted=False) | Q(on_access_list)
    if user.role == Role.PARTNER:
        if user.team_id is None:
            return crises.none()
        shared = Exists(
            CrisisEscalation.objects.filter(
                crisis_id=OuterRef("pk"), escalation__in=escalations_visible_to(user)
            )
        )
        return crises.filter(shared).filter(visible)
    return crises.filter(visible)


def access_crisis(*, actor: User, crisis_id: int | str) -> Crisis:
    """The crisis, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(str(crisis_id).upper().removeprefix("CR-"))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no crisis '{crisis_id}'", field="crisis_id") from exc
    crisis = (
        crises_visible_to(actor)
        .select_related("declared_by", "declared_from")
        .filter(pk=pk)
        .first()
    )
    if crisis is None:
        raise NotFound(f"no crisis CR-{pk} that you can see", field="crisis_id")
    return crisis


# ---------------------------------------------------------------- roles


def current_assignments(crisis: Crisis) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True).select_related("holder")
    )


def role_history(crisis: Crisis) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(crisis=crisis).select_related(
            "holder", "started_by", "ended_by"
        )
    )


def commander_of(crisis: Crisis) -> User | None:
    assignment = (
        RoleAssignment.objects.filter(
            crisis=crisis, role=RoleKind.INCIDENT_COMMANDER, ended_at__isnull=True
        )
        .select_related("holder")
        .first()
    )
    return assignment.holder if assignment else None


@dataclass(frozen=True)
class RoleSlot:
    """One role of the crisis and who holds it now (``None``: open)."""

    role: str
    market_code: str
    assignment: RoleAssignment | None

    @property
    def label(self) -> str:
        label = RoleKind(self.role).label
        return f"{label} ({self.market_code})" if self.market_code else label

    @property
    def holder(self) -> User | None:
        return self.assignment.holder if self.assignment else None

    @property
    def key(self) -> str:
        return f"{self.role}:{self.market_code}" if self.market_code else self.role


def role_slots(*, market_codes: Iterable[str], current: Iterable[RoleAssignment]) -> list[RoleSlot]:
    """Every role, held or open, in a fixed order; a regional lead for each market."""
    held = {(a.role, a.market_code): a for a in current}
    slots = []
    for role in RoleKind.values:
        if role == RoleKind.REGIONAL_LEAD:
            codes = list(dict.fromkeys([*market_codes, *(m for r, m in held if r == role)]))
            slots.extend(RoleSlot(role, code, held.get((role, code))) for code in codes)
        else:
            slots.append(RoleSlot(role, "", held.get((role, ""))))
    return slots


# ---------------------------------------------------------------- lists


def crisis_list(*, user: User, include_closed: bool = True) -> QuerySet[Crisis]:
    """Crises the user may see: active ones first, the most urgent level first, then the
    nearest sitrep; closed ones after, the latest first."""
    crises = crises_visible_to(user)
    if not include_closed:
        crises = crises.filter(is_active=True)
    urgency = Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_URGENCY.items()),
        output_field=IntegerField(),
    )
    visible_links = CrisisEscalation.objects.filter(
        escalation__in=escalations_visible_to(user)
    ).select_related("escalation")
    commanders = RoleAssignment.objects.filter(
        role=RoleKind.INCIDENT_COMMANDER, ended_at__isnull=True
    ).select_related("holder")
    return (
        crises.annotate(urgency=urgency)
        .prefetch_related(
            "markets",
            Prefetch("links", queryset=visible_links, to_attr="visible_links"),
            Prefetch("role_assignments", queryset=commanders, to_attr="current_commanders"),
        )
        .order_by("-is_active", "urgency", "next_sitrep_due_at", "-declared_at", "-pk")
    )


@dataclass(frozen=True)
class CrisisFilters:
    """What the crises list may be narrowed to; an empty filter leaves everything in."""

    active: bool | None = None  # True: active only; False: closed only
    levels: tuple[str, ...] = ()
    market: str = ""


def filtered_crisis_list(*, user: User, filters: CrisisFilters) -> QuerySet[Crisis]:
    """:func:`crisis_list`, in the same order and with the same prefetches, narrowed."""
    crises = crisis_list(user=user)
    if filters.active is not None:
        crises = crises.filter(is_active=filters.active)
    if filters.levels:
        crises = crises.filter(level__in=list(filters.levels))
    if filters.market:
        crises = crises.filter(
            Exists(
                Crisis.markets.through.objects.filter(
                    crisis_id=OuterRef("pk"), market__code=filters.market
                )
            )
        )
    return crises


def crises_for_escalation(*, escalation: Escalation, user: User) -> list[Crisis]:
    return list(
        crises_visible_to(user)
        .filter(links__escalation=escalation)
        .order_by("-is_active", "-declared_at")
    )


@dataclass(frozen=True)
class QueueCrisisBanner:
    """The active crises above the triage queue: the most urgent first, a few at most."""

    crises: list[Crisis]
    has_more: bool


QUEUE_BANNER_LIMIT = 3


def queue_crisis_banner(*, viewer: User) -> QueueCrisisBanner:
    """The active crises ``viewer`` may see (drills are rehearsals, not the floor's
    state, and stay off it): one query, bounded by the banner's size."""
    urgency = Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_URGENCY.items()),
        output_field=IntegerField(),
    )
    crises = list(
        crises_visible_to(viewer)
        .filter(is_active=True, is_drill=False)
        .annotate(urgency=urgency)
        .order_by("urgency", "-declared_at", "-pk")[: QUEUE_BANNER_LIMIT + 1]
    )
    return QueueCrisisBanner(
        crises=crises[:QUEUE_BANNER_LIMIT], has_more=len(crises) > QUEUE_BANNER_LIMIT
    )


@dataclass(frozen=True)
class EscalationCrisisPanel:
    """What the escalation page says about crises: the ones it is part of, and whether
    the viewer may declare one from it."""

    escalation: Escalation
    crises: list[Crisis]
    may_declare: bool

    @property
    def active(self) -> list[Crisis]:
        return [c for c in self.crises if c.is_active]


def escalation_crisis_panel(*, escalation: Escalation, viewer: User) -> EscalationCrisisPanel:
    return EscalationCrisisPanel(
        escalation=escalation,
        crises=crises_for_escalation(escalation=escalation, user=viewer),
        may_declare=may_work_crisis(viewer),
    )


# ---------------------------------------------------------------- escalations of a crisis


def visible_links(*, crisis: Crisis, viewer: User) -> list[CrisisEscalation]:
    """The crisis's escalations the viewer may see, with what the war room shows of them."""
    return list(
        CrisisEscalation.objects.filter(
            crisis=crisis, escalation__in=escalations_visible_to(viewer)
        )
        .select_related("escalation__type", "escalation__owner", "linked_by")
        .prefetch_related(
            "escalation__clocks",
            "escalation__decisions__action",
            "escalation__decisions__policy_version__policy",
            "escalation__decisions__decided_by",
        )
    )


def visible_escalation_ids(*, crisis: Crisis, viewer: User) -> set[int]:
    """The linked escalations the viewer may see, by id (for reading the timeline)."""
    return set(
        CrisisEscalation.objects.filter(
            crisis=crisis, escalation__in=escalations_visible_to(viewer)
        ).values_list("escalation_id", flat=True)
    )


# ---------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    kind: str  # sitrep | handoff | statutory | step
    label: str
    source: str  # CR-12 or WF-34
    escalation_id: int | None = None
    basis: str = ""
    is_breached: bool = False


def _step_deadlines(*, viewer: User, escalation_ids: list[int], now: datetime, until: datetime):
    runs = (
        runs_visible_to(viewer)
        .filter(escalation_id__in=escalation_ids, status=RunStatus.ACTIVE)
        .prefetch_related("steps")
    )
    for run in runs:
        for step in run.steps.all():
            if step.due_at is None or step.state in FINISHED_STATES or step.due_at > until:
                continue
            owner = step.owner_team or step.owner_role or ""
            yield Deadline(
                due_at=step.due_at,
                kind="step",
                label=f"Step: {step.title}",
                source=f"WF-{run.escalation_id}",
                escalation_id=run.escalation_id,
                basis=f"{run.version.name}"
                + (f" · owner {owner.replace('_', ' ')}" if owner else ""),
                is_breached=step.due_at < now,
            )


def open_partner_requests(
    *, viewer: User, escalation_ids: list[int], now: datetime
) -> list[RequestRow]:
    """The open requests to partner teams on these escalations that the viewer may see
    (a partner, their own team's), the nearest deadline first."""
    requests = list(
        requests_visible_to(viewer)
        .filter(escalation_id__in=escalation_ids, status=RequestStatus.OPEN)
        .select_related("team")
        .order_by("due_at", "pk")
    )
    return request_rows(requests, now=now)


def crisis_deadlines(
    *,
    crisis: Crisis,
    viewer: User,
    links: list[CrisisEscalation],
    now: datetime,
    config: CrisisConfig,
    handoff: HandoffTime | None,
    until: datetime | None = None,
    since: datetime | None = None,
    requests: list[RequestRow] | None = None,
) -> list[Deadline]:
    """What falls due next: the sitrep, the handoff, every running statutory clock of the
    escalations the viewer may see, their playbook steps and open partner requests due
    within the horizon. Breached ones are kept (they need acting on most). ``since`` drops
    anything due before it (a handoff packet lists the deadlines of the next shift only)."""
    until = until or now + config.settings.deadlines.horizon_window
    if requests is None:
        requests = open_partner_requests(
            viewer=viewer, escalation_ids=[link.escalation_id for link in links], now=now
        )
    deadlines: list[Deadline] = []
    if crisis.next_sitrep_due_at and crisis.next_sitrep_due_at <= until:
        deadlines.append(
            Deadline(
                due_at=crisis.next_sitrep_due_at,
                kind="sitrep",
                label="Sitrep due",
                source=crisis.reference,
                basis=f"every {_level_interval(config, crisis.level)} "
                f"at {Level(crisis.level).label}",
                is_breached=crisis.next_sitrep_due_at < now,
            )
        )
    if handoff is not None and handoff.at <= until:
        deadlines.append(
            Deadline(
                due_at=handoff.at,
                kind="handoff",
                label=f"Handoff {handoff.label}",
                source=crisis.reference,
                basis=f"{handoff.to_region.handoff_at} in {handoff.to_region.time_zone}",
            )
        )
    for link in links:
        escalation = link.escalation
        for running in escalation.clocks.all():
            if running.kind != Clock.Kind.STATUTORY or running.met_at is not None:
                continue
            deadlines.append(
                Deadline(
                    due_at=running.due_at,
                    kind="statutory",
                    label=running.label,
                    source=escalation.reference,
                    escalation_id=escalation.pk,
                    basis=running.basis,
                    is_breached=running.due_at < now,
                )
            )
    for row in requests:
        asked = row.request
        if asked.due_at > until:
            continue
        deadlines.append(
            Deadline(
                due_at=asked.due_at,
                kind="request",
                label=f"{asked.team.name}: {asked.get_kind_display()}",
                source=f"WF-{asked.escalation_id}",
                escalation_id=asked.escalation_id,
                basis=f"{asked.reference}, asked of {asked.team.name}",
                is_breached=row.is_overdue,
            )
        )
    deadlines.extend(
        _step_deadlines(
            viewer=viewer,
            escalation_ids=[link.escalation_id for link in links],
            now=now,
            until=until,
        )
    )
    if since is not None:
        deadlines = [d for d in deadlines if d.due_at >= since]
    deadlines.sort(key=lambda d: (d.due_at, d.kind, d.source))
    return deadlines


def _level_interval(config: CrisisConfig, level: str) -> str:
    from watchfloor.severity.rubric import describe_duration

    interval = config.settings.sitrep_interval(level)
    return describe_duration(interval) if interval else "—"


def sitrep_clock(crisis: Crisis, *, now: datetime, config: CrisisConfig) -> SitrepClock:
    return SitrepClock(
        due_at=crisis.next_sitrep_due_at,
        state=sitrep_state(
            due_at=crisis.next_sitrep_due_at,
            now=now,
            due_soon=config.settings.sitreps.due_soon_window,
        ),
        interval=config.settings.sitrep_interval(crisis.level),
    )


@dataclass(frozen=True)
class SitrepReminder:
    crisis: Crisis
    clock: SitrepClock


def reminder_notifications_hidden_from(user: User) -> QuerySet[SitrepReminderRow]:
    """The sitrep reminders' notifications about crises ``user`` may not see (they name
    the crisis and its commander): registered with ``notify.selectors`` so the delivery
    log leaves them out."""
    return (
        SitrepReminderRow.objects.exclude(notification=None)
        .exclude(crisis__in=crises_visible_to(user))
        .values("notification_id")
    )


def sitrep_reminders(*, now: datetime, config: CrisisConfig | None = None) -> list[SitrepReminder]:
    """Active crises whose sitrep is due soon or overdue, the most overdue first.

    For the system that reminds commanders (it sees every crisis; what it sends must then
    go only to people who may see the crisis)."""
    config = config or crisis_config()
    window = config.settings.sitreps.due_soon_window
    crises = Crisis.objects.filter(
        is_active=True, next_sitrep_due_at__isnull=False, next_sitrep_due_at__lte=now + window
    ).order_by("next_sitrep_due_at", "pk")
    return [
        SitrepReminder(crisis, sitrep_clock(crisis, now=now, config=config)) for crisis in crises
    ]


# ---------------------------------------------------------------- handoffs


def next_handoff(crisis: Crisis, now: datetime, *, config: CrisisConfig | None = None):
    """The next change of shift for ``crisis``, or None when it is not handed over at its
    level (closed, or a level left out of ``handoffs.levels``)."""
    config = config or crisis_config()
    if crisis.level == Level.CLOSED or crisis.level not in config.settings.handoffs.levels:
        return None
    return next_handoff_time(config.settings.handoffs.regions, now)


def handoff_in_play(
    crisis: Crisis, now: datetime, *, config: CrisisConfig, recorded: Iterable[Handoff]
) -> HandoffTime | None:
    """The handoff to confirm or acknowledge now: the one that just happened while it is
    not yet acknowledged (for ``acknowledge_within``), otherwise the next one."""
    upcoming = next_handoff(crisis, now, config=config)
    if upcoming is None:
        return None
    settings = config.settings.handoffs
    latest = previous_handoff_time(settings.regions, now)
    # A handoff before the crisis existed was never one of its own.
    if latest.at >= crisis.declared_at and now - latest.at <= settings.acknowledge_window:
        acknowledged = {h.handoff_at for h in recorded if h.status == Handoff.Status.ACKNOWLEDGED}
        if latest.at not in acknowledged:
            return latest
    return upcoming


@dataclass(frozen=True)
class HandoffRecord:
    """An earlier handoff as the handoff page lists it: when it was confirmed (not the
    scheduled shift change), between regions named as the crisis settings name them."""

    handoff: Handoff
    from_region: str
    to_region: str

    @property
    def label(self) -> str:
        return f"{self.from_region} → {self.to_region}"


def handoff_history(recorded: Iterable[Handoff], *, config: CrisisConfig) -> list[HandoffRecord]:
    names = {region.code: region.name for region in config.settings.handoffs.regions}

    def name(code: str) -> str:
        # A region since removed from the settings keeps a readable name.
        return names.get(code) or code.replace("_", " ").replace("-", " ").title()

    return [HandoffRecord(h, name(h.from_region), name(h.to_region)) for h in recorded]


# ---------------------------------------------------------------- stand-down criteria


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    # True/False when worked out from the record; None when a person must confirm it.
    met: bool | None
    # What holds it up, escalation by escalation: (escalation id, what).
    blockers: tuple[tuple[int, str], ...] = ()

    @property
    def needs_confirmation(self) -> bool:
        return self.met is None

    @property
    def detail(self) -> str:
        return ", ".join(text for _, text in self.blockers)


def stand_down_criteria(
    *, crisis: Crisis, viewer: User, now: datetime, config: CrisisConfig
) -> list[CriterionResult]:
    """Each configured criterion and whether the record meets it, as ``viewer`` may see
    the record: only the linked escalations they may see are counted or named. A
    criterion held up by an escalation hidden from them reads as met to them, since
    "not met, by something you cannot see" would tell them the hidden case is there;
    the people on its access list see it hold the criterion up (see docs/security.md)."""
    ids = sorted(visible_escalation_ids(crisis=crisis, viewer=viewer))
    results = []
    for criterion in config.settings.stand_down.criteria:
        check = criterion.check
        if check == "confirmed":
            results.append(CriterionResult(criterion, None))
            continue
        if check == "linked_escalations_settled":
            blockers = tuple(
                (pk, f"WF-{pk} is {Status(status).label.lower()}")
                for pk, status in Escalation.objects.filter(pk__in=ids)
                .exclude(status__in=SETTLED_STATUSES)
                .order_by("pk")
                .values_list("pk", "status")
            )
        elif check == "no_running_statutory_clocks":
            blockers = tuple(
                (pk, f"{label} on WF-{pk}")
                for pk, label in Clock.objects.filter(
                    escalation_id__in=ids, kind=Clock.Kind.STATUTORY, met_at__isnull=True
                ).values_list("escalation_id", "label")
            )
        elif check == "no_pending_decisions":
            blockers = tuple(
                (pk, f"a decision on WF-{pk} awaits approval")
                for pk in Decision.objects.filter(
                    escalation_id__in=ids, state=Decision.State.PENDING_APPROVAL
                ).values_list("escalation_id", flat=True)
            )
        elif check == "no_open_partner_requests":
            blockers = tuple(
                (pk, f"a request to {team} on WF-{pk} is open")
                for pk, team in PartnerRequest.objects.filter(
                    escalation_id__in=ids, status=RequestStatus.OPEN
                ).values_list("escalation_id", "team__name")
            )
        else:  # no_overdue_playbook_steps
            blockers = tuple(
                (pk, f"'{title}' on WF-{pk}") for pk, title in _overdue_steps(ids, now)
            )
        results.append(CriterionResult(criterion, not blockers, blockers))
    return results


def _overdue_steps(escalation_ids: list[int], now: datetime) -> list[tuple[int, str]]:
    from watchfloor.playbooks.models import RunStep

    return list(
        RunStep.objects.filter(
            run__escalation_id__in=escalation_ids,
            run__status=RunStatus.ACTIVE,
            due_at__lt=now,
        )
        .exclude(state__in=FINISHED_STATES)
        .values_list("run__escalation_id", "title")
    )


# ---------------------------------------------------------------- the record


def crisis_events(crisis: Crisis, *, since: datetime | None = None) -> QuerySet[AuditEvent]:
    """The crisis's own events (each carries its id in ``data``), oldest first."""
    events = AuditEvent.objects.filter(
        crisis_id=crisis.pk, action__in=TIMELINE_CRISIS_ACTIONS
    ).select_related("actor")
    if since is not None:
        events = events.filter(occurred_at__gt=since)
    return events.order_by("sequence")


def escalation_events(
    escalation_ids: Iterable[int], *, actions: Iterable[str] | None = None
) -> QuerySet[AuditEvent]:
    """Events of the given (already visibility-checked) escalations, oldest first; views
    of restricted escalations stay in the log but out of reading timelines."""
    # Crisis events that carry an escalation's id are read from the crisis's own record.
    events = AuditEvent.objects.filter(escalation_id__in=list(escalation_ids)).exclude(
        action__in=(AuditAction.ESCALATION_VIEWED, *CRISIS_ACTIONS)
    )
    if actions is not None:
        events = events.filter(action__in=list(actions))
    return events.select_related("actor").order_by("sequence")


def level_history(crisis: Crisis) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            crisis_id=crisis.pk, action=AuditAction.CRISIS_LEVEL_CHANGED
        ).order_by("sequence")
    )


def last_sitrep_sent_at(crisis: Crisis, audiences: Iterable[str]) -> datetime | None:
    latest = (
        Sitrep.objects.filter(crisis=crisis, audience__in=list(audiences))
        .order_by("-sent_at", "-pk")
        .values_list("sent_at", flat=True)
        .first()
    )
    return latest


def sitreps_of(crisis: Crisis) -> QuerySet[Sitrep]:
    return (
        Sitrep.objects.filter(crisis=crisis).select_related("sent_by").order_by("-sent_at", "-pk")
    )


def sitreps_readable_by(crisis: Crisis, *, viewer: User, config: CrisisConfig) -> QuerySet[Sitrep]:
    """The crisis's sitreps ``viewer`` may open: nothing is linked that would be a 404."""
    sitreps = sitreps_of(crisis)
    if may_read_sitrep(viewer, detail="full"):
        return sitreps
    readable = [
        audience.code
        for audience in config.settings.sitreps.audiences
        if may_read_sitrep(viewer, detail=audience.detail)
    ]
    return sitreps.filter(audience__in=readable)


def get_sitrep(*, crisis: Crisis, sitrep_id: int | str) -> Sitrep:
    sitrep = (
        Sitrep.objects.filter(crisis=crisis, pk=sitrep_id).select_related("sent_by").first()
        if str(sitrep_id).isdigit()
        else None
    )
    if sitrep is None:
        raise NotFound(f"no sitrep {sitrep_id} on {crisis.reference}", field="sitrep_id")
    return sitrep


@dataclass(frozen=True)
class SitrepReading:
    """A sent sitrep as one reader reads it: the shared text, and the sections on the
    escalations they may see (the others are left out, with no mark where they were)."""

    sitrep: Sitrep
    sections: list[SitrepSection]


def sitrep_for_reader(*, sitrep: Sitrep, viewer: User) -> SitrepReading:
    return SitrepReading(
        sitrep=sitrep,
        sections=list(
            SitrepSection.objects.filter(
                sitrep=sitrep, escalation__in=escalations_visible_to(viewer)
            ).select_related("escalation")
        ),
    )


def get_note(*, crisis: Crisis, note_id: int | str) -> CrisisNote:
    note = crisis.notes.filter(pk=note_id).first() if str(note_id).isdigit() else None
    if note is None:
        raise NotFound(f"no entry {note_id} in {crisis.reference}", field="note_id")
    return note


def get_handoff(*, crisis: Crisis, handoff_id: int | str) -> Handoff:
    handoff = (
        crisis.handoffs.filter(pk=handoff_id)
        .select_related("outgoing_commander", "incoming_commander")
        .first()
        if str(handoff_id).isdigit()
        else None
    )
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id} on {crisis.reference}", field="handoff_id")
    return handoff


# ---------------------------------------------------------------- the war room


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
        CrisisNote.objects.filter(crisis=crisis, is_pinned=True)
        .select_related("author", "pinned_by")
        .order_by("-created_at", "-pk")
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
