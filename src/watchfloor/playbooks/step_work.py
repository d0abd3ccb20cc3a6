"""Working a playbook run's steps: setting a step's state (with its evidence and inputs),
ticking checklist items and approving steps, each checked against who may work or
approve it and audited with the escalation's id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.models import Decision, Escalation
from watchfloor.playbooks import permissions, selectors
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    NEEDS_REASON,
    STEP_TRANSITIONS,
    PlaybookRun,
    RunStatus,
    RunStep,
    StepState,
)
from watchfloor.playbooks.services import (
    EVIDENCE_MAX,
    REASON_MAX,
    complete_if_finished,
    run_event_data,
)

if TYPE_CHECKING:
    from watchfloor.people.models import User


def _locked_step(step: RunStep) -> RunStep:
    return (
        RunStep.objects.select_for_update()
        .select_related("run__version", "run__escalation")
        .get(pk=step.pk)
    )


def _check_may_work(step: RunStep, actor: User) -> None:
    _require(
        permissions.may_work_step(actor, step),
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
        data=run_event_data(
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
        complete_if_finished(run, actor=actor)
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
        data=run_event_data(run, step=step.step_id, item=item_id, text=item.text, checked=checked),
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
        permissions.may_approve_step(actor, step, spec, holders),
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
        data=run_event_data(
            run,
            step=step.step_id,
            title=step.title,
            approval=spec.approval.model_dump(exclude_none=True),
            comment=step.approval_comment,
        ),
    )
    return step
