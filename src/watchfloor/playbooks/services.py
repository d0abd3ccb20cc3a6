"""Every change to playbooks, runs and communications is one named action here: checked,
written and audited (with the escalation's id, so it reads on its timeline) in one
transaction. Views check visibility with ``access_escalation`` first, then call these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, catalog_for, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.languages import preferred_language
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.models import Clock, Decision, Escalation, Status
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.playbooks import selectors
from watchfloor.playbooks.loader import Library, LoadedFile, read_library
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    NEEDS_REASON,
    STEP_TRANSITIONS,
    CommunicationRecord,
    CommunicationTemplate,
    Playbook,
    PlaybookRun,
    PlaybookVersion,
    RunRole,
    RunStatus,
    RunStep,
    StepState,
    TemplateVersion,
)
from watchfloor.playbooks.planning import Anchors, PlannedStep, plan_run
from watchfloor.playbooks.rendering import fill_variables
from watchfloor.playbooks.schema import (
    ESCALATION_VARIABLES,
    EscalationFacts,
    TemplateSpec,
)
from watchfloor.playbooks.selectors import Proposal

if TYPE_CHECKING:
    from watchfloor.people.models import User

REASON_MAX = 5_000
EVIDENCE_MAX = 2_000
INPUT_MAX = 2_000
# Why a proposed playbook did not start, in words (its file says auto_start: false).
NOT_AUTOMATIC = "it starts by hand: it is not set to start by itself"


# ---------------------------------------------------------------- loading the library


@dataclass
class LoadResult:
    new_playbook_versions: list[str] = field(default_factory=list)
    unchanged_playbooks: list[str] = field(default_factory=list)
    retired_playbooks: list[str] = field(default_factory=list)
    new_template_versions: list[str] = field(default_factory=list)
    unchanged_templates: list[str] = field(default_factory=list)
    retired_templates: list[str] = field(default_factory=list)
    library: Library | None = None


def load_playbooks(
    *,
    playbook_dir: Path | None = None,
    comms_dir: Path | None = None,
    actor: User | None = None,
) -> LoadResult:
    """Validate the library and make it the one in force.

    Each file that changed becomes a new immutable version (content and digest); an
    unchanged file keeps its version. Playbooks and templates whose files are gone are
    retired: no longer proposed, but runs on them carry on. Raises
    ``PlaybookLibraryError`` (nothing is written) when any file has a problem.
    """
    catalog = catalog_for(active_catalog_version())
    # Read and check before the transaction opens: no lock is held during file I/O.
    library = read_library(catalog=catalog, playbook_dir=playbook_dir, comms_dir=comms_dir)
    result = LoadResult(library=library)
    now = clock.now()
    with transaction.atomic():
        _apply_versions(
            library.templates,
            version_model=TemplateVersion,
            head_model=CommunicationTemplate,
            new=result.new_template_versions,
            unchanged=result.unchanged_templates,
            retired=result.retired_templates,
            actor=actor,
            now=now,
        )
        _apply_versions(
            library.playbooks,
            version_model=PlaybookVersion,
            head_model=Playbook,
            new=result.new_playbook_versions,
            unchanged=result.unchanged_playbooks,
            retired=result.retired_playbooks,
            actor=actor,
            now=now,
        )
        record_event(
            action=AuditAction.PLAYBOOKS_LOADED,
            actor=actor,
            data={
                "playbook_dir": str(library.playbook_dir),
                "comms_dir": str(library.comms_dir),
                "playbooks": {f.spec.code: f.digest[:12] for f in library.playbooks},
                "templates": {f.spec.code: f.digest[:12] for f in library.templates},
                "new_playbook_versions": result.new_playbook_versions,
                "new_template_versions": result.new_template_versions,
                "retired_playbooks": result.retired_playbooks,
                "retired_templates": result.retired_templates,
            },
        )
    return result


def _apply_versions(
    files: list[LoadedFile],
    *,
    version_model: type[PlaybookVersion] | type[TemplateVersion],
    head_model: type[Playbook] | type[CommunicationTemplate],
    new: list[str],
    unchanged: list[str],
    retired: list[str],
    actor: User | None,
    now: datetime,
) -> None:
    heads = {head.code: head for head in head_model.objects.select_related("current_version")}
    for loaded in files:
        code = loaded.spec.code
        version = version_model.objects.filter(code=code, digest=loaded.digest).first()
        if version is None:
            version = version_model.objects.create(
                code=code,
                name=loaded.spec.name,
                digest=loaded.digest,
                content=loaded.spec.model_dump(mode="json", by_alias=True, exclude_defaults=False),
                source_text=loaded.source_text,
                source_path=str(loaded.path)[:500],
                loaded_at=now,
                loaded_by=actor,
            )
            new.append(code)
        head = heads.pop(code, None)
        if head is None:
            head_model.objects.create(code=code, current_version=version, is_active=True)
            continue
        if head.current_version_id == version.pk and head.is_active:
            if code not in new:
                unchanged.append(code)
            continue
        head.current_version = version
        head.is_active = True
        head.save(update_fields=["current_version", "is_active"])
    for code, head in heads.items():
        if head.is_active:
            head.is_active = False
            head.save(update_fields=["is_active"])
            retired.append(code)


# ---------------------------------------------------------------- proposing and starting


def propose_playbooks(escalation: Escalation) -> list[Proposal]:
    """The playbooks that apply to ``escalation``, best first, each with why."""
    return selectors.proposals_for(escalation)


def _anchors(escalation: Escalation, *, run_started: datetime) -> Anchors:
    clocks = Clock.objects.filter(escalation=escalation).select_related("statutory_rule")
    return Anchors.build(
        opened=escalation.opened_at,
        run_started=run_started,
        zone=business_time_zone(escalation),
        clocks=[
            (
                c.kind,
                c.statutory_rule.code if c.statutory_rule else "",
                c.due_at,
                c.met_at is not None,
            )
            for c in clocks
        ],
    )


def _unmet_reason(planned: PlannedStep) -> str:
    return "does not apply: " + "; ".join(planned.unmet)


def _data(run: PlaybookRun, **values: Any) -> dict[str, Any]:
    return {"playbook": run.version.code, "run": run.pk, **values}


@transaction.atomic
def start_playbook_run(
    *,
    escalation: Escalation,
    playbook_code: str,
    actor: User | None,
    automatic: bool = False,
    proposals: list[Proposal] | None = None,
) -> PlaybookRun:
    """Start the version of ``playbook_code`` in force on ``escalation``.

    A person may start any active playbook (a lead may judge one fits that the rules do
    not propose); ``automatic`` starts come from :func:`on_escalation_changed`.
    """
    if not automatic:
        _require(
            actor is not None and can_work_escalations(actor),
            "your role cannot start playbooks",
        )
    if escalation.merged_into_id is not None:
        raise Conflict(
            f"{escalation.reference} was merged into WF-{escalation.merged_into_id}; work it there",
            field="playbook",
        )
    if escalation.status == Status.CLOSED:
        raise Conflict("the escalation is closed; reopen it to run a playbook", field="playbook")
    playbook = (
        Playbook.objects.filter(code=playbook_code, is_active=True)
        .select_related("current_version")
        .first()
    )
    if playbook is None:
        known = ", ".join(Playbook.objects.filter(is_active=True).values_list("code", flat=True))
        raise InvalidInput(
            f"unknown playbook '{playbook_code}'; use one of {known or '(none loaded)'}",
            field="playbook",
        )
    # Serialise starts on this escalation so two people cannot start the same playbook twice.
    Escalation.objects.select_for_update().filter(pk=escalation.pk).first()
    if PlaybookRun.objects.filter(
        escalation=escalation, playbook=playbook, status=RunStatus.ACTIVE
    ).exists():
        raise Conflict(
            f"'{playbook.current_version.name}' is already running here", field="playbook"
        )
    version = playbook.current_version
    spec = selectors.playbook_spec(version)
    now = clock.now()
    facts = selectors.current_facts(escalation)
    run = PlaybookRun.objects.create(
        escalation=escalation,
        playbook=playbook,
        version=version,
        automatic=automatic,
        started_at=now,
        started_by=actor,
    )
    plan = plan_run(spec, facts, _anchors(escalation, run_started=now))
    RunStep.objects.bulk_create(
        RunStep(
            run=run,
            step_id=step.id,
            position=position,
            title=step.title,
            owner_role=step.owner.role or "",
            owner_team=step.owner.team or "",
            due_at=planned.due_at,
            due_basis=planned.due_basis[:300],
            state=StepState.PENDING if planned.applies else StepState.SKIPPED,
            reason="" if planned.applies else _unmet_reason(planned),
            skipped_by_condition=not planned.applies,
            changed_at=now,
        )
        for position, (step, planned) in enumerate(zip(spec.steps, plan, strict=True))
    )
    mildest = rubric_for(escalation.catalog_version).mildest_level
    record_event(
        action=AuditAction.PLAYBOOK_RUN_STARTED,
        actor=actor,
        target=run,
        escalation_id=escalation.pk,
        data=_data(
            run,
            name=spec.name,
            version=version.digest[:12],
            automatic=automatic,
            matches=spec.applies_to.matches(facts),
            steps=sum(1 for p in plan if p.applies),
            skipped=[p.step_id for p in plan if not p.applies],
            proposals=[p.as_dict() for p in proposals or []],
            severity=f"SEV{facts.severity}",
            mildest_severity=mildest,
        ),
    )
    return run


@transaction.atomic
def on_escalation_changed(*, escalation: Escalation, actor: User | None) -> PlaybookRun | None:
    """Called by the escalation services (inside their transaction) when an escalation is
    created or its type or severity changes.

    Re-plans the active runs (branches re-evaluated, due times recomputed from the
    clocks as they now stand), then proposes the playbooks that apply; the best match is
    started when it says ``auto_start`` and has never run on this escalation. Returns
    the run started, if any.
    """
    facts = selectors.current_facts(escalation)
    for run in PlaybookRun.objects.filter(
        escalation=escalation, status=RunStatus.ACTIVE
    ).select_related("version"):
        _replan(run, escalation=escalation, facts=facts, actor=actor)
    if escalation.merged_into_id is not None or escalation.status == Status.CLOSED:
        return None
    proposals = selectors.proposals_for(escalation, facts=facts)
    if not proposals:
        return None
    best = proposals[0]
    ever_ran = PlaybookRun.objects.filter(escalation=escalation, playbook=best.playbook).exists()
    if best.auto_start and not ever_ran:
        return start_playbook_run(
            escalation=escalation,
            playbook_code=best.code,
            actor=actor,
            automatic=True,
            proposals=proposals,
        )
    waiting = [p for p in proposals if p.active_run_id is None]
    if waiting:
        record_event(
            action=AuditAction.PLAYBOOK_PROPOSED,
            actor=actor,
            target=escalation,
            escalation_id=escalation.pk,
            data={
                "severity": f"SEV{facts.severity}",
                "type": facts.type,
                "proposals": [p.as_dict() for p in proposals],
                "best": best.code,
                "auto_started": False,
                "why_not_started": (
                    "it already ran on this escalation" if ever_ran else NOT_AUTOMATIC
                )
                if best.active_run_id is None
                else "already running",
            },
        )
    return None


def _replan(
    run: PlaybookRun, *, escalation: Escalation, facts: EscalationFacts, actor: User | None
) -> None:
    spec = selectors.playbook_spec(run.version)
    plan = {
        p.step_id: p
        for p in plan_run(spec, facts, _anchors(escalation, run_started=run.started_at))
    }
    now = clock.now()
    changes = []
    for step in run.steps.all():
        planned = plan.get(step.step_id)
        if planned is None:
            continue
        fields: list[str] = []
        if step.state == StepState.SKIPPED and step.skipped_by_condition and planned.applies:
            changes.append(
                {
                    "step": step.step_id,
                    "from": step.state,
                    "to": StepState.PENDING,
                    "why": "now applies",
                }
            )
            step.state, step.reason, step.skipped_by_condition = StepState.PENDING, "", False
            fields += ["state", "reason", "skipped_by_condition"]
        elif step.state == StepState.PENDING and not planned.applies:
            changes.append(
                {
                    "step": step.step_id,
                    "from": step.state,
                    "to": StepState.SKIPPED,
                    "why": _unmet_reason(planned),
                }
            )
            step.state, step.reason = StepState.SKIPPED, _unmet_reason(planned)
            step.skipped_by_condition = True
            fields += ["state", "reason", "skipped_by_condition"]
        if (
            step.state not in FINISHED_STATES
            and planned.applies
            and (step.due_at != planned.due_at or step.due_basis != planned.due_basis[:300])
        ):
            changes.append(
                {"step": step.step_id, "due_from": step.due_at, "due_to": planned.due_at}
            )
            step.due_at, step.due_basis = planned.due_at, planned.due_basis[:300]
            fields += ["due_at", "due_basis"]
        if fields:
            step.changed_at = now
            step.save(update_fields=[*fields, "changed_at"])
    if changes:
        record_event(
            action=AuditAction.PLAYBOOK_RUN_REPLANNED,
            actor=actor,
            target=run,
            escalation_id=escalation.pk,
            data=_data(run, severity=f"SEV{facts.severity}", type=facts.type, changes=changes),
        )
        _complete_if_finished(run, actor=actor)


def _complete_if_finished(run: PlaybookRun, *, actor: User | None) -> None:
    if run.status != RunStatus.ACTIVE:
        return
    states = list(run.steps.values_list("state", flat=True))
    if states and all(state in FINISHED_STATES for state in states):
        run.status = RunStatus.COMPLETED
        run.finished_at = clock.now()
        run.save(update_fields=["status", "finished_at"])
        record_event(
            action=AuditAction.PLAYBOOK_RUN_COMPLETED,
            actor=actor,
            target=run,
            escalation_id=run.escalation_id,
            data=_data(
                run,
                done=states.count(StepState.DONE),
                skipped=states.count(StepState.SKIPPED),
            ),
        )


@transaction.atomic
def cancel_playbook_run(*, run: PlaybookRun, actor: User, reason: str) -> PlaybookRun:
    _require(can_work_escalations(actor), "your role cannot cancel playbooks")
    run = PlaybookRun.objects.select_for_update().select_related("version").get(pk=run.pk)
    if run.status != RunStatus.ACTIVE:
        raise Conflict(f"this run is {RunStatus(run.status).label.lower()}", field="run")
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=True)
    run.status = RunStatus.CANCELLED
    run.finished_at = clock.now()
    run.cancel_reason = reason
    run.save(update_fields=["status", "finished_at", "cancel_reason"])
    record_event(
        action=AuditAction.PLAYBOOK_RUN_CANCELLED,
        actor=actor,
        target=run,
        escalation_id=run.escalation_id,
        data=_data(run, reason=reason),
    )
    return run


@transaction.atomic
def assign_run_role(*, run: PlaybookRun, role: str, user: User | None, actor: User) -> PlaybookRun:
    """Name who holds ``role`` in ``run`` (``user=None`` leaves it open)."""
    _require(can_work_escalations(actor), "your role cannot assign playbook roles")
    if run.status != RunStatus.ACTIVE:
        raise Conflict(f"this run is {RunStatus(run.status).label.lower()}", field="role")
    spec = selectors.playbook_spec(run.version)
    role_spec = spec.role(role)
    if role_spec is None:
        raise InvalidInput(
            f"'{role}' is not a role of this playbook; use one of "
            f"{', '.join(r.code for r in spec.roles)}",
            field="role",
        )
    if user is not None and not escalations_visible_to(user).filter(pk=run.escalation_id).exists():
        raise InvalidInput(f"{user.username} cannot see this escalation", field="user")
    previous = RunRole.objects.filter(run=run, role=role).select_related("user").first()
    before = previous.user.username if previous else None
    if user is None:
        RunRole.objects.filter(run=run, role=role).delete()
    elif previous is None:
        RunRole.objects.create(run=run, role=role, user=user, assigned_at=clock.now())
    else:
        previous.user, previous.assigned_at = user, clock.now()
        previous.save(update_fields=["user", "assigned_at"])
    record_event(
        action=AuditAction.PLAYBOOK_ROLE_ASSIGNED,
        actor=actor,
        target=run,
        escalation_id=run.escalation_id,
        data=_data(
            run,
            role=role,
            role_name=role_spec.name,
            **{"from": before},
            to=user.username if user else None,
        ),
    )
    return run


# ---------------------------------------------------------------- working the steps


def _locked_step(step: RunStep) -> RunStep:
    return (
        RunStep.objects.select_for_update()
        .select_related("run__version", "run__escalation")
        .get(pk=step.pk)
    )


def _check_may_work(step: RunStep, actor: User) -> None:
    _require(
        selectors.may_work_step(actor, step),
        "only site policy, or the partner team that owns this step, may work it",
    )


def _missing_fields(escalation: Escalation, fields: list[str]) -> list[str]:
    missing = []
    for name in fields:
        if name == "owner" and escalation.owner_id is None:
            missing.append("an owner")
        elif name == "policy" and escalation.policy_id is None:
            missing.append("a policy")
        elif (
            name == "decision"
            and not escalation.decisions.filter(state=Decision.State.FINAL).exists()
        ):
            missing.append("a final decision")
        elif name == "subjects" and not escalation.subjects.exists():
            missing.append("subjects")
        elif name == "markets" and not escalation.markets.exists():
            missing.append("markets")
        elif name == "languages" and not escalation.languages:
            missing.append("languages")
    return missing


@transaction.atomic
def set_step_state(
    *,
    step: RunStep,
    state: str,
    actor: User,
    reason: str = "",
    evidence: dict[str, str] | None = None,
) -> RunStep:
    """Move a step along its lifecycle (``models.STEP_TRANSITIONS``).

    Skipping and blocking need a reason, and so does reopening a finished step. A step
    is done only once the steps it waits for are finished, its required checklist items
    are ticked, its evidence is recorded, the escalation fields it needs are set and its
    approval is given.
    """
    _check_may_work(step, actor)
    step = _locked_step(step)
    run = step.run
    if run.status == RunStatus.CANCELLED:
        raise Conflict("this playbook run was cancelled", field="state")
    if state not in StepState.values:
        raise InvalidInput(
            f"unknown state '{state}'; use one of {', '.join(StepState.values)}", field="state"
        )
    current = step.state
    if state == current:
        raise Conflict(f"the step is already {StepState(state).label.lower()}", field="state")
    if state not in STEP_TRANSITIONS[current]:
        allowed = ", ".join(
            StepState(s).label for s in StepState.values if s in STEP_TRANSITIONS[current]
        )
        raise Conflict(
            f"a {StepState(current).label.lower()} step cannot become "
            f"{StepState(state).label.lower()}; it can go to: {allowed}",
            field="state",
        )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=False)
    if state in NEEDS_REASON and not reason:
        word = "skipping" if state == StepState.SKIPPED else "blocking"
        raise InvalidInput(f"say why: {word} a step needs a reason", field="reason")
    if current in FINISHED_STATES and not reason:
        raise InvalidInput("reopening a finished step needs a reason", field="reason")
    spec = selectors.playbook_spec(run.version).step(step.step_id)
    if state in (StepState.IN_PROGRESS, StepState.DONE):
        siblings = list(run.steps.all())
        waiting = selectors.waiting_on(step, siblings, spec)
        if waiting:
            raise Conflict(
                "this step waits for "
                + ", ".join(f"'{s.title}'" for s in waiting)
                + "; finish or skip them first",
                field="state",
            )
    recorded: dict[str, str] = {}
    if state == StepState.DONE:
        merged = dict(step.evidence or {})
        for item in spec.requires.evidence:
            value = (evidence or {}).get(item.id)
            if value is not None and value.strip():
                merged[item.id] = _text(
                    value, field=f"evidence.{item.id}", max_length=EVIDENCE_MAX, required=True
                )
                recorded[item.id] = merged[item.id]
            if not merged.get(item.id):
                raise InvalidInput(
                    f"record the evidence: {item.label}", field=f"evidence.{item.id}"
                )
        missing = _missing_fields(run.escalation, list(spec.requires.fields))
        if missing:
            raise Conflict(
                f"the escalation needs {', '.join(missing)} before this step is done",
                field="state",
            )
        ticks = step.checklist or {}
        unticked = [
            i.text
            for i in spec.checklist
            if not i.optional and not ticks.get(i.id, {}).get("checked")
        ]
        if unticked:
            raise Conflict("tick the checklist first: " + "; ".join(unticked), field="checklist")
        if spec.approval is not None and step.approved_by_id is None:
            raise Conflict("this step needs its approval before it is done", field="approval")
        step.evidence = merged
    now = clock.now()
    fields = ["state", "reason", "skipped_by_condition", "changed_at", "changed_by", "evidence"]
    if current == StepState.DONE and step.approved_by_id is not None:
        # Reopened work is new work: it needs approving again.
        step.approved_by, step.approved_at, step.approval_comment = None, None, ""
        fields += ["approved_by", "approved_at", "approval_comment"]
    step.state = state
    step.reason = reason
    step.skipped_by_condition = False
    step.changed_at, step.changed_by = now, actor
    step.save(update_fields=fields)
    record_event(
        action=AuditAction.PLAYBOOK_STEP_CHANGED,
        actor=actor,
        target=step,
        escalation_id=run.escalation_id,
        data=_data(
            run,
            step=step.step_id,
            title=step.title,
            **{"from": current},
            to=state,
            from_label=StepState(current).label,
            to_label=StepState(state).label,
            reason=reason,
            evidence=recorded,
            due_at=step.due_at,
            late=bool(step.due_at and now > step.due_at and state == StepState.DONE),
        ),
    )
    if state in FINISHED_STATES:
        _complete_if_finished(run, actor=actor)
    elif run.status == RunStatus.COMPLETED:
        _reopen_run(run, actor=actor, step=step)
    return step


def _reopen_run(run: PlaybookRun, *, actor: User, step: RunStep) -> None:
    if PlaybookRun.objects.filter(
        escalation_id=run.escalation_id, playbook_id=run.playbook_id, status=RunStatus.ACTIVE
    ).exists():
        raise Conflict(
            "another run of this playbook is active on the escalation; work the step there",
            field="state",
        )
    run.status, run.finished_at = RunStatus.ACTIVE, None
    run.save(update_fields=["status", "finished_at"])


@transaction.atomic
def tick_checklist_item(*, step: RunStep, item_id: str, checked: bool, actor: User) -> RunStep:
    _check_may_work(step, actor)
    step = _locked_step(step)
    run = step.run
    if run.status != RunStatus.ACTIVE:
        raise Conflict(f"this playbook run is {RunStatus(run.status).label.lower()}", field="item")
    if step.is_finished:
        raise Conflict(
            f"the step is {StepState(step.state).label.lower()}; reopen it to change its checklist",
            field="item",
        )
    spec = selectors.playbook_spec(run.version).step(step.step_id)
    item = next((i for i in spec.checklist if i.id == item_id), None)
    if item is None:
        raise InvalidInput(f"the step has no checklist item '{item_id}'", field="item")
    ticks = dict(step.checklist or {})
    if bool(ticks.get(item_id, {}).get("checked")) == checked:
        return step  # a repeated click: nothing changes, nothing to record
    now = clock.now()
    ticks[item_id] = {"checked": checked, "by": actor.get_username(), "at": now.isoformat()}
    step.checklist = ticks
    step.changed_at = now
    step.save(update_fields=["checklist", "changed_at"])
    record_event(
        action=AuditAction.PLAYBOOK_CHECKLIST_TICKED,
        actor=actor,
        target=step,
        escalation_id=run.escalation_id,
        data=_data(run, step=step.step_id, item=item_id, text=item.text, checked=checked),
    )
    return step


@transaction.atomic
def approve_step(*, step: RunStep, actor: User, comment: str = "") -> RunStep:
    step = _locked_step(step)
    run = step.run
    spec = selectors.playbook_spec(run.version).step(step.step_id)
    if spec.approval is None:
        raise Conflict("this step needs no approval", field="approval")
    holders = {h.role: h.user for h in run.role_holders.select_related("user")}
    _require(
        selectors.may_approve_step(actor, step, spec, holders),
        "you cannot approve this step: it needs "
        + (f"the {spec.approval.team} team" if spec.approval.team else f"the {spec.approval.role}"),
    )
    if run.status != RunStatus.ACTIVE:
        raise Conflict(
            f"this playbook run is {RunStatus(run.status).label.lower()}", field="approval"
        )
    if step.is_finished:
        raise Conflict(f"the step is {StepState(step.state).label.lower()}", field="approval")
    if step.approved_by_id is not None:
        raise Conflict("the step is already approved", field="approval")
    step.approved_by, step.approved_at = actor, clock.now()
    step.approval_comment = _text(comment, field="comment", max_length=REASON_MAX, required=False)
    step.save(update_fields=["approved_by", "approved_at", "approval_comment"])
    record_event(
        action=AuditAction.PLAYBOOK_STEP_APPROVED,
        actor=actor,
        target=step,
        escalation_id=run.escalation_id,
        data=_data(
            run,
            step=step.step_id,
            title=step.title,
            approval=spec.approval.model_dump(exclude_none=True),
            comment=step.approval_comment,
        ),
    )
    return step


# ---------------------------------------------------------------- communications


@dataclass(frozen=True)
class TemplatePreview:
    template: CommunicationTemplate
    spec: TemplateSpec
    language: str
    languages: list[str]
    subject: str
    body: str
    inputs: dict[str, str]
    missing_inputs: list[str]
    variables: dict[str, str]


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    name = local.strftime("%Z")
    name = f"UTC{name}" if name[:1] in "+-" else name
    return f"{local:%Y-%m-%d %H:%M} {name}"


def escalation_variables(escalation: Escalation, *, step: RunStep | None = None) -> dict[str, str]:
    """The values a template may use, as text in the primary market's time."""
    zone = business_time_zone(escalation)
    markets = list(escalation.markets.order_by("code"))
    statutory = (
        Clock.objects.filter(escalation=escalation, kind=Clock.Kind.STATUTORY, met_at__isnull=True)
        .order_by("due_at")
        .first()
    )
    values = {
        "reference": escalation.reference,
        "title": escalation.title,
        "type": escalation.type.name,
        "severity": escalation.severity_name,
        "status": escalation.get_status_display(),
        "markets": ", ".join(m.code for m in markets),
        "market_names": ", ".join(m.name for m in markets),
        "languages": ", ".join(escalation.languages or []),
        "opened_at": _local(escalation.opened_at, zone),
        "next_deadline": _local(escalation.next_due_at, zone),
        "statutory_deadline": _local(statutory.due_at if statutory else None, zone),
        "owner": escalation.owner.display_name if escalation.owner else "",
        "playbook": selectors.playbook_spec(step.run.version).name if step else "",
        "step": step.title if step else "",
    }
    assert set(values) == set(ESCALATION_VARIABLES)
    return values


