"""Proposing, starting and re-planning runs as the escalation changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.escalations.inputs import StatutoryTriggerInput
from watchfloor.escalations.services import override_severity
from watchfloor.playbooks import library, selectors, services
from watchfloor.playbooks.models import PlaybookRun, RunStatus, StepState

pytestmark = pytest.mark.usefixtures("library", "frozen_clock")


def steps_of(run) -> dict:
    return {step.step_id: step for step in run.steps.all()}


def events(action, escalation):
    return AuditEvent.objects.filter(action=action, escalation_id=escalation.pk)


def test_the_best_match_starts_automatically_with_the_version_it_was_loaded_as(escalate):
    escalation = escalate(
        type_code="violent_attack_content", rubric_answers=SEVERITY_ANSWERS[0], markets=["JP"]
    )
    run = PlaybookRun.objects.get(escalation=escalation)
    assert run.automatic and run.version.code == "violent_attack_content"
    steps = steps_of(run)
    assert len(steps) == 9
    # No statutory clock: that branch is skipped, and says why.
    assert steps["statutory_removal"].state == StepState.SKIPPED
    assert steps["statutory_removal"].reason == "does not apply: no statutory clock"
    # SEV0: law-enforcement referral and the SEV1-and-worse steps apply.
    assert steps["law_enforcement_referral"].state == StepState.PENDING
    assert steps["confirm_and_contain"].due_at == escalation.opened_at + timedelta(minutes=15)
    assert steps["bank_variants"].due_at == steps["hash_media"].due_at + timedelta(hours=1)
    started = events(AuditAction.PLAYBOOK_RUN_STARTED, escalation).get()
    assert started.data["automatic"] is True
    assert started.data["proposals"][0]["playbook"] == "violent_attack_content"
    assert started.data["skipped"] == ["statutory_removal"]


def test_a_second_change_does_not_start_it_again(escalate, analyst):
    escalation = escalate(type_code="ncii", markets=["JP"])
    services.on_escalation_changed(escalation=escalation, actor=analyst)
    assert PlaybookRun.objects.filter(escalation=escalation).count() == 1


def test_a_playbook_written_for_the_market_ranks_first(escalate):
    escalation = escalate(type_code="government_legal_demand", markets=["IN"])
    proposals = services.propose_playbooks(escalation)
    assert [p.code for p in proposals] == ["government_legal_demand_in", "government_legal_demand"]
    assert proposals[0].reasons[0] == "written for government legal demand"  # not its code
    assert proposals[0].reasons[-1] == "written for IN"
    assert proposals[0].active_run_id is not None
    assert (
        PlaybookRun.objects.get(escalation=escalation).version.code == "government_legal_demand_in"
    )


def test_without_auto_start_the_proposal_is_recorded_and_nothing_runs(escalate):
    escalation = escalate()  # a scam campaign: the analyst chooses
    assert not PlaybookRun.objects.filter(escalation=escalation).exists()
    proposed = events(AuditAction.PLAYBOOK_PROPOSED, escalation).last()
    assert proposed.data["best"] == "scam_campaign"
    assert proposed.data["why_not_started"] == "it starts by hand: it is not set to start by itself"


def test_a_severity_change_re_evaluates_the_branches(escalate, lead):
    escalation = escalate(
        type_code="violent_attack_content", rubric_answers=SEVERITY_ANSWERS[2], markets=["JP"]
    )
    run = PlaybookRun.objects.get(escalation=escalation)
    assert steps_of(run)["holding_statement"].state == StepState.SKIPPED
    escalation = override_severity(
        escalation=escalation, severity=1, reason="Livestream confirmed", actor=lead
    )
    services.on_escalation_changed(escalation=escalation, actor=lead)
    steps = steps_of(run)
    assert steps["holding_statement"].state == StepState.PENDING
    assert steps["industry_hash_sharing"].state == StepState.PENDING
    assert steps["law_enforcement_referral"].state == StepState.SKIPPED  # SEV0 only
    replanned = events(AuditAction.PLAYBOOK_RUN_REPLANNED, escalation).get()
    assert {
        "step": "holding_statement",
        "from": "skipped",
        "to": "pending",
        "why": "now applies",
    } in (replanned.data["changes"])


def test_statutory_anchors_and_the_deadline_a_step_serves(escalate, frozen_clock):
    received = frozen_clock - timedelta(hours=2)
    escalation = escalate(
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=[
            StatutoryTriggerInput(rule="au-osa-removal-notice", received_at=received)
        ],
    )
    run = PlaybookRun.objects.get(escalation=escalation)
    assert run.version.code == "regulator_notice_au_esafety"
    deadline = received + timedelta(hours=24)
    steps = steps_of(run)
    assert steps["confirm"].due_at == deadline - timedelta(hours=2)
    assert steps["confirm"].due_basis == "2 hours before the statutory deadline"
    assert steps["remove_material"].due_at == escalation.opened_at + timedelta(hours=20)
    assert escalation.opened_at == received


def test_a_run_keeps_its_version_when_the_library_changes(escalate, library_dir):
    escalation = escalate(type_code="media_inquiry", markets=["JP"])
    run = PlaybookRun.objects.get(escalation=escalation)
    path = library_dir / "media_inquiry.yaml"
    path.write_text(path.read_text().replace("PT8H", "PT6H"), encoding="utf-8")
    result = library.load_playbooks(playbook_dir=library_dir)
    assert result.new_playbook_versions == ["media_inquiry"]
    run.refresh_from_db()
    assert run.playbook.current_version_id != run.version_id
    assert selectors.playbook_spec(run.version).step("respond").due.after == "PT8H"
    # Loading the same files again records nothing new.
    again = library.load_playbooks(playbook_dir=library_dir)
    assert again.new_playbook_versions == [] and "media_inquiry" in again.unchanged_playbooks


def test_a_playbook_whose_file_is_gone_is_retired(library_dir, escalate):
    (library_dir / "policy_gap.yaml").unlink()
    result = library.load_playbooks(playbook_dir=library_dir)
    assert result.retired_playbooks == ["policy_gap"]
    escalation = escalate(type_code="policy_gap", markets=["JP"])
    assert services.propose_playbooks(escalation) == []


def test_starting_by_hand(escalate, analyst, viewer):
    escalation = escalate()
    with pytest.raises(PermissionDenied):
        services.start_playbook_run(
            escalation=escalation, playbook_code="scam_campaign", actor=viewer
        )
    run = services.start_playbook_run(
        escalation=escalation, playbook_code="scam_campaign", actor=analyst
    )
    assert not run.automatic
    with pytest.raises(Conflict, match="already running"):
        services.start_playbook_run(
            escalation=escalation, playbook_code="scam_campaign", actor=analyst
        )
    services.cancel_playbook_run(run=run, actor=analyst, reason="Handled as phishing")
    again = services.start_playbook_run(
        escalation=escalation, playbook_code="scam_campaign", actor=analyst
    )
    assert again.status == RunStatus.ACTIVE


@pytest.mark.parametrize(
    ("type_code", "markets", "statutory_rule"),
    [
        ("violent_attack_content", ["JP"], None),
        ("scam_campaign", ["JP"], None),
        # Steps due from a statutory clock: the clocks are read once and planned from.
        ("regulator_notice", ["AU"], "au-osa-removal-notice"),
    ],
)
def test_told_an_escalation_is_new_the_listener_starts_and_proposes_the_same(
    make_escalation, monkeypatch, type_code, markets, statutory_rule
):
    """A new escalation has no runs, so the listener skips looking for them and starts
    the best match without checking again what it has just read (``created``); what it
    starts or proposes is the same as when it looks."""
    from watchfloor.playbooks import apps

    def without_ids(data):
        """An event's data without the ids of the rows it names (the run, a page's
        notifications), which differ between two escalations however alike."""
        data = {k: v for k, v in data.items() if k != "run"}
        if "notifications" in data:
            data["notifications"] = [
                {k: v for k, v in sent.items() if k != "id"} for sent in data["notifications"]
            ]
        return data

    def recorded(escalation):
        run = PlaybookRun.objects.filter(escalation=escalation).first()
        trail = [
            (event.action, without_ids(event.data))
            for event in AuditEvent.objects.filter(escalation_id=escalation.pk)
            .exclude(action=AuditAction.ESCALATION_CREATED)
            .order_by("sequence")
        ]
        steps = (
            [
                (s.step_id, s.state, s.due_at and s.due_at - escalation.opened_at)
                for s in run.steps.all()
            ]
            if run
            else []
        )
        return run.version.code if run else None, steps, trail

    def filed():
        triggers = (
            [StatutoryTriggerInput(rule=statutory_rule, received_at=clock.now())]
            if statutory_rule
            else []
        )
        return make_escalation(type_code=type_code, markets=markets, statutory_triggers=triggers)

    told = filed()
    real = services.on_escalation_changed

    def looking(**kwargs):
        return real(**{**kwargs, "created": False})

    monkeypatch.setattr(services, "on_escalation_changed", looking)
    assert apps.start_or_replan.__module__ == apps.__name__
    looked = filed()

    assert recorded(told) == recorded(looked)
    assert (recorded(told)[0] is not None) == (type_code != "scam_campaign")
