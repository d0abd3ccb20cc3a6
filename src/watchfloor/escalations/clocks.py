"""SLA and statutory clocks: when each one is due, and which one is next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from watchfloor.core.errors import InvalidInput
from watchfloor.escalations.models import Clock, Escalation
from watchfloor.markets.models import StatutoryRule
from watchfloor.severity.rubric import Rubric, describe_duration

SLA_KINDS = (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION, Clock.Kind.RESOLVE)
# Where the law gives no figure and no internal target is configured.
FALLBACK_QUALITATIVE_TARGET = timedelta(hours=24)


def business_time_zone(escalation: Escalation) -> ZoneInfo:
    """Business days are counted in the first market's zone (UTC when there is none)."""
    market = escalation.primary_market
    return ZoneInfo(market.primary_time_zone) if market else ZoneInfo("UTC")


def sla_due_times(
    *, rubric: Rubric, severity: int, opened_at: datetime, zone: ZoneInfo
) -> dict[str, tuple[datetime, str]]:
    targets = rubric.level(severity).sla
    due = {}
    for kind in SLA_KINDS:
        target = targets.target(kind)
        due[kind] = (
            target.due_from(opened_at, zone),
            f"SEV{severity} target: {target.describe()}",
        )
    return due


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
        raise InvalidInput(
            f"{rule.code}: the deadline is fixed by law ({describe_duration(rule.deadline)}); "
            "leave the due time empty",
            field=f"{field}.due_at",
        )
    if kind == StatutoryRule.DeadlineKind.FIXED:
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
