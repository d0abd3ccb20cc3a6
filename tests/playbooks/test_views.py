"""The run panel, the step actions and the template preview, as each person sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from tests.escalations.conftest import SEVERITY_ANSWERS
from tests.playbooks.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.escalations.selectors import escalation_detail
from watchfloor.playbooks import run_panel, selectors, step_work
from watchfloor.playbooks.models import CommunicationRecord, PlaybookRun, StepState

pytestmark = pytest.mark.usefixtures("library", "frozen_clock")


@pytest.fixture
def inquiry(escalate):
    escalation = escalate(
        type_code="media_inquiry",
        markets=["JP"],
        languages=["ja"],
        shared_with_team_codes=["communications"],
        rubric_answers=SEVERITY_ANSWERS[2],
    )
    return escalation, PlaybookRun.objects.get(escalation=escalation)


def panel(escalation, user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    detail = escalation_detail(escalation)
    return render_to_string(
        "playbooks/_run_panel.html",
        {
            "escalation": detail,
            "runs": run_panel.run_views(escalation=detail, viewer=user, now=clock.now()),
            "proposals": selectors.proposals_for(detail, facts=selectors.prefetched_facts(detail)),
            "user": user,
        },
        request=request,
    )


def test_the_panel_shows_steps_owners_and_due_times_in_two_zones(inquiry, analyst):
    escalation, _ = inquiry
    html = panel(escalation, analyst)
    assert "Media inquiry — facts to Communications before the journalist&#x27;s deadline" in html
    assert "Record the outlet, the question and the deadline" in html
    assert "Communications" in html and "Waiting for: Record the outlet" in html
    assert "(owner's time)" in html and "JST" in html
    assert "is-overdue" not in html


def test_overdue_steps_stand_out(inquiry, analyst):
    escalation, _ = inquiry
    clock.advance(timedelta(hours=2))
    html = panel(escalation, analyst)
    assert html.count("is-overdue") == 1
    assert "breached 1 h ago" in html


def test_a_partner_sees_only_runs_of_escalations_shared_with_their_team(
    inquiry, escalate, comms_partner, legal_partner
):
    escalation, run = inquiry
    private = escalate(type_code="media_inquiry", markets=["JP"])
    assert set(selectors.runs_visible_to(comms_partner)) == {run}
    assert not selectors.runs_visible_to(legal_partner).exists()
    other_step = PlaybookRun.objects.get(escalation=private).steps.get(step_id="record_deadline")
    response = signed_in(comms_partner).post(
        reverse("playbook-step-state", args=[private.pk, other_step.pk]), {"state": "done"}
    )
    assert response.status_code == 404
    response = signed_in(comms_partner).get(
        reverse("communication-preview", args=[private.pk, "media_response"])
    )
    assert response.status_code == 404
    # A step of another escalation cannot be reached through a visible one either.
    response = signed_in(comms_partner).post(
        reverse("playbook-step-state", args=[escalation.pk, other_step.pk]), {"state": "done"}
    )
    assert response.status_code == 404


def test_a_partner_works_their_own_step_from_the_page(inquiry, comms_partner):
    escalation, run = inquiry
    row = run.steps.get(step_id="record_deadline")
    client = signed_in(comms_partner)
    response = client.post(
        reverse("playbook-step-state", args=[escalation.pk, row.pk]), {"state": "done"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#step-{row.pk}")
    row.refresh_from_db()
    assert row.state == StepState.DONE and row.changed_by == comms_partner
    response = client.post(
        reverse(
            "playbook-step-state", args=[escalation.pk, run.steps.get(step_id="fact_check").pk]
        ),
        {"state": "done"},
    )
    assert response.status_code == 403


def test_a_refused_change_comes_back_as_a_message(inquiry, analyst):
    escalation, run = inquiry
    row = run.steps.get(step_id="fact_check")
    client = signed_in(analyst)
    response = client.post(
        reverse("playbook-step-state", args=[escalation.pk, row.pk]),
        {"state": "skipped"},
        follow=True,
    )
    assert "say why: skipping a step needs a reason" in response.content.decode()


def test_a_viewer_cannot_act(inquiry, viewer):
    escalation, run = inquiry
    row = run.steps.get(step_id="record_deadline")
    response = signed_in(viewer).post(
        reverse("playbook-step-checklist", args=[escalation.pk, row.pk]),
        {"item": "x", "checked": "1"},
    )
    assert response.status_code == 403


def test_preview_in_the_escalations_language_then_record_as_sent(inquiry, analyst):
    escalation, run = inquiry
    row = run.steps.get(step_id="respond")
    url = reverse("step-communication-preview", args=[escalation.pk, row.pk, "media_response"])
    client = signed_in(analyst)
    page = client.get(url).content.decode()
    assert 'lang="ja"' in page
    assert "[journalist] 様" in page  # what is still to fill in shows as a gap
    assert "Still to fill in: journalist, answer, spokesperson" in page
    response = client.post(
        url,
        {
            "send": "1",
            "channel": "email",
            "recipient": "desk@example.jp",
            "input_journalist": "山田",
        },
    )
    assert response.status_code == 400
    assert not CommunicationRecord.objects.exists()
    response = client.post(
        url,
        {
            "send": "1",
            "channel": "email",
            "recipient": "desk@example.jp",
            "input_journalist": "山田",
            "input_answer": "削除済みです。",
            "input_spokesperson": "広報部",
        },
    )
    assert response.status_code == 302
    record = CommunicationRecord.objects.get()
    assert record.language == "ja" and record.step == row
    assert record.body.startswith("山田 様") and escalation.reference not in record.body
    sent = AuditEvent.objects.get(action=AuditAction.COMMUNICATION_SENT)
    assert sent.escalation_id == escalation.pk
    assert sent.data["recipient"] == "desk@example.jp" and sent.data["body"] == record.body


def test_preview_in_another_language(inquiry, analyst):
    escalation, _ = inquiry
    url = reverse("communication-preview", args=[escalation.pk, "wellbeing_outreach"])
    page = signed_in(analyst).get(url, {"language": "ko"}).content.decode()
    assert "혼자가 아니에요" in page


def test_the_panel_reads_in_a_fixed_number_of_queries(
    inquiry, analyst, lead, legal_partner, django_assert_num_queries
):
    from watchfloor.playbooks import services

    escalation, run = inquiry

    def add_work(run, first: str, approve: str) -> None:
        services.assign_run_role(
            run=run,
            role=selectors.playbook_spec(run.version).roles[0].code,
            user=analyst,
            actor=lead,
        )
        step_work.set_step_state(step=run.steps.get(step_id=first), state="done", actor=analyst)
        step_work.approve_step(step=run.steps.get(step_id=approve), actor=legal_partner)

    add_work(run, "record_deadline", "legal_exposure")
    detail = escalation_detail(escalation)
    with django_assert_num_queries(10):
        run_panel.run_views(escalation=detail, viewer=analyst, now=clock.now())
    second = services.start_playbook_run(
        escalation=escalation, playbook_code="policy_gap", actor=analyst
    )
    step_work.set_step_state(
        step=second.steps.get(step_id="legal_input"),
        state="skipped",
        actor=analyst,
        reason="not unlawful",
    )
    detail = escalation_detail(escalation)
    with django_assert_num_queries(10):
        run_panel.run_views(escalation=detail, viewer=analyst, now=clock.now())
