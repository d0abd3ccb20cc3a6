"""A run's plan: which steps apply to the escalation, and when each falls due.

Pure functions over the playbook, the escalation's facts and its anchors (the times a
due offset counts from), so the plan can be tested without a database and recomputed
whenever the escalation changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from watchfloor.playbooks.schema import (
    ANCHOR_WORDS,
    DueSpec,
    EscalationFacts,
    PlaybookSpec,
    StepSpec,
)


@dataclass(frozen=True)
class Anchors:
    """The times a step's due offset may count from, all in UTC."""

    opened: datetime
    run_started: datetime
    zone: ZoneInfo
    # acknowledge / first_action / resolve / statutory → due time
    clocks: dict[str, datetime] = field(default_factory=dict)
    # statutory rule id → its clock's due time
    statutory_rules: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        opened: datetime,
        run_started: datetime,
        zone: ZoneInfo,
        clocks: Iterable[tuple[str, str, datetime, bool]],
    ) -> Anchors:
        """``clocks``: (kind, statutory rule code or "", due time, is met) for each clock.

        The statutory anchor is the earliest statutory deadline still running (the one the
        team is racing), or the earliest of all once every one is met.
        """
        by_kind: dict[str, datetime] = {}
        statutory_running: list[datetime] = []
        statutory_all: list[datetime] = []
        rules: dict[str, datetime] = {}
        for kind, rule, due_at, is_met in clocks:
            due_at = due_at.astimezone(UTC)
            if kind == "statutory":
                statutory_all.append(due_at)
                if not is_met:
                    statutory_running.append(due_at)
                if rule and (rule not in rules or due_at < rules[rule]):
                    rules[rule] = due_at
            else:
                by_kind[kind] = due_at
        if statutory_running or statutory_all:
            by_kind["statutory"] = min(statutory_running or statutory_all)
        return cls(
            opened=opened.astimezone(UTC),
            run_started=run_started.astimezone(UTC),
            zone=zone,
            clocks=by_kind,
            statutory_rules=rules,
        )


@dataclass(frozen=True)
class PlannedStep:
    step_id: str
    applies: bool
    unmet: tuple[str, ...]
    due_at: datetime | None
    due_basis: str


def plan_run(spec: PlaybookSpec, facts: EscalationFacts, anchors: Anchors) -> list[PlannedStep]:
    planned: list[PlannedStep] = []
    previous_due: datetime | None = None
    for step in spec.steps:
        unmet = tuple(step.when.unmet(facts)) if step.when else ()
        if unmet:
            planned.append(PlannedStep(step.id, False, unmet, None, ""))
            continue
        due_at, basis = step_due(step, anchors, previous_due)
        planned.append(PlannedStep(step.id, True, (), due_at, basis))
        previous_due = due_at
    return planned


def _anchor_time(due: DueSpec, anchors: Anchors, previous_due: datetime | None) -> datetime | None:
    if due.from_ == "opened":
        return anchors.opened
    if due.from_ == "run_started":
        return anchors.run_started
    if due.from_ == "previous_step":
        return previous_due
    return anchors.clocks.get(due.from_)


def _apply(due: DueSpec, start: datetime, anchors: Anchors) -> tuple[datetime, str]:
    offset = due.offset
    if due.before is not None:
        moment = offset.subtract_from(start)
    else:
        moment = offset.add_to(start, anchors.zone)
    basis = due.describe()
    if offset.business_hours is not None or (offset.target and offset.target.business_days):
        basis += f" (business time, Mon–Fri 09:00–18:00 {anchors.zone.key})"
    return moment, basis


def step_due(
    step: StepSpec, anchors: Anchors, previous_due: datetime | None
) -> tuple[datetime | None, str]:
    """When ``step`` is due and why, or (None, why not) when nothing anchors it."""
    if step.due is None:
        return None, ""
    chosen: DueSpec = step.due
    start = _anchor_time(chosen, anchors, previous_due)
    if start is None and step.due.otherwise is not None:
        chosen = step.due.otherwise
        start = _anchor_time(chosen, anchors, previous_due)
    if start is None:
        missing = ANCHOR_WORDS[step.due.from_]
        return None, f"no due time: {missing} is not set on this escalation"
    moment, basis = _apply(chosen, start, anchors)
    # A step that serves a statutory deadline is never planned after it.
    if step.serves:
        deadline = (
            anchors.clocks.get("statutory")
            if step.serves == "statutory"
            else anchors.statutory_rules.get(step.serves)
        )
        if deadline is not None and moment > deadline:
            moment = deadline
            basis += "; brought forward to the statutory deadline it serves"
    return moment, basis