def _language(spec: TemplateSpec, requested: str, escalation: Escalation) -> str:
    if requested:
        if requested not in spec.bodies:
            raise InvalidInput(
                f"'{spec.code}' has no '{requested}' text; it has {', '.join(spec.bodies)}",
                field="language",
            )
        return requested
    return preferred_language(reader_languages(spec.audience, escalation), spec.bodies)


# Whom each audience's text is read by, and so which languages come first: an authority
# reads the market's language; the people affected, and the press, the content's; a
# partner team works in its market's; industry partners share one working language.
_MARKET_FIRST = frozenset({"regulator", "government", "law_enforcement", "partner_team"})
_CONTENT_FIRST = frozenset({"public", "user", "media"})


def reader_languages(audience: str, escalation: Escalation) -> list[str]:
    """The languages a template's readers likely read, most likely first (English is the
    fallback after them): the primary market's, the escalation's, or neither."""
    market = escalation.primary_market
    market_languages = list(market.languages or []) if market is not None else []
    content_languages = list(escalation.languages or [])
    if audience in _MARKET_FIRST:
        return market_languages + content_languages
    if audience in _CONTENT_FIRST:
        return content_languages + market_languages
    if audience == "internal":
        return content_languages
    return []


def preview_template(
    *,
    escalation: Escalation,
    template_code: str,
    language: str = "",
    inputs: dict[str, str] | None = None,
    step: RunStep | None = None,
) -> TemplatePreview:
    """The template filled in for ``escalation``; nothing is saved. A value not given
    shows as ``[name]`` so the gap is visible before anything is sent."""
    template, spec = selectors.get_template(template_code)
    chosen = _language(spec, language, escalation)
    given = {
        item.name: _text(
            (inputs or {}).get(item.name, ""),
            field=f"inputs.{item.name}",
            max_length=INPUT_MAX,
            required=False,
        )
        for item in spec.inputs
    }
    values = {**escalation_variables(escalation, step=step), **given}
    body = spec.bodies[chosen]
    return TemplatePreview(
        template=template,
        spec=spec,
        language=chosen,
        languages=list(spec.bodies),
        subject=fill_variables(body.subject, values),
        body=fill_variables(body.body, values),
        inputs=given,
        missing_inputs=[
            item.name for item in spec.inputs if item.required and not given[item.name]
        ],
        variables=values,
    )


