"""The scripted responses of autoplay: each one calls the service a person would, as the
cast member the scenario names (``ResponseSpec.do`` says which)."""

from __future__ import annotations

from collections.abc import Callable

from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.crises import services as crisis_services
from watchfloor.crises.models import Crisis
from watchfloor.drills.models import DrillRun
from watchfloor.drills.scenarios import ResponseSpec
from watchfloor.drills.selectors import escalation_opened_by, scenario_of
from watchfloor.escalations.models import Escalation, Status
from watchfloor.people.models import User


def _target(run: DrillRun, response: ResponseSpec) -> Escalation:
    escalation = escalation_opened_by(run, response.escalation or "")
    if escalation is None:
        raise NotFound(f"'{response.escalation}' has not opened an escalation yet")
    return escalation


def _step(run: DrillRun, response: ResponseSpec):
    from watchfloor.playbooks.models import RunStatus, RunStep

    escalation = _target(run, response)
    step = (
        RunStep.objects.filter(run__escalation=escalation, step_id=response.step)
        .exclude(run__status=RunStatus.CANCELLED)
        .select_related("run__version", "run__escalation")
        .order_by("-run__started_at")
        .first()
    )
    if step is None:
        raise NotFound(f"no playbook run on {escalation.reference} has a step '{response.step}'")
    return step


