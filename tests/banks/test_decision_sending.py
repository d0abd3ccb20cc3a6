"""Final decisions go out on their own, once, through the connectors that send them;
against the local HTTP server that plays the platform (tests/banks/platform_server.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client

from tests.banks.test_actioner import callback, final_decision
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.banks.actioner import carry_out_decision, save_connector
from watchfloor.banks.decision_sending import (
    NOTHING_TO_ACT_ON,
    SWEEP_GRACE,
    on_decision_final,
    send_missed_decisions,
)
from watchfloor.banks.models import EnforcementRequest, ItemStatus, RequestStatus
from watchfloor.core import clock
from watchfloor.core.errors import Conflict
from watchfloor.escalations.decisions import approve_decision, send_back_decision
from watchfloor.escalations.inputs import SubjectInput

pytestmark = pytest.mark.usefixtures("frozen_clock")

SUBJECTS = [SubjectInput("post", "post:attack-1"), SubjectInput("media", "media:attack-1")]


@pytest.fixture
def sending(connector):
    """The platform connector, set to send final decisions on its own."""
    connector.sends_final_decisions = True
    return save_connector(connector=connector, actor=None)


def test_a_final_decision_goes_out_once_and_the_page_says_what_became_of_it(
    make_escalation, analyst, sending, platform, committed, run_due
):
    escalation = make_escalation(subjects=SUBJECTS)
    with committed():
        decision = final_decision(escalation, analyst)
    request = EnforcementRequest.objects.get(decision=decision)
    assert request.automatic and request.connector == sending
    assert request.requested_by == analyst and request.status == RequestStatus.QUEUED
    assert sorted(request.items.values_list("reference", flat=True)) == [
        "media:attack-1",
        "post:attack-1",
    ]
    assert run_due() == ["send_enforcement_request: sent"]
    [sent] = platform.requests
    assert sent["verified"] and sent["payload"]["decision"] == decision.pk
    assert sent["payload"]["action"] == "remove_content"

    # The hook told twice, the sweep and the "Carry out" form: nothing goes out again.
    with committed():
        assert on_decision_final(decision_id=decision.pk, actor_id=analyst.pk) == []
    clock.advance(SWEEP_GRACE * 2)
    assert send_missed_decisions() == 0
    with pytest.raises(Conflict, match="already went to Platform enforcement"):
        carry_out_decision(decision=decision, connector_code="platform", actor=analyst)
    assert run_due() == [] and len(platform.requests) == 1
    assert EnforcementRequest.objects.filter(decision=decision).count() == 1

    client = Client()
    answer = {
        "idempotency_key": request.idempotency_key,
        "status": "carried_out",
        "carried_out_at": "2026-11-24T09:45:00+09:00",
        "by": "enforcement-ops:kenji",
        "items": [{"reference": "media:attack-1", "status": "refused", "detail": "gone"}],
    }
    assert callback(client, platform, answer).status_code == 200
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "Final decisions go out on their own through Platform enforcement." in page
    assert f"(decision #{decision.pk}, sent when it became final)" in page
    assert "partly carried out at" in page and "by enforcement-ops:kenji" in page
    assert "1 done · 1 refused" in page

    # The refused item may be sent again by hand; only it goes.
    with committed():
        again = carry_out_decision(decision=decision, connector_code="platform", actor=analyst)
    assert not again.automatic
    assert list(again.items.values_list("reference", flat=True)) == ["media:attack-1"]
    assert again.items.get().status == ItemStatus.PENDING


def test_a_decision_needing_approval_goes_out_when_approved_and_not_when_sent_back(
    make_escalation, analyst, lead, sending, committed
):
    escalation = make_escalation(is_high_visibility=True, subjects=SUBJECTS)
    with committed():
        pending = final_decision(escalation, analyst)
    assert not EnforcementRequest.objects.exists()
    with committed():
        send_back_decision(decision=pending, actor=lead, comment="Name the copies first.")
    assert not EnforcementRequest.objects.exists()

    with committed():
        second = final_decision(escalation, analyst)
        approve_decision(decision=second, actor=lead)
    request = EnforcementRequest.objects.get()
    assert request.decision == second and request.requested_by == lead and request.automatic


def test_a_decision_rolled_back_is_never_sent(make_escalation, analyst, sending, committed):
    escalation = make_escalation(subjects=SUBJECTS)
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        final_decision(escalation, analyst)
        raise RuntimeError("the request failed after the decision was written")
    assert not EnforcementRequest.objects.exists()


def test_no_action_and_connectors_that_do_not_send_decisions_send_nothing(
    make_escalation, analyst, connector, committed
):
    escalation = make_escalation(subjects=SUBJECTS)
    with committed():
        final_decision(escalation, analyst)  # the connector does not send decisions
        final_decision(make_escalation(subjects=SUBJECTS), analyst, action_code="no_action")
    assert not EnforcementRequest.objects.exists()


def test_a_decision_with_nothing_to_act_on_says_so_on_the_page(
    make_escalation, analyst, sending, committed, run_due
):
    escalation = make_escalation()  # no subjects, no matched copies
    with committed():
        decision = final_decision(escalation, analyst)
    request = EnforcementRequest.objects.get()
    assert request.status == RequestStatus.FAILED and request.item_count == 0
    assert request.last_error == NOTHING_TO_ACT_ON and request.decision == decision
    assert AuditEvent.objects.filter(action=AuditAction.BANK_ENFORCEMENT_FAILED).exists()
    assert run_due() == []  # nothing queued
    client = Client()
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "not sent: nothing to act on" in page


def test_the_sweep_sends_a_decision_whose_hook_was_lost_but_never_the_past(
    make_escalation, analyst, connector, platform, committed, run_due
):
    before = final_decision(make_escalation(subjects=SUBJECTS), analyst)
    clock.advance(timedelta(minutes=1))
    connector.sends_final_decisions = True
    connector = save_connector(connector=connector, actor=None)
    assert connector.sends_final_decisions_since == clock.now()
    clock.advance(timedelta(minutes=1))
    # Recorded outside ``committed()``: the hook's after-commit call is lost, as when the
    # process stops between the commit and the hook.
    lost = final_decision(make_escalation(subjects=SUBJECTS), analyst)
    assert not EnforcementRequest.objects.exists()
    with committed():
        assert send_missed_decisions() == 0  # the hook may still be on its way
    clock.advance(SWEEP_GRACE)
    with committed():
        assert send_missed_decisions() == 1
        assert send_missed_decisions() == 0
    request = EnforcementRequest.objects.get()
    assert request.decision == lost and request.automatic and request.requested_by == analyst
    assert not EnforcementRequest.objects.filter(decision=before).exists()
    assert run_due() == ["send_enforcement_request: sent"]
    assert platform.requests[0]["payload"]["decision"] == lost.pk
