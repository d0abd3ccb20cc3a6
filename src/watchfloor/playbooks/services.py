"""Proposing, starting, replanning and ending playbook runs, one named action each:
checked, written and audited (with the escalation's id, so it reads on its timeline) in
one transaction. Views check visibility with ``access_escalation`` first, then call
these. Loading the library is in ``library``, working a run's steps in ``step_work``,
communication templates in ``communications``.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.hooks import filed_with
from watchfloor.escalations.models import Clock, Escalation, Status
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.playbooks import selectors
from watchfloor.playbooks.models import (
    FINISHED_STATES,
    Playbook,
    PlaybookRun,
    RunRole,
    RunStatus,
    RunStep,
    StepState,
)
from watchfloor.playbooks.planning import Anchors, PlannedStep, plan_run
from watchfloor.playbooks.schema import (
    EscalationFacts,
)
from watchfloor.playbooks.selectors import Proposal

if TYPE_CHECKING:
    from watchfloor.people.models import User

REASON_MAX = 5_000
EVIDENCE_MAX = 2_000
INPUT_MAX = 2_000
# Why a proposed playbook did not start, in words (its file says auto_start: false).
NOT_AUTOMATIC = "it starts by hand: it is not set to start by itself"


# ---------------------------------------------------------------- proposing and starting


def propose_playbooks(escalation: Escalation) -> list[Proposal]:
    """The playbooks that apply to ``escalation``, best first, each with why."""
    return selectors.proposals_for(escalation)


def _clocks(escalation: Escalation) -> list[Clock]:
    return list(Clock.objects.filter(escalation=escalation).select_related("statutory_rule"))


def _anchors(
    escalation: Escalation, *, run_started: datetime, clocks: list[Clock] | None = None
) -> Anchors:
    """The times a run's steps are due from; ``clocks`` as ``_clocks`` reads them, when
    the caller has just read them."""
    clocks = _clocks(escalation) if clocks is None else clocks
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


def run_event_data(run: PlaybookRun, **values: Any) -> dict[str, Any]:
    """The data of a playbook run's audit event: the playbook and the run, then ``values``."""
    return {"playbook": run.version.code, "run": run.pk, **values}


@transaction.atomic
def start_playbook_run(
    *,
    escalation: Escalation,
    playbook_code: str,
    actor: User | None,
    automatic: bool = False,
    proposals: list[Proposal] | None = None,
    facts: EscalationFacts | None = None,
) -> PlaybookRun:
    """Start the version of ``playbook_code`` in force on ``escalation``.

    A person may start any active playbook (a lead may judge one fits that the rules do
    not propose); ``automatic`` starts come from :func:`on_escalation_changed`, which
    passes the ``facts`` it has just read (``selectors.current_facts``).
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
        .defer(*selectors.VERSION_FILE_FIELDS)
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
    return _write_run(
        escalation=escalation,
        playbook=playbook,
        actor=actor,
        automatic=automatic,
        proposals=proposals,
        facts=facts or selectors.current_facts(escalation),
    )


def _write_run(
    *,
    escalation: Escalation,
    playbook: Playbook,
    actor: User | None,
    automatic: bool,
    proposals: list[Proposal] | None,
    facts: EscalationFacts,
    clocks: list[Clock] | None = None,
) -> PlaybookRun:
    """The run, its planned steps and its audit event, once the start was checked."""
    version = playbook.current_version
    spec = selectors.playbook_spec(version)
    now = clock.now()
    run = PlaybookRun.objects.create(
        escalation=escalation,
        playbook=playbook,
        version=version,
        automatic=automatic,
        started_at=now,
        started_by=actor,
    )
    plan = plan_run(spec, facts, _anchors(escalation, run_started=now, clocks=clocks))
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
        data=run_event_data(
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
def on_escalation_changed(
    *, escalation: Escalation, actor: User | None, created: bool = False
) -> PlaybookRun | None:
    """Called by the escalation services (inside their transaction) when an escalation is
    created or its type or severity changes.

    Re-plans the active runs (branches re-evaluated, due times recomputed from the
    clocks as they now stand), then proposes the playbooks that apply; the best match is
    started when it says ``auto_start`` and has never run on this escalation. Returns
    the run started, if any. ``created``: the escalation was filed in this transaction,
    so no playbook has run on it (nothing to re-plan or look up).
    """
    filed = filed_with(escalation, "created") if created else None
    clocks = list(filed.clocks) if filed else _clocks(escalation)
    facts = selectors.current_facts(
        escalation, clocks=clocks, markets=list(filed.market_codes) if filed else None
    )
    if not created:
        for run in PlaybookRun.objects.filter(
            escalation=escalation, status=RunStatus.ACTIVE
        ).select_related("version"):
            _replan(run, escalation=escalation, facts=facts, actor=actor, clocks=clocks)
    if escalation.merged_into_id is not None or escalation.status == Status.CLOSED:
        return None
    proposals = selectors.proposals_for(
        escalation, facts=facts, active_runs={} if created else None
    )
    if not proposals:
        return None
    best = proposals[0]
    ever_ran = (
        not created
        and PlaybookRun.objects.filter(escalation=escalation, playbook=best.playbook).exists()
    )
    if best.auto_start and not ever_ran:
        # Filed in this transaction (``created``): its row is locked by it, no run can
        # exist on it yet, and the proposal holds the playbook read a moment ago, so the
        # run is written without start_playbook_run's lookups and checks, which would
        # each read again what is known.
        start = (
            partial(_write_run, playbook=best.playbook, clocks=clocks)
            if created
            else partial(start_playbook_run, playbook_code=best.code)
        )
        return start(
            escalation=escalation, actor=actor, automatic=True, proposals=proposals, facts=facts
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
    run: PlaybookRun,
    *,
    escalation: Escalation,
    facts: EscalationFacts,
    actor: User | None,
    clocks: list[Clock],
) -> None:
    spec = selectors.playbook_spec(run.version)
    anchors = _anchors(escalation, run_started=run.started_at, clocks=clocks)
    plan = {p.step_id: p for p in plan_run(spec, facts, anchors)}
    now = clock.now()
    changes: list[dict[str, Any]] = []
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
            data=run_event_data(
                run, severity=f"SEV{facts.severity}", type=facts.type, changes=changes
            ),
        )
        complete_if_finished(run, actor=actor)


def complete_if_finished(run: PlaybookRun, *, actor: User | None) -> None:
    """Complete an active run, audited, once every step is finished."""
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
            data=run_event_data(
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
        data=run_event_data(run, reason=reason),
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
        data=run_event_data(
            run,
            role=role,
            role_name=role_spec.name,
            **{"from": before},
            to=user.username if user else None,
        ),
    )
    return run