def _acknowledge(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import transition_escalation

    transition_escalation(
        escalation=_target(run, response), to_status=Status.TRIAGED, actor=cast[response.actor]
    )


def _assign(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import assign_escalation

    assign_escalation(
        escalation=_target(run, response), owner=cast[response.to or ""], actor=cast[response.actor]
    )


def _transition(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import transition_escalation

    transition_escalation(
        escalation=_target(run, response),
        to_status=response.to or "",
        actor=cast[response.actor],
        reason=response.reason,
    )


def _complete_step(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    """As a person would: tick the required checklist, approve where asked, record the
    evidence (the file's, or a drill reference) and mark it done."""
    from watchfloor.playbooks.selectors import playbook_spec
    from watchfloor.playbooks.step_work import approve_step, set_step_state, tick_checklist_item

    step = _step(run, response)
    actor = cast[response.actor]
    step_spec = playbook_spec(step.run.version).step(step.step_id)
    for item in step_spec.checklist:
        if not item.optional:
            step = tick_checklist_item(step=step, item_id=item.id, checked=True, actor=actor)
    if step_spec.approval is not None and step.approved_by_id is None:
        if response.approve_as is None:
            raise InvalidInput(
                f"step '{step.step_id}' needs an approval; say who gives it (approve_as)",
                field="approve_as",
            )
        step = approve_step(step=step, actor=cast[response.approve_as], comment="drill")
    evidence = {item.id: f"DRILL-{run.pk}-{item.id}" for item in step_spec.requires.evidence}
    evidence.update(response.evidence)
    set_step_state(step=step, state="done", actor=actor, evidence=evidence)


def _skip_step(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.step_work import set_step_state

    set_step_state(
        step=_step(run, response),
        state="skipped",
        actor=cast[response.actor],
        reason=response.reason,
    )


def _start_playbook(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.services import start_playbook_run

    start_playbook_run(
        escalation=_target(run, response),
        playbook_code=response.playbook or "",
        actor=cast[response.actor],
    )


def _assign_playbook_role(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.models import PlaybookRun, RunStatus
    from watchfloor.playbooks.services import assign_run_role

    escalation = _target(run, response)
    playbook_run = (
        PlaybookRun.objects.filter(escalation=escalation, status=RunStatus.ACTIVE)
        .order_by("-started_at")
        .first()
    )
    if playbook_run is None:
        raise NotFound(f"no active playbook run on {escalation.reference}")
    assign_run_role(
        run=playbook_run,
        role=response.role or "",
        user=cast[response.to or ""],
        actor=cast[response.actor],
    )


def _record_decision(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.decisions import approve_decision, record_decision

    decision_spec = response.decision
    assert decision_spec is not None
    from watchfloor.escalations.editing import final_decision_id

    escalation = _target(run, response)
    decision = record_decision(
        escalation=escalation,
        actor=cast[response.actor],
        # A scenario's later decision replaces the earlier one, by saying so.
        supersedes=final_decision_id(escalation),
        policy_code=decision_spec.policy,
        action_code=decision_spec.action,
        scope=decision_spec.scope,
        rationale=decision_spec.rationale,
        countries=list(decision_spec.countries),
    )
    if decision.state == decision.State.PENDING_APPROVAL:
        if response.approve_as is None:
            raise InvalidInput(
                "the decision needs approval; say who gives it (approve_as)", field="approve_as"
            )
        approve_decision(decision=decision, actor=cast[response.approve_as], comment="drill")


def _stored_crisis(run: DrillRun) -> Crisis:
    """The drill's crisis as stored now, not the run's cached copy."""
    if run.crisis_id is None:  # pragma: no cover - a started drill has its crisis
        raise NotFound("this drill has no crisis", field="run")
    return Crisis.objects.get(pk=run.crisis_id)


def _send_sitrep(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.crises.drafting import draft_sitrep

    crisis = _stored_crisis(run)
    actor = cast[response.actor]
    draft = draft_sitrep(
        crisis=crisis,
        audience=response.audience,
        language=response.language,
        viewer=actor,
        now=clock.now(),
    )
    crisis_services.send_sitrep(
        crisis=crisis,
        audience=response.audience,
        language=response.language,
        subject=draft.subject or f"{crisis.reference} sitrep {draft.number}",
        body=(response.body + "\n\n" if response.body else "") + (draft.body or "(empty draft)"),
        actor=actor,
    )


def _hand_over_role(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    crisis_services.hand_over_role(
        crisis=_stored_crisis(run),
        role=response.role or "",
        to_user=cast[response.to or ""],
        actor=cast[response.actor],
        note=response.body,
        market=response.market,
    )


def _change_level(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    crisis_services.change_level(
        crisis=_stored_crisis(run),
        to_level=response.to or "",
        actor=cast[response.actor],
        reason=response.reason,
        confirmed_criteria=list(response.confirmed),
    )


def _add_note(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import add_note

    actor = cast[response.actor]
    if response.escalation:
        add_note(escalation=_target(run, response), body=response.body, actor=actor)
    else:
        crisis_services.add_crisis_note(
            crisis=_stored_crisis(run),
            body=response.body,
            actor=actor,
            pinned=response.pinned,
        )


def _answer_partner_request(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.coordination.models import PartnerRequest
    from watchfloor.coordination.services import answer_partner_request

    spec = scenario_of(run)
    sequence = next((i for i, s in enumerate(spec.injects) if s.id == response.inject), None)
    inject = run.injects.filter(sequence=sequence).first() if sequence is not None else None
    request_id = (inject.outcome or {}).get("partner_request_id") if inject else None
    partner_request = PartnerRequest.objects.filter(pk=request_id).first() if request_id else None
    if partner_request is None:
        raise NotFound(f"'{response.inject}' has asked nothing yet")
    answer_partner_request(
        partner_request=partner_request,
        actor=cast[response.actor],
        outcome=response.outcome or "",
        answer=response.answer,
    )


_PLAYERS: dict[str, Callable[[DrillRun, ResponseSpec, dict[str, User]], None]] = {
    "acknowledge": _acknowledge,
    "assign": _assign,
    "transition": _transition,
    "complete_step": _complete_step,
    "skip_step": _skip_step,
    "start_playbook": _start_playbook,
    "assign_playbook_role": _assign_playbook_role,
    "record_decision": _record_decision,
    "send_sitrep": _send_sitrep,
    "hand_over_role": _hand_over_role,
    "change_level": _change_level,
    "add_note": _add_note,
    "answer_partner_request": _answer_partner_request,
}


def perform_response(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    """Play one scripted response (raises what the service raises)."""
    _PLAYERS[response.do](run, response, cast)
