"""SLA and statutory clocks: when each one is due, and which one is next."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.escalations.models import NO_DEADLINE, Clock, Escalation, Status
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.severity.rubric import Rubric, describe_duration

if TYPE_CHECKING:
    from watchfloor.people.models import User

SLA_KINDS = (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION, Clock.Kind.RESOLVE)
# Where the law gives no figure and no internal target is configured.
FALLBACK_QUALITATIVE_TARGET = timedelta(hours=24)


def business_time_zone(escalation: Escalation) -> ZoneInfo:
    """Business days are counted in the first market's zone (UTC when there is none)."""
    return market_time_zone(escalation.primary_market)


def market_time_zone(market: Market | None) -> ZoneInfo:
    return ZoneInfo(market.primary_time_zone) if market else ZoneInfo("UTC")


def sla_due_times(
    *, rubric: Rubric, severity: int, opened_at: datetime, zone: ZoneInfo
) -> dict[str, tuple[datetime, str]]:
    targets = rubric.level(severity).sla
    due: dict[str, tuple[datetime, str]] = {}
    for kind in SLA_KINDS:
        target = targets.target(kind)
        due[kind] = (
            target.due_from(opened_at, zone),
            f"SEV{severity} target: {target.describe()}",
        )
    return due


def reset_sla_clocks(escalation: Escalation, *, rubric) -> None:
    """Internal SLA clocks run from when Watchfloor learned of the escalation (its
    filing), not from when a notice arrived: a notice entered two hours late must not
    be "breached" the moment it is filed. Statutory clocks run from receipt."""
    due = sla_due_times(
        rubric=rubric,
        severity=escalation.severity,
        opened_at=escalation.created_at,
        zone=business_time_zone(escalation),
    )
    existing = {c.kind: c for c in escalation.clocks.filter(kind__in=SLA_KINDS)}
    started = []
    for kind, (due_at, basis) in due.items():
        current = existing.get(kind)
        if current is None:
            started.append(
                _sla_clock(kind, due_at, basis, starts_at=escalation.created_at, of=escalation)
            )
        elif current.met_at is None:
            current.due_at, current.basis = due_at, basis
            current.save(update_fields=["due_at", "basis"])
    Clock.objects.bulk_create(started)


def starting_clocks(
    *,
    rubric: Rubric,
    severity: int,
    filed_at: datetime,
    zone: ZoneInfo,
    triggers: Iterable[tuple[StatutoryRule, datetime, datetime, str, str]],
) -> list[Clock]:
    """The clocks a new escalation starts with, not yet saved (no escalation yet): the
    SLA clocks from its filing, as ``reset_sla_clocks`` starts them, and one statutory
    clock per trigger ``(rule, received_at, due_at, basis, notice_reference)`` from the
    notice's receipt. The filing computes the queue's due time from them before it
    writes the escalation's row."""
    started = [
        _sla_clock(kind, due_at, basis, starts_at=filed_at)
        for kind, (due_at, basis) in sla_due_times(
            rubric=rubric, severity=severity, opened_at=filed_at, zone=zone
        ).items()
    ]
    for rule, received_at, due_at, basis, notice_reference in triggers:
        started.append(
            Clock(
                kind=Clock.Kind.STATUTORY,
                label=rule.label,
                starts_at=received_at,
                due_at=due_at,
                statutory_rule=rule,
                basis=basis,
                notice_reference=notice_reference,
            )
        )
    return started


def _sla_clock(
    kind: str, due_at: datetime, basis: str, *, starts_at: datetime, of: Escalation | None = None
) -> Clock:
    return Clock(
        escalation=of,
        kind=kind,
        label=Clock.Kind(kind).label,
        starts_at=starts_at,
        due_at=due_at,
        basis=basis,
    )


