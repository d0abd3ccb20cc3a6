"""What is due in a crisis, soonest first: its escalations' clocks, playbook steps and
partner requests as the viewer may see them, the sitrep clock of its level, and the
sitrep reminders due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from watchfloor.coordination.models import RequestStatus
from watchfloor.coordination.selectors import RequestRow, request_rows, requests_visible_to
from watchfloor.crises.cadence import SitrepClock, sitrep_state
from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.models import Crisis, CrisisEscalation, Level
from watchfloor.crises.models import SitrepReminder as SitrepReminderRow
from watchfloor.crises.selectors.access import crises_visible_to
from watchfloor.crises.shifts import HandoffTime
from watchfloor.escalations.models import Clock
from watchfloor.playbooks.models import FINISHED_STATES, RunStatus
from watchfloor.playbooks.selectors import runs_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User


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


def reminder_notifications_hidden_from(user: User) -> QuerySet[SitrepReminderRow, Any]:
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
