"""Reads of playbooks and runs.

Runs belong to escalations, so need to know comes from the escalation: views call
``escalations.selectors.access_escalation`` first and pass the escalation here, and
:func:`runs_visible_to` starts from ``escalations_visible_to`` for any list across
escalations. A partner therefore sees only the runs of escalations shared with their team.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.selectors import events_for_escalation
from watchfloor.catalog.selectors import rubric_for
from watchfloor.core.errors import NotFound
from watchfloor.core.roles import can_work_escalations
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.models import Clock, Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.people.models import Team
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    STEP_TRANSITIONS,
    CommunicationRecord,
    CommunicationTemplate,
    Playbook,
    PlaybookRun,
    PlaybookVersion,
    RunStatus,
    RunStep,
    StepState,
    TemplateVersion,
)
from watchfloor.playbooks.permissions import may_approve_step, may_work_step
from watchfloor.playbooks.rendering import render_markdown
from watchfloor.playbooks.schema import (
    ChecklistItem,
    EscalationFacts,
    EvidenceItem,
    PlaybookSpec,
    RoleSpec,
    StepSpec,
    TemplateSpec,
)

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

    from watchfloor.people.models import User

# Versions never change once loaded: each is parsed once per process. The digest is
# part of the key so a reused primary key cannot serve another version's content.
_playbook_specs: dict[tuple[int, str], PlaybookSpec] = {}
_template_specs: dict[tuple[int, str], TemplateSpec] = {}

STEP_HISTORY_ACTIONS = (
    AuditAction.PLAYBOOK_STEP_CHANGED,
    AuditAction.PLAYBOOK_STEP_APPROVED,
    AuditAction.PLAYBOOK_CHECKLIST_TICKED,
)


def playbook_spec(version: PlaybookVersion) -> PlaybookSpec:
    key = (version.pk, version.digest)
    spec = _playbook_specs.get(key)
    if spec is None:
        spec = _playbook_specs[key] = PlaybookSpec.model_validate(version.content)
    return spec


def template_spec(version: TemplateVersion) -> TemplateSpec:
    key = (version.pk, version.digest)
    spec = _template_specs.get(key)
    if spec is None:
        spec = _template_specs[key] = TemplateSpec.model_validate(version.content)
    return spec


def active_playbooks() -> list[tuple[Playbook, PlaybookSpec]]:
    playbooks = Playbook.objects.filter(is_active=True).select_related("current_version")
    return [(playbook, playbook_spec(playbook.current_version)) for playbook in playbooks]


def active_templates() -> dict[str, tuple[CommunicationTemplate, TemplateSpec]]:
    templates = CommunicationTemplate.objects.filter(is_active=True).select_related(
        "current_version"
    )
    return {t.code: (t, template_spec(t.current_version)) for t in templates}


def get_template(code: str) -> tuple[CommunicationTemplate, TemplateSpec]:
    template = (
        CommunicationTemplate.objects.filter(code=code, is_active=True)
        .select_related("current_version")
        .first()
    )
    if template is None:
        raise NotFound(f"no communication template '{code}'", field="template")
    return template, template_spec(template.current_version)


# ---------------------------------------------------------------- facts and proposals


def escalation_facts(
    escalation: Escalation, *, markets: list[str], clocks: list[Clock]
) -> EscalationFacts:
    return EscalationFacts(
        type=escalation.type.code,
        severity=escalation.severity,
        markets=tuple(markets),
        languages=tuple(escalation.languages or ()),
        is_high_visibility=escalation.is_high_visibility,
        is_restricted=escalation.is_restricted,
        has_statutory_clock=any(c.kind == Clock.Kind.STATUTORY for c in clocks),
    )


def current_facts(escalation: Escalation) -> EscalationFacts:
    """Facts read afresh from the database (services, after a change)."""
    return escalation_facts(
        escalation,
        markets=list(escalation.markets.values_list("code", flat=True)),
        clocks=list(Clock.objects.filter(escalation=escalation)),
    )


def prefetched_facts(escalation: Escalation) -> EscalationFacts:
    """Facts from what ``escalation_detail`` prefetched (no queries of their own)."""
    return escalation_facts(
        escalation,
        markets=[m.code for m in escalation.markets.all()],
        clocks=list(escalation.clocks.all()),
    )


@dataclass(frozen=True)
class Proposal:
    playbook: Playbook
    spec: PlaybookSpec
    rank: int
    type_specific: bool
    severity_levels: int
    market_specific: bool
    reasons: tuple[str, ...]
    active_run_id: int | None = None

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def auto_start(self) -> bool:
        return self.spec.auto_start

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "playbook": self.code, "why": list(self.reasons)}


def rank_proposals(
    facts: EscalationFacts,
    playbooks: list[tuple[Playbook, PlaybookSpec]],
    *,
    mildest_severity: int,
    active_runs: dict[str, int] | None = None,
) -> list[Proposal]:
    """The playbooks that apply, best first: a playbook written for this type before a
    general one, then the narrowest severity range, then one written for its market."""
    matches = []
    for playbook, spec in playbooks:
        applies = spec.applies_to
        if not applies.matches(facts):
            continue
        levels = applies.levels(mildest_severity)
        reasons = [
            # People read these: the type in words, not its code.
            f"written for {facts.type.replace('_', ' ')}"
            if applies.escalation_types
            else "applies to every type",
            f"covers SEV{levels.start}–SEV{levels.stop - 1}, including SEV{facts.severity}",
        ]
        market_hits = sorted(set(applies.markets) & set(facts.markets))
        reasons.append(
            f"written for {', '.join(market_hits)}" if market_hits else "applies in every market"
        )
        matches.append(
            (
                playbook,
                spec,
                bool(applies.escalation_types),
                len(levels),
                bool(market_hits),
                tuple(reasons),
            )
        )
    matches.sort(key=lambda m: (not m[2], m[3], not m[4], m[1].code))
    active_runs = active_runs or {}
    return [
        Proposal(
            playbook=playbook,
            spec=spec,
            rank=rank,
            type_specific=type_specific,
            severity_levels=width,
            market_specific=market_specific,
            reasons=reasons,
            active_run_id=active_runs.get(spec.code),
        )
        for rank, (playbook, spec, type_specific, width, market_specific, reasons) in enumerate(
            matches, start=1
        )
    ]


def proposals_for(
    escalation: Escalation, *, facts: EscalationFacts | None = None
) -> list[Proposal]:
    facts = facts or current_facts(escalation)
    active = dict(
        PlaybookRun.objects.filter(escalation=escalation, status=RunStatus.ACTIVE).values_list(
            "playbook__code", "pk"
        )
    )
    return rank_proposals(
        facts,
        active_playbooks(),
        mildest_severity=rubric_for(escalation.catalog_version).mildest_level,
        active_runs=active,
    )


# ---------------------------------------------------------------- runs


def runs_visible_to(user: User) -> QuerySet[PlaybookRun]:
    """Runs across escalations, only of escalations ``user`` may see."""
    return PlaybookRun.objects.filter(escalation__in=escalations_visible_to(user)).select_related(
        "version", "escalation"
    )


def runs_for_escalation(escalation: Escalation) -> QuerySet[PlaybookRun]:
    """Every run of a visible escalation (the caller has checked access)."""
    return (
        PlaybookRun.objects.filter(escalation=escalation)
        .select_related("version", "playbook", "started_by")
        .prefetch_related(
            "steps__changed_by",
            "steps__approved_by",
            "role_holders__user",
        )
    )


def get_run(*, escalation: Escalation, run_id: int | str) -> PlaybookRun:
    run = (
        PlaybookRun.objects.filter(escalation=escalation, pk=run_id)
        .select_related("version", "playbook", "escalation")
        .first()
        if str(run_id).isdigit()
        else None
    )
    if run is None:
        raise NotFound(f"no playbook run {run_id} on {escalation.reference}", field="run_id")
    return run


def get_step(*, escalation: Escalation, step_id: int | str) -> RunStep:
    step = (
        RunStep.objects.filter(run__escalation=escalation, pk=step_id)
        .select_related("run__version", "run__escalation__type")
        .first()
        if str(step_id).isdigit()
        else None
    )
    if step is None:
        raise NotFound(f"no playbook step {step_id} on {escalation.reference}", field="step_id")
    return step


def waiting_on(step: RunStep, siblings: list[RunStep], spec: StepSpec) -> list[RunStep]:
    """The steps ``step`` waits for that are not yet done or skipped."""
    by_id = {s.step_id: s for s in siblings}
    return [
        by_id[dependency]
        for dependency in spec.after
        if dependency in by_id and by_id[dependency].state not in FINISHED_STATES
    ]


# ---------------------------------------------------------------- the run panel


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