def statutory_due_at(
    *, rule: StatutoryRule, received_at: datetime, stated_due_at: datetime | None, field: str
) -> tuple[datetime, str]:
    """When a statutory clock falls due, and the basis shown beside it."""
    kind = rule.deadline_kind
    if kind == StatutoryRule.DeadlineKind.SET_BY_NOTICE:
        if stated_due_at is None:
            raise InvalidInput(
                f"{rule.code}: the notice sets its own deadline; enter the due time it states",
                field=f"{field}.due_at",
            )
        if stated_due_at <= received_at:
            raise InvalidInput(
                "the notice's due time must be after the time it was received",
                field=f"{field}.due_at",
            )
        return stated_due_at, f"{rule.instrument} (deadline stated in the notice)"
    if stated_due_at is not None and kind == StatutoryRule.DeadlineKind.FIXED:
        fixed = describe_duration(rule.deadline) if rule.deadline is not None else "a duration"
        raise InvalidInput(
            f"{rule.code}: the deadline is fixed by law ({fixed}); leave the due time empty",
            field=f"{field}.due_at",
        )
    if kind == StatutoryRule.DeadlineKind.FIXED and rule.deadline is not None:
        deadline = rule.deadline
        basis = f"{rule.instrument}: {describe_duration(deadline)}"
        # A notice received before the current figure applied runs on the old one.
        if (
            rule.effective_from
            and rule.previous_deadline
            and _local_date(received_at, rule) < rule.effective_from
        ):
            deadline = rule.previous_deadline
            basis = (
                f"{rule.instrument}: {describe_duration(deadline)} "
                f"(the figure before {rule.effective_from.isoformat()})"
            )
        return received_at.astimezone(UTC) + deadline, basis
    # Qualitative ("expeditiously"): tracked against our own target, or a stated time.
    if stated_due_at is not None:
        return stated_due_at, f"{rule.instrument} (qualitative; due time entered)"
    target = rule.internal_target or FALLBACK_QUALITATIVE_TARGET
    return (
        received_at.astimezone(UTC) + target,
        f"{rule.instrument} (qualitative; internal target {describe_duration(target)})",
    )


def _local_date(moment: datetime, rule: StatutoryRule):
    """The date in the jurisdiction itself: a law takes effect on its own calendar."""
    zone = ZoneInfo(rule.market.primary_time_zone) if rule.market else ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def next_running_clock(clocks: list[Clock]) -> Clock | None:
    running = [c for c in clocks if c.met_at is None]
    return min(running, key=lambda c: c.due_at) if running else None


def refresh_next_due(escalation: Escalation) -> None:
    """Keep the queue's sort key equal to the earliest running clock."""
    if escalation.status == Status.CLOSED:
        escalation.next_due_at, escalation.next_due_label = None, ""
    else:
        nearest = next_running_clock(list(escalation.clocks.all()))
        escalation.next_due_at = nearest.due_at if nearest else None
        escalation.next_due_label = nearest.label if nearest else ""
    escalation.queue_due_at = escalation.next_due_at or NO_DEADLINE
    escalation.save(update_fields=["next_due_at", "next_due_label", "queue_due_at", "updated_at"])


def meet_clocks(escalation: Escalation, kinds: tuple[str, ...], *, actor: User | None) -> None:
    """Stop the running clocks of ``kinds`` now, each with its audit event."""
    now = clock.now()
    for running in escalation.clocks.filter(kind__in=kinds, met_at__isnull=True):
        running.met_at = now
        running.save(update_fields=["met_at"])
        record_event(
            action=AuditAction.ESCALATION_CLOCK_MET,
            actor=actor,
            target=running,
            escalation_id=escalation.pk,
            data={
                "clock": running.label,
                "kind": running.kind,
                "due_at": running.due_at,
                "state": running.state(now),
            },
        )


def meet_acknowledge_clock(*, escalation: Escalation, actor: User | None) -> None:
    """Acknowledging an escalation's page acknowledges the escalation: its SLA acknowledge
    clock is met then, whoever acknowledged and however (the page's button, an emailed
    link). Triaging, taking ownership and acting meet it in the escalation services."""
    meet_clocks(escalation, (Clock.Kind.ACKNOWLEDGE,), actor=actor)
    refresh_next_due(escalation)
