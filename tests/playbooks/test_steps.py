"""Working a run: the step lifecycle, checklists, evidence, approvals, and the audit
trail each change leaves on the escalation's timeline."""

from __future__ import annotations

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.escalations.selectors import escalation_timeline
from watchfloor.playbooks import communications, services, step_work
from watchfloor.playbooks.models import STEP_TRANSITIONS, PlaybookRun, RunStatus, StepState

pytestmark = pytest.mark.usefixtures("library", "frozen_clock")

PLAYBOOK_ACTIONS = {
    AuditAction.PLAYBOOK_PROPOSED,
    AuditAction.PLAYBOOK_RUN_STARTED,
    AuditAction.PLAYBOOK_RUN_REPLANNED,
    AuditAction.PLAYBOOK_RUN_COMPLETED,
    AuditAction.PLAYBOOK_RUN_CANCELLED,
    AuditAction.PLAYBOOK_ROLE_ASSIGNED,
    AuditAction.PLAYBOOK_STEP_CHANGED,
    AuditAction.PLAYBOOK_STEP_APPROVED,
    AuditAction.PLAYBOOK_CHECKLIST_TICKED,
    AuditAction.COMMUNICATION_SENT,
}


@pytest.fixture
def media_run(escalate):
    """A media inquiry: four steps, one owned by Communications, one needing Legal."""
    escalation = escalate(
        type_code="media_inquiry",
        markets=["JP"],
        languages=["ja"],
        rubric_answers={
            "harm": "moderate",
            "imminence": "likely",
            "reach": "significant",
            "vulnerability": "some",
        },
    )
    return PlaybookRun.objects.get(escalation=escalation)


def step(run, step_id):
    return run.steps.get(step_id=step_id)


def test_the_transition_table_is_what_the_service_enforces(media_run, analyst):
    for current, allowed in STEP_TRANSITIONS.items():
        for target in StepState.values:
            if target == current:
                continue
            row = step(media_run, "record_deadline")  # no checklist, evidence or approval
            row.state = current
            row.save(update_fields=["state"])
            if target in allowed:
                step_work.set_step_state(step=row, state=target, actor=analyst, reason="because")
                assert step(media_run, "record_deadline").state == target
            else:
                with pytest.raises(Conflict):
                    step_work.set_step_state(step=row, state=target, actor=analyst, reason="x")


def test_skipping_and_blocking_need_a_reason(media_run, analyst):
    row = step(media_run, "fact_check")
    with pytest.raises(InvalidInput, match="skipping a step needs a reason") as caught:
        step_work.set_step_state(step=row, state=StepState.SKIPPED, actor=analyst)
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInput, match="blocking a step needs a reason"):
        step_work.set_step_state(step=row, state=StepState.BLOCKED, actor=analyst)
    step_work.set_step_state(
        step=row, state=StepState.BLOCKED, actor=analyst, reason="Waiting for the URL"
    )
    assert step(media_run, "fact_check").reason == "Waiting for the URL"


def test_a_step_waits_for_the_steps_it_depends_on(media_run, analyst, comms_partner):
    with pytest.raises(
        Conflict, match="waits for 'Record the outlet, the question and the deadline'"
    ):
        step_work.set_step_state(
            step=step(media_run, "fact_check"), state=StepState.IN_PROGRESS, actor=analyst
        )
    step_work.set_step_state(
        step=step(media_run, "record_deadline"), state=StepState.DONE, actor=comms_partner
    )
    step_work.set_step_state(
        step=step(media_run, "fact_check"), state=StepState.IN_PROGRESS, actor=analyst
    )


def test_a_partner_works_only_the_steps_their_team_owns(
    media_run, comms_partner, legal_partner, viewer
):
    step_work.set_step_state(
        step=step(media_run, "record_deadline"), state=StepState.IN_PROGRESS, actor=comms_partner
    )
    with pytest.raises(PermissionDenied):
        step_work.set_step_state(
            step=step(media_run, "fact_check"),
            state=StepState.BLOCKED,
            actor=comms_partner,
            reason="x",
        )
    with pytest.raises(PermissionDenied):
        step_work.set_step_state(
            step=step(media_run, "record_deadline"), state=StepState.DONE, actor=legal_partner
        )
    with pytest.raises(PermissionDenied):
        step_work.tick_checklist_item(
            step=step(media_run, "record_deadline"), item_id="x", checked=True, actor=viewer
        )


def test_approval_by_the_named_team(media_run, analyst, legal_partner, lead):
    row = step(media_run, "legal_exposure")
    with pytest.raises(Conflict, match="needs its approval"):
        step_work.set_step_state(step=row, state=StepState.DONE, actor=analyst)
    with pytest.raises(PermissionDenied, match="the legal team"):
        step_work.approve_step(step=row, actor=lead)
    step_work.approve_step(step=row, actor=legal_partner, comment="Fine to say on background")
    with pytest.raises(Conflict, match="already approved"):
        step_work.approve_step(step=row, actor=legal_partner)
    step_work.set_step_state(step=row, state=StepState.DONE, actor=legal_partner)
    # Reopened work needs approving again.
    step_work.set_step_state(
        step=row, state=StepState.IN_PROGRESS, actor=analyst, reason="New facts"
    )
    assert step(media_run, "legal_exposure").approved_by is None