@transaction.atomic
def record_communication_sent(
    *,
    escalation: Escalation,
    template_code: str,
    language: str,
    channel: str,
    recipient: str,
    actor: User,
    inputs: dict[str, str] | None = None,
    step: RunStep | None = None,
) -> CommunicationRecord:
    """Record that the filled-in template was sent (delivery itself happens elsewhere).

    The text is rendered again here from the template, never taken from the browser, so
    the record is exactly what the template says for this escalation.
    """
    if step is not None and step.run.escalation_id != escalation.pk:
        raise InvalidInput("that step belongs to another escalation", field="step")
    _require(
        can_work_escalations(actor) or (step is not None and selectors.may_work_step(actor, step)),
        "only site policy, or the partner team that owns the step, may record communications",
    )
    channel = _text(channel, field="channel", max_length=100, required=True)
    recipient = _text(recipient, field="recipient", max_length=500, required=True)
    preview = preview_template(
        escalation=escalation,
        template_code=template_code,
        language=language,
        inputs=inputs,
        step=step,
    )
    if preview.missing_inputs:
        first = preview.missing_inputs[0]
        raise InvalidInput(
            "fill in " + ", ".join(preview.missing_inputs) + " before sending",
            field=f"inputs.{first}",
        )
    record = CommunicationRecord.objects.create(
        escalation=escalation,
        step=step,
        template_version=preview.template.current_version,
        language=preview.language,
        channel=channel,
        recipient=recipient,
        subject=preview.subject,
        body=preview.body,
        inputs=preview.inputs,
        sent_at=clock.now(),
        sent_by=actor,
    )
    record_event(
        action=AuditAction.COMMUNICATION_SENT,
        actor=actor,
        target=record,
        escalation_id=escalation.pk,
        data={
            "template": preview.spec.code,
            "template_version": preview.template.current_version.digest[:12],
            "language": preview.language,
            "channel": channel,
            "recipient": recipient,
            "subject": preview.subject,
            "body": preview.body,
            "step": step.step_id if step else None,
            "run": step.run_id if step else None,
        },
    )
    return record
