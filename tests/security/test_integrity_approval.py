"""Issue 11, finding 11: the two-person rule could be bypassed.

A lead lowered a SEV0 to SEV3, recorded a final decision alone, then raised it back to
SEV0, and all of it succeeded. Now the second-person requirement follows the gravest
severity the escalation held within the window (from its audited history), lowering a
SEV0/SEV1 is a proposal a second lead or admin must approve, and nobody closes (or merges
away) an escalation whose decision awaits approval. Each test replays a step of the
bypass, through the services, the pages and the API.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.api.conftest import ApiCaller
from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.escalations import decisions, services, severity_changes
from watchfloor.escalations.models import Decision, Escalation, SeverityDowngrade, Status
from watchfloor.people.api_tokens import create_api_token

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def second_lead(make_user):
    return make_user("lars.lead", "lead", "site_policy")


@pytest.fixture
def sev0(make_escalation):
    escalation = make_escalation(
        type_code="violent_attack_content", rubric_answers=SEVERITY_ANSWERS[0], markets=["JP"]
    )
    assert escalation.severity == 0
    services.transition_escalation(
        escalation=escalation, to_status="investigating", actor=escalation.created_by
    )
    return escalation


def _decide(escalation: Escalation, actor) -> Decision:
    return decisions.record_decision(
        escalation=escalation,
        actor=actor,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="The livestream copies listed",
        rationale="Perpetrator-filmed attack footage.",
    )


def _lower(escalation: Escalation, actor, to: int = 3) -> Escalation:
    return services.override_severity(
        escalation=escalation, severity=to, reason="contained, I think", actor=actor
    )


def _severity(escalation: Escalation) -> int:
    return Escalation.objects.get(pk=escalation.pk).severity


def _events(action: str, escalation: Escalation):
    return AuditEvent.objects.filter(action=action, escalation_id=escalation.pk)


# ---------------------------------------------------------------- the bypass, step by step


def test_finding_11_lowering_a_sev0_alone_only_proposes_it(sev0, lead):
    _lower(sev0, lead)

    assert _severity(sev0) == 0  # it stays until a second person approves
    pending = severity_changes.pending_downgrade(sev0)
    assert (pending.from_severity, pending.to_severity, pending.proposed_by) == (0, 3, lead)
    proposed = _events(AuditAction.ESCALATION_DOWNGRADE_PROPOSED, sev0).get()
    assert proposed.actor == lead
    assert proposed.data == {"from": "SEV0", "to": "SEV3", "reason": "contained, I think"}
    assert not _events(AuditAction.ESCALATION_SEVERITY_OVERRIDDEN, sev0).exists()


def test_finding_11_the_whole_bypass_no_longer_gives_a_final_decision(sev0, lead, second_lead):
    _lower(sev0, lead)
    # Even with the downgrade approved by somebody else, the lead's own decision on a case
    # that was SEV0 a moment ago needs a second person…
    severity_changes.approve_downgrade(
        downgrade=severity_changes.pending_downgrade(sev0), actor=second_lead
    )
    assert _severity(sev0) == 3
    decision = _decide(Escalation.objects.get(pk=sev0.pk), lead)
    assert decision.state == Decision.State.PENDING_APPROVAL
    recorded = _events(AuditAction.DECISION_RECORDED, sev0).get()
    assert (
        recorded.data["approval_needed_because"] == "the escalation was SEV0 within the last 7 days"
    )
    # …and raising it back changes nothing about that.
    services.override_severity(escalation=sev0, severity=0, reason="it spread again", actor=lead)
    assert Decision.objects.get(pk=decision.pk).state == Decision.State.PENDING_APPROVAL
    with pytest.raises(PermissionDenied):
        decisions.approve_decision(decision=decision, actor=lead)


def test_the_window_is_read_from_the_history_and_ends(sev0, lead, second_lead, settings):
    settings.WATCHFLOOR_TWO_PERSON_WINDOW = timedelta(days=2)
    _lower(sev0, lead)
    severity_changes.approve_downgrade(
        downgrade=severity_changes.pending_downgrade(sev0), actor=second_lead
    )
    clock.advance(timedelta(days=2) - timedelta(minutes=1))
    assert severity_changes.most_severe_within_window(Escalation.objects.get(pk=sev0.pk)) == 0
    clock.advance(timedelta(minutes=2))
    stored = Escalation.objects.get(pk=sev0.pk)
    assert severity_changes.most_severe_within_window(stored) == 3
    assert _decide(stored, lead).state == Decision.State.FINAL


@pytest.mark.parametrize("path", [[3], [1, 2, 3], [0, 4]])
def test_any_high_severity_held_in_the_window_needs_a_second_person(
    path, make_escalation, lead, second_lead
):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[2])
    for level in path:
        services.override_severity(escalation=escalation, severity=level, reason="r", actor=lead)
        pending = severity_changes.pending_downgrade(escalation)
        if pending is not None:
            severity_changes.approve_downgrade(downgrade=pending, actor=second_lead)
        assert _severity(escalation) == level
    stored = Escalation.objects.get(pk=escalation.pk)
    assert severity_changes.decision_needs_approval(stored) == (min([2, *path]) <= 1)


def test_the_window_holds_for_any_history(make_escalation, lead, second_lead, settings):
    """For every history of changes (each lowering approved at once, the clock moving
    between them), the rule asks for the gravest level held at any moment of the window:
    the one in force now, and each one whose holding ended within the window."""
    settings.WATCHFLOOR_TWO_PERSON_WINDOW = timedelta(hours=48)
    steps = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 72)), max_size=6)

    @hypothesis_settings(max_examples=30, deadline=None)
    @given(steps, st.integers(0, 72))
    def run(changes, hours_after):
        with transaction.atomic():
            escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[2])
            held = [(clock.now(), 2)]  # (since, level)
            for level, hours in changes:
                clock.advance(timedelta(hours=hours))
                services.override_severity(
                    escalation=escalation, severity=level, reason="r", actor=lead
                )
                pending = severity_changes.pending_downgrade(escalation)
                if pending is not None:
                    severity_changes.approve_downgrade(downgrade=pending, actor=second_lead)
                held.append((clock.now(), level))
            clock.advance(timedelta(hours=hours_after))
            start = clock.now() - timedelta(hours=48)
            ends = [since for since, _ in held[1:]] + [clock.now()]
            expected = min(
                level for (_, level), end in zip(held, ends, strict=True) if end >= start
            )
            stored = Escalation.objects.get(pk=escalation.pk)
            assert severity_changes.most_severe_within_window(stored) == expected
            assert severity_changes.decision_needs_approval(stored) == (expected <= 1)

    run()


def test_a_high_visibility_escalation_needs_a_second_person_at_any_severity(
    make_escalation, analyst
):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[4], is_high_visibility=True)
    services.transition_escalation(escalation=escalation, to_status="investigating", actor=analyst)
    assert _decide(escalation, analyst).state == Decision.State.PENDING_APPROVAL


# ---------------------------------------------------------------- the downgrade's second person


def test_the_proposer_cannot_approve_their_own_downgrade(sev0, lead, analyst):
    _lower(sev0, lead)
    pending = severity_changes.pending_downgrade(sev0)
    with pytest.raises(PermissionDenied) as refused:
        severity_changes.approve_downgrade(downgrade=pending, actor=lead)
    assert "second person" in refused.value.message
    with pytest.raises(PermissionDenied):
        severity_changes.approve_downgrade(downgrade=pending, actor=analyst)
    assert _severity(sev0) == 0


def test_a_second_lead_approves_and_the_change_is_audited(sev0, lead, second_lead):
    _lower(sev0, lead)
    downgrade = severity_changes.approve_downgrade(
        downgrade=severity_changes.pending_downgrade(sev0), actor=second_lead, comment="agreed"
    )
    assert downgrade.state == SeverityDowngrade.State.APPROVED
    assert downgrade.reviewed_by == second_lead
    stored = Escalation.objects.get(pk=sev0.pk)
    assert stored.severity == 3
    assert stored.severity_overridden_by == lead
    approved = _events(AuditAction.ESCALATION_DOWNGRADE_APPROVED, sev0).get()
    assert approved.actor == second_lead
    changed = _events(AuditAction.ESCALATION_SEVERITY_OVERRIDDEN, sev0).get()
    assert changed.data["from"] == "SEV0" and changed.data["to"] == "SEV3"
    assert changed.data["proposed_by"] == lead.username
    assert changed.data["approved_by"] == second_lead.username


def test_a_rejected_downgrade_leaves_the_severity(sev0, lead, second_lead):
    _lower(sev0, lead)
    pending = severity_changes.pending_downgrade(sev0)
    with pytest.raises(Exception) as no_comment:
        severity_changes.reject_downgrade(downgrade=pending, actor=second_lead, comment=" ")
    assert no_comment.value.field == "comment"
    severity_changes.reject_downgrade(downgrade=pending, actor=second_lead, comment="not yet")
    assert _severity(sev0) == 0
    assert severity_changes.pending_downgrade(sev0) is None
    with pytest.raises(Conflict):
        severity_changes.approve_downgrade(downgrade=pending, actor=second_lead)
    assert _events(AuditAction.ESCALATION_DOWNGRADE_REJECTED, sev0).get().actor == second_lead


def test_one_pending_downgrade_at_a_time_and_a_raise_supersedes_it(
    make_escalation, lead, second_lead
):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[1])
    _lower(escalation, lead, to=3)
    with pytest.raises(Conflict) as second:
        _lower(escalation, second_lead, to=2)
    assert second.value.field == "severity"
    # Raising is never held up: it applies at once and voids the proposal.
    services.override_severity(escalation=escalation, severity=0, reason="worse", actor=lead)
    assert _severity(escalation) == 0
    assert SeverityDowngrade.objects.get(escalation=escalation).state == "superseded"
    assert _events(AuditAction.ESCALATION_DOWNGRADE_SUPERSEDED, escalation).exists()


def test_lowering_a_sev2_needs_nobody_else(make_escalation, lead):
    escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[2])
    _lower(escalation, lead, to=4)
    assert _severity(escalation) == 4
    assert not SeverityDowngrade.objects.exists()


# ---------------------------------------------------------------- closing while it awaits approval


def test_finding_11_nobody_closes_while_the_decision_awaits_approval(
    sev0, analyst, lead, second_lead, make_escalation
):
    decision = _decide(sev0, analyst)
    assert decision.state == Decision.State.PENDING_APPROVAL
    for actor in (analyst, lead):
        with pytest.raises(Conflict) as refused:
            services.transition_escalation(
                escalation=sev0, to_status="closed", actor=actor, reason="done here"
            )
        assert refused.value.code == "decision_awaits_approval"
    other = make_escalation(rubric_answers=SEVERITY_ANSWERS[3])
    with pytest.raises(Conflict):
        services.merge_escalation(duplicate=sev0, into=other, actor=analyst)
    assert Escalation.objects.get(pk=sev0.pk).status == Status.INVESTIGATING

    decisions.approve_decision(decision=decision, actor=second_lead)
    services.transition_escalation(escalation=sev0, to_status="closed", actor=analyst)
    assert Escalation.objects.get(pk=sev0.pk).status == Status.CLOSED


# ---------------------------------------------------------------- the page


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_pending_downgrade_and_a_second_lead_approves_it(
    sev0, lead, second_lead
):
    url = reverse("escalation-detail", args=[sev0.pk])
    proposer = _client(lead)
    response = proposer.post(
        reverse("escalation-override", args=[sev0.pk]),
        {"override-severity": "3", "override-reason": "contained"},
        follow=True,
    )
    page = response.content.decode()
    assert "is proposed; it stays SEV0" in page
    assert "Downgrade to SEV3 awaits a second person" in page
    assert "a second person must approve: you proposed this downgrade" in page
    assert "Approve downgrade" not in page

    approver = _client(second_lead)
    page = approver.get(url).content.decode()
    assert "Approve downgrade" in page
    pending = severity_changes.pending_downgrade(sev0)
    response = approver.post(
        reverse("downgrade-approve", args=[sev0.pk, pending.pk]),
        {f"downgrade-{pending.pk}-comment": "agreed"},
    )
    assert response.status_code == 302
    assert _severity(sev0) == 3
    assert "awaits a second person" not in approver.get(url).content.decode()


def test_the_proposer_posting_approve_is_refused_on_the_page(sev0, lead):
    _lower(sev0, lead)
    pending = severity_changes.pending_downgrade(sev0)
    response = _client(lead).post(
        reverse("downgrade-approve", args=[sev0.pk, pending.pk]),
        {f"downgrade-{pending.pk}-comment": ""},
    )
    assert response.status_code == 403
    assert _severity(sev0) == 0


def test_the_page_says_why_a_decision_needs_a_second_person(sev0, lead):
    page = _client(lead).get(reverse("escalation-detail", args=[sev0.pk])).content.decode()
    assert "needs a second person's approval: the escalation is SEV0" in page


# ---------------------------------------------------------------- the API


def _api(user) -> ApiCaller:
    _, secret = create_api_token(user=user, name="tests", scopes=["read", "write"], actor=None)
    return ApiCaller(client=Client(), token=secret, user=user)


def test_the_api_answers_202_to_a_downgrade_and_a_second_lead_approves(sev0, lead, second_lead):
    path = f"/escalations/{sev0.pk}"
    response = _api(lead).post(f"{path}/severity-override", {"severity": 3, "reason": "contained"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["severity"] == 0
    [pending] = body["severity_downgrades"]
    assert (pending["state"], pending["to_severity"]) == ("pending", 3)

    own = _api(lead).post(f"{path}/severity-downgrades/{pending['id']}/approve", {})
    assert own.status_code == 403
    assert own.json()["code"] == "forbidden"

    approved = _api(second_lead).post(
        f"{path}/severity-downgrades/{pending['id']}/approve", {"comment": "agreed"}
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["severity"] == 3
    assert approved.json()["severity_downgrades"][0]["state"] == "approved"


def test_the_api_refuses_to_close_while_a_decision_awaits_approval(sev0, analyst):
    _decide(sev0, analyst)
    response = _api(analyst).post(
        f"/escalations/{sev0.pk}/transitions", {"to_status": "closed", "reason": "done"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "decision_awaits_approval"
