"""The playbook panel on an escalation's page: each run with its steps, who owns and may
work or approve each, what a step waits on, its checklist, evidence and history, in a
fixed number of queries. The escalation comes from ``access_escalation``, so need to
know holds; the reads it builds on are :mod:`watchfloor.playbooks.selectors`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchfloor.audit.events import AuditAction
from watchfloor.audit.selectors import events_for_escalation
from watchfloor.core.roles import can_work_escalations
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.models import Escalation
from watchfloor.people.models import Team
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    STEP_TRANSITIONS,
    CommunicationRecord,
    PlaybookRun,
    RunStatus,
    RunStep,
    StepState,
)
from watchfloor.playbooks.permissions import may_approve_step, may_work_step
from watchfloor.playbooks.rendering import render_markdown
from watchfloor.playbooks.schema import (
    ChecklistItem,
    EvidenceItem,
    PlaybookSpec,
    RoleSpec,
    StepSpec,
)

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

    from watchfloor.people.models import User

from watchfloor.playbooks.selectors import (
    active_templates,
    playbook_spec,
    prefetched_facts,
    runs_for_escalation,
    waiting_on,
)

STEP_HISTORY_ACTIONS = (
    AuditAction.PLAYBOOK_STEP_CHANGED,
    AuditAction.PLAYBOOK_STEP_APPROVED,
    AuditAction.PLAYBOOK_CHECKLIST_TICKED,
)


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    actor: str
    text: str


@dataclass(frozen=True)
class ChecklistRow:
    item: ChecklistItem
    checked: bool
    by: str
    at: str


@dataclass(frozen=True)
class EvidenceRow:
    item: EvidenceItem
    value: str


@dataclass
class StepView:
    row: RunStep
    spec: StepSpec
    owner_label: str
    owner_holder: str
    instructions: SafeString
    checklist: list[ChecklistRow]
    evidence: list[EvidenceRow]
    approval_label: str
    notify: list[str]
    templates: list[tuple[str, str]]
    waiting_on: list[str]
    is_overdue: bool
    may_work: bool
    may_approve: bool
    next_states: list[tuple[str, str]]
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        if self.waiting_on and self.row.state == StepState.PENDING:
            return "Waiting"
        return StepState(self.row.state).label


@dataclass
class RunView:
    run: PlaybookRun
    spec: PlaybookSpec
    steps: list[StepView]
    roles: list[tuple[RoleSpec, Any]]
    still_matches: bool
    owner_zone: str
    communications: list[CommunicationRecord]
    done_count: int
    may_manage: bool

    @property
    def is_active(self) -> bool:
        return self.run.status == RunStatus.ACTIVE


_TRANSITION_WORDS: dict[str, str] = {
    StepState.PENDING: "Back to pending",
    StepState.IN_PROGRESS: "Start",
    StepState.DONE: "Mark done",
    StepState.SKIPPED: "Skip",
    StepState.BLOCKED: "Blocked",
}


def _history(escalation: Escalation) -> dict[tuple[int, str], list[HistoryLine]]:
    lines: dict[tuple[int, str], list[HistoryLine]] = defaultdict(list)
    for event in events_for_escalation(escalation.pk).filter(action__in=STEP_HISTORY_ACTIONS):
        data = event.data if isinstance(event.data, dict) else {}
        key = (int(data.get("run", 0) or 0), str(data.get("step", "")))
        if event.action == AuditAction.PLAYBOOK_STEP_CHANGED:
            before = data.get("from_label", data.get("from"))
            text = f"{before} → {data.get('to_label', data.get('to'))}"
            if data.get("reason"):
                text += f": {data['reason']}"
        elif event.action == AuditAction.PLAYBOOK_STEP_APPROVED:
            text = "approved" + (f": {data['comment']}" if data.get("comment") else "")
        else:
            text = f"{'ticked' if data.get('checked') else 'unticked'} “{data.get('text', '')}”"
        lines[key].append(HistoryLine(event.occurred_at, event.actor_label or "system", text))
    return lines


def run_views(*, escalation: Escalation, viewer: User, now: datetime) -> list[RunView]:
    """Everything the run panel shows, in a fixed number of queries."""
    runs = list(runs_for_escalation(escalation))
    if not runs:
        return []
    team_names = dict(Team.objects.values_list("code", "name"))
    templates = {code: spec.name for code, (_, spec) in active_templates().items()}
    history = _history(escalation)
    communications: dict[int, list[CommunicationRecord]] = defaultdict(list)
    for record in CommunicationRecord.objects.filter(escalation=escalation).select_related(
        "sent_by", "template_version", "step"
    ):
        if record.step is not None:
            communications[record.step.run_id].append(record)
    facts = prefetched_facts(escalation)
    zone = business_time_zone(escalation)
    may_manage = can_work_escalations(viewer)
    views = []
    for run in runs:
        spec = playbook_spec(run.version)
        holders = {holder.role: holder.user for holder in run.role_holders.all()}
        steps = list(run.steps.all())
        step_views = [
            _step_view(
                row,
                spec,
                steps,
                holders,
                team_names,
                templates,
                viewer,
                now,
                run,
                history.get((run.pk, row.step_id), []),
            )
            for row in steps
        ]
        views.append(
            RunView(
                run=run,
                spec=spec,
                steps=step_views,
                roles=[(role, holders.get(role.code)) for role in spec.roles],
                still_matches=spec.applies_to.matches(facts),
                owner_zone=zone.key,
                communications=communications.get(run.pk, []),
                done_count=sum(1 for s in steps if s.state in FINISHED_STATES),
                may_manage=may_manage and run.status == RunStatus.ACTIVE,
            )
        )
    return views


def _step_view(
    row: RunStep,
    spec: PlaybookSpec,
    siblings: list[RunStep],
    holders: dict[str, Any],
    team_names: dict[str, str],
    templates: dict[str, str],
    viewer: User,
    now: datetime,
    run: PlaybookRun,
    history: list[HistoryLine],
) -> StepView:
    step = spec.step(row.step_id)

    def who(role: str | None, team: str | None) -> str:
        if team:
            return team_names.get(team, team)
        role_spec = spec.role(role or "")
        return role_spec.name if role_spec else str(role)

    holder = holders.get(step.owner.role or "") if step.owner.role else None
    waiting = [s.title for s in waiting_on(row, siblings, step)]
    active = run.status == RunStatus.ACTIVE or run.status == RunStatus.COMPLETED
    may_work = active and may_work_step(viewer, row)
    ticks = row.checklist or {}
    return StepView(
        row=row,
        spec=step,
        owner_label=who(step.owner.role, step.owner.team),
        owner_holder=holder.display_name if holder else "",
        instructions=render_markdown(step.instructions),
        checklist=[
            ChecklistRow(
                item,
                bool(ticks.get(item.id, {}).get("checked")),
                str(ticks.get(item.id, {}).get("by", "")),
                str(ticks.get(item.id, {}).get("at", "")),
            )
            for item in step.checklist
        ],
        evidence=[
            EvidenceRow(item, str((row.evidence or {}).get(item.id, "")))
            for item in step.requires.evidence
        ],
        approval_label=who(step.approval.role, step.approval.team) if step.approval else "",
        notify=[f"{who(n.role, n.team)}: {n.message}" for n in step.notify],
        templates=[(code, templates.get(code, code)) for code in step.templates],
        waiting_on=waiting,
        is_overdue=bool(row.due_at and row.due_at < now and not row.is_finished),
        may_work=may_work,
        may_approve=(
            run.status == RunStatus.ACTIVE
            and not row.approved_by_id
            and not row.is_finished
            and may_approve_step(viewer, row, step, holders)
        ),
        next_states=[
            (state, _TRANSITION_WORDS[state])
            for state in StepState.values
            if state in STEP_TRANSITIONS[row.state]
            # Starting or finishing a step that still waits would only be refused.
            and not (waiting and state in (StepState.IN_PROGRESS, StepState.DONE))
        ]
        if may_work
        else [],
        history=history,
    )