def test_checklist_evidence_and_fields_before_done(escalate, analyst, lead):
    escalation = escalate(type_code="law_enforcement_emergency_request", markets=["JP"])
    run = PlaybookRun.objects.get(escalation=escalation)
    row = step(run, "verify_requester")
    with pytest.raises(
        InvalidInput, match="record the evidence: How the requester was verified"
    ) as caught:
        step_work.set_step_state(step=row, state=StepState.DONE, actor=analyst)
    assert caught.value.field == "evidence.verification"
    step_work.set_step_state(
        step=row,
        state=StepState.DONE,
        actor=analyst,
        evidence={"verification": "Called the Tokyo MPD duty desk on the published number"},
    )
    assert step(run, "verify_requester").evidence == {
        "verification": "Called the Tokyo MPD duty desk on the published number"
    }

    escalation = escalate(type_code="imminent_threat_to_life", markets=["JP"])
    run = PlaybookRun.objects.get(escalation=escalation)
    row = step(run, "assess_credibility")
    with pytest.raises(Conflict, match="tick the checklist first: Target identified") as caught:
        step_work.set_step_state(step=row, state=StepState.DONE, actor=analyst)
    assert caught.value.field == "checklist"
    for item in ("target_identified", "time_place", "credible_decided"):
        step_work.tick_checklist_item(step=row, item_id=item, checked=True, actor=analyst)
    step_work.set_step_state(step=row, state=StepState.DONE, actor=analyst)
    # Required escalation fields: the content step needs a policy; the type brings one.
    step_work.tick_checklist_item(
        step=step(run, "preserve_evidence"), item_id="legal_hold", checked=True, actor=analyst
    )


def test_ticking_is_audited_once_and_a_repeated_click_changes_nothing(escalate, analyst):
    escalation = escalate(type_code="imminent_threat_to_life", markets=["JP"])
    row = PlaybookRun.objects.get(escalation=escalation).steps.get(step_id="assess_credibility")
    step_work.tick_checklist_item(
        step=row, item_id="target_identified", checked=True, actor=analyst
    )
    step_work.tick_checklist_item(
        step=row, item_id="target_identified", checked=True, actor=analyst
    )
    ticks = AuditEvent.objects.filter(
        action=AuditAction.PLAYBOOK_CHECKLIST_TICKED, escalation_id=escalation.pk
    )
    assert ticks.count() == 1
    assert ticks.get().data["text"] == "Target identified, or noted as unknown"
    row.refresh_from_db()
    assert row.checklist["target_identified"]["by"] == "aiko.analyst"
    with pytest.raises(InvalidInput, match="no checklist item 'nope'"):
        step_work.tick_checklist_item(step=row, item_id="nope", checked=True, actor=analyst)


def test_finishing_every_step_completes_the_run_and_reopening_reopens_it(
    media_run, analyst, legal_partner, comms_partner
):
    step_work.set_step_state(
        step=step(media_run, "record_deadline"), state=StepState.DONE, actor=comms_partner
    )
    step_work.set_step_state(
        step=step(media_run, "fact_check"), state=StepState.DONE, actor=analyst
    )
    step_work.set_step_state(
        step=step(media_run, "legal_exposure"),
        state=StepState.SKIPPED,
        actor=analyst,
        reason="No legal exposure",
    )
    step_work.set_step_state(
        step=step(media_run, "respond"), state=StepState.DONE, actor=comms_partner
    )
    media_run.refresh_from_db()
    assert media_run.status == RunStatus.COMPLETED
    step_work.set_step_state(
        step=step(media_run, "respond"),
        state=StepState.IN_PROGRESS,
        actor=analyst,
        reason="Follow-up question",
    )
    media_run.refresh_from_db()
    assert media_run.status == RunStatus.ACTIVE


def test_every_write_is_on_the_escalations_timeline(media_run, analyst, legal_partner, lead):
    escalation = media_run.escalation
    services.assign_run_role(run=media_run, role="case_analyst", user=analyst, actor=lead)
    step_work.approve_step(step=step(media_run, "legal_exposure"), actor=legal_partner)
    step_work.set_step_state(
        step=step(media_run, "respond"), state=StepState.BLOCKED, actor=analyst, reason="Waiting"
    )
    communications.record_communication_sent(
        escalation=escalation,
        template_code="media_response",
        language="ja",
        channel="email",
        recipient="Nikkei desk",
        actor=analyst,
        inputs={"journalist": "山田", "answer": "対応済みです。", "spokesperson": "広報部"},
        step=step(media_run, "respond"),
    )
    services.cancel_playbook_run(run=media_run, actor=lead, reason="Journalist withdrew")
    playbook_events = AuditEvent.objects.filter(action__in=PLAYBOOK_ACTIONS)
    assert playbook_events.exclude(escalation_id=escalation.pk).count() == 0
    timeline = {entry.action for entry in escalation_timeline(escalation, viewer=lead)}
    assert {
        AuditAction.PLAYBOOK_RUN_STARTED,
        AuditAction.PLAYBOOK_ROLE_ASSIGNED,
        AuditAction.PLAYBOOK_STEP_APPROVED,
        AuditAction.PLAYBOOK_STEP_CHANGED,
        AuditAction.COMMUNICATION_SENT,
        AuditAction.PLAYBOOK_RUN_CANCELLED,
    } <= timeline
    with pytest.raises(Conflict, match="cancelled"):
        step_work.set_step_state(
            step=step(media_run, "respond"), state=StepState.PENDING, actor=analyst, reason="x"
        )
