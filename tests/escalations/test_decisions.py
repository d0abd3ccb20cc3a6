"""Decisions: which policy version they cite, what they do, and who must approve them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from watchfloor.escalations import decisions, services
from watchfloor.escalations.models import Decision, Escalation, Status
from watchfloor.policy.models import Policy, PolicyVersion


def _last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("sequence").last()


# ---------------------------------------------------------------- what a decision cites


@pytest.mark.parametrize(
    ("today", "expected_version"),
    [
        (datetime(2026, 2, 28, 9, 0, tzinfo=UTC), "1.0"),
        (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "1.1"),
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "1.1"),
    ],
    ids=["before-1.1", "day-1.1-applies", "months-later"],
)
def test_a_decision_cites_the_policy_version_in_force_that_day(
    today, expected_version, make_escalation, decide
):
    clock.freeze(today)
    try:
        escalation = make_escalation(type_code="violent_attack_content")
        decision = decide(escalation, policy_code="violent_extremism")
    finally:
        clock.unfreeze()

    assert decision.policy_version.version == expected_version
    assert _last_event(AuditAction.DECISION_RECORDED).data["policy"] == (
        f"violent_extremism v{expected_version}"
    )


def test_a_decision_may_name_an_earlier_version_explicitly(make_escalation, decide, frozen_clock):
    decision = decide(make_escalation(), policy_code="violent_extremism", policy_version="1.0")
    assert decision.policy_version.version == "1.0"


def test_a_version_not_yet_in_force_is_never_picked_by_date(make_escalation, decide, frozen_clock):
    PolicyVersion.objects.create(
        policy=Policy.objects.get(code="scams_fraud"),
        version="2.0",
        effective_from=date(2027, 1, 1),
        summary="Draft for next year",
    )
    assert decide(make_escalation()).policy_version.version == "1.0"


def test_a_policy_with_no_version_in_force_cannot_be_cited(make_escalation, decide, frozen_clock):
    scams = Policy.objects.get(code="scams_fraud")
    draft = Policy.objects.create(code="ai_voice_scams", area=scams.area, name="AI voice scams")
    PolicyVersion.objects.create(policy=draft, version="0.9", effective_from=date(2027, 6, 1))

    with pytest.raises(InvalidInput) as refused:
        decide(make_escalation(), policy_code="ai_voice_scams")
    assert refused.value.field == "policy"
    assert "no version in force" in refused.value.message


@pytest.mark.parametrize(
    ("overrides", "field", "named"),
    [
        ({"policy_code": "jaywalking"}, "policy", "jaywalking"),
        ({"policy_version": "9.9"}, "policy_version", "9.9"),
        ({"action_code": "delete_everything"}, "action", "delete_everything"),
        ({"scope": "  "}, "scope", "scope"),
        ({"rationale": ""}, "rationale", "rationale"),
    ],
    ids=["unknown-policy", "unknown-version", "unknown-action", "no-scope", "no-rationale"],
)
def test_a_bad_decision_is_refused_naming_the_field(
    overrides, field, named, make_escalation, decide, frozen_clock
):
    escalation = make_escalation()
    with pytest.raises(InvalidInput) as refused:
        decide(escalation, **overrides)
    assert refused.value.field == field
    assert named in refused.value.message
    assert not escalation.decisions.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DECISION_RECORDED).exists()


def test_an_unknown_action_lists_the_actions_there_are(make_escalation, decide):
    with pytest.raises(InvalidInput) as refused:
        decide(make_escalation(), action_code="delete_everything")
    for code in ("no_action", "remove_content", "withhold_in_countries", "suspend_account"):
        assert code in refused.value.message


# ---------------------------------------------------------------- withholding


def test_withholding_needs_the_countries(make_escalation, decide):
    with pytest.raises(InvalidInput) as refused:
        decide(make_escalation(), action_code="withhold_in_countries")
    assert refused.value.field == "countries"


def test_withholding_refuses_an_unknown_country(make_escalation, decide):
    with pytest.raises(InvalidInput) as refused:
        decide(make_escalation(), action_code="withhold_in_countries", countries=["IN", "XX"])
    assert refused.value.field == "countries[1]"
    assert "'XX'" in refused.value.message


def test_withholding_records_the_countries_in_upper_case(make_escalation, decide, frozen_clock):
    decision = decide(
        make_escalation(), action_code="withhold_in_countries", countries=["in", " pk "]
    )
    assert decision.countries == ["IN", "PK"]
    assert _last_event(AuditAction.DECISION_RECORDED).data["countries"] == ["IN", "PK"]


def test_an_action_that_applies_everywhere_takes_no_countries(make_escalation, decide):
    with pytest.raises(InvalidInput) as refused:
        decide(make_escalation(), action_code="remove_content", countries=["JP"])
    assert refused.value.field == "countries"


# ---------------------------------------------------------------- who may decide


@pytest.mark.parametrize("role_fixture", ["viewer", "legal_partner"])
def test_only_people_who_work_escalations_record_decisions(
    role_fixture, request, make_escalation, decide
):
    escalation = make_escalation(shared_with_team_codes=["legal"])
    with pytest.raises(PermissionDenied):
        decide(escalation, actor=request.getfixturevalue(role_fixture))


def test_a_closed_escalation_takes_no_new_decision(make_escalation, decide, walk_to):
    escalation = walk_to(make_escalation(), Status.CLOSED)
    with pytest.raises(Conflict, match="reopen"):
        decide(escalation)


def test_an_ordinary_decision_is_final_at_once_and_audited(
    analyst, escalation_at, decide, frozen_clock
):
    escalation = escalation_at(2)
    decision = decide(escalation)

    assert decision.state == Decision.State.FINAL
    assert decision.decided_by == analyst
    assert decision.decided_at == frozen_clock
    assert decision.reviewed_by is None
    event = _last_event(AuditAction.DECISION_RECORDED)
    assert event.actor == analyst
    assert event.escalation_id == escalation.pk
    assert event.data == {
        "policy": "scams_fraud v1.0",
        "action": "remove_content",
        "countries": [],
        "scope": "The 14 posts and 3 accounts listed in the subjects",
        "rationale": "Impersonates a registered charity to collect donations.",
        "state": "final",
    }


# ---------------------------------------------------------------- second-person approval


@pytest.fixture(params=["sev0", "sev1", "high-visibility"])
def sensitive_escalation(request, escalation_at):
    if request.param == "sev0":
        return escalation_at(0)
    if request.param == "sev1":
        return escalation_at(1)
    return escalation_at(3, is_high_visibility=True)


def test_sensitive_decisions_wait_for_a_second_person(sensitive_escalation, decide):
    decision = decide(sensitive_escalation)
    assert decision.state == Decision.State.PENDING_APPROVAL
    assert decisions.decision_needs_approval(sensitive_escalation)


def test_the_decider_cannot_approve_their_own_decision(sensitive_escalation, decide, lead):
    decision = decide(sensitive_escalation, actor=lead)
    with pytest.raises(PermissionDenied) as refused:
        decisions.approve_decision(decision=decision, actor=lead)
    assert "second person" in refused.value.message
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.PENDING_APPROVAL


def test_an_analyst_cannot_approve(sensitive_escalation, decide, lead, other_analyst):
    decision = decide(sensitive_escalation, actor=lead)
    with pytest.raises(PermissionDenied):
        decisions.approve_decision(decision=decision, actor=other_analyst)


def test_a_lead_approves_and_the_escalation_can_then_be_decided(
    sensitive_escalation, decide, analyst, lead, walk_to, frozen_clock
):
    escalation = walk_to(sensitive_escalation, Status.INVESTIGATING)
    decision = decide(escalation)

    approved = decisions.approve_decision(decision=decision, actor=lead, comment="agreed")

    assert approved.state == Decision.State.FINAL
    assert approved.reviewed_by == lead
    assert approved.reviewed_at == frozen_clock
    event = _last_event(AuditAction.DECISION_APPROVED)
    assert event.actor == lead
    assert event.data == {"comment": "agreed", "decided_by": analyst.username}
    decided = services.transition_escalation(
        escalation=escalation, to_status=Status.DECIDED, actor=analyst
    )
    assert decided.status == Status.DECIDED


def test_an_admin_may_approve(sensitive_escalation, decide, admin_user):
    decision = decisions.approve_decision(decision=decide(sensitive_escalation), actor=admin_user)
    assert decision.state == Decision.State.FINAL


def test_a_decision_is_approved_only_once(sensitive_escalation, decide, lead, make_user):
    decision = decisions.approve_decision(decision=decide(sensitive_escalation), actor=lead)
    second_lead = make_user("sam.lead", "lead", "site_policy")
    with pytest.raises(Conflict):
        decisions.approve_decision(decision=decision, actor=second_lead)


def test_sending_back_needs_a_comment(sensitive_escalation, decide, lead):
    decision = decide(sensitive_escalation)
    with pytest.raises(InvalidInput) as refused:
        decisions.send_back_decision(decision=decision, actor=lead, comment=" ")
    assert refused.value.field == "comment"
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.PENDING_APPROVAL


def test_a_sent_back_decision_cannot_be_approved_or_decided_on(
    sensitive_escalation, decide, analyst, lead, walk_to
):
    escalation = walk_to(sensitive_escalation, Status.INVESTIGATING)
    decision = decide(escalation)

    sent_back = decisions.send_back_decision(
        decision=decision, actor=lead, comment="withhold in IN only; do not remove globally"
    )

    assert sent_back.state == Decision.State.SENT_BACK
    event = _last_event(AuditAction.DECISION_REJECTED)
    assert event.actor == lead
    assert event.data == {"comment": "withhold in IN only; do not remove globally"}
    with pytest.raises(Conflict):
        decisions.approve_decision(decision=decision, actor=lead)
    with pytest.raises(Conflict):
        services.transition_escalation(
            escalation=escalation, to_status=Status.DECIDED, actor=analyst
        )
    assert Escalation.objects.get(pk=escalation.pk).status == Status.INVESTIGATING


def test_a_decision_is_found_only_on_its_own_escalation(make_escalation, decide):
    decision = decide(make_escalation())
    other = make_escalation(title="Another scam wave")

    assert (
        decisions.get_decision(escalation=decision.escalation, decision_id=decision.pk) == decision
    )
    for escalation, decision_id in ((other, decision.pk), (decision.escalation, "abc")):
        with pytest.raises(NotFound) as missing:
            decisions.get_decision(escalation=escalation, decision_id=decision_id)
        assert missing.value.field == "decision_id"
