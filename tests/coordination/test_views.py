"""The pages: asking from the escalation's panel, the partner's inbox, answering on the
request page, and the answer read back on the escalation's timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from tests.coordination.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.coordination.models import PartnerRequest, RequestStatus
from watchfloor.coordination.panel import requests_panel
from watchfloor.coordination.services import answer_partner_request, chase_overdue_requests
from watchfloor.core import clock
from watchfloor.escalations.selectors import escalation_detail, escalation_timeline
from watchfloor.escalations.timeline import readable_timeline

pytestmark = pytest.mark.usefixtures("frozen_clock")

ASK = {
    "ask-kind": "legal_review",
    "ask-team": "legal",
    "ask-question": "Is the notice valid on its face?",
    "ask-context": "Items 7 and 9 look like news reporting.",
    "ask-due_within": "PT4H",
    "ask-due_at": "",
    "ask-due_zone": "Asia/Tokyo",
}


def panel_html(escalation, user) -> str:
    """The partial as the escalation page renders it, with the context it needs."""
    request = RequestFactory().get(f"/escalations/{escalation.pk}/")
    request.user = user
    return render_to_string(
        "coordination/_requests_panel.html",
        {
            "escalation": escalation_detail(escalation),
            "partner_requests": requests_panel(escalation=escalation, viewer=user, now=clock.now()),
            "user": user,
        },
        request=request,
    )


def test_the_panel_offers_the_ask_form_to_site_policy_only(
    escalation, analyst, viewer, legal_partner
):
    assert "Ask a partner" in panel_html(escalation, analyst)
    assert 'name="next" value="/escalations/' in panel_html(escalation, analyst)
    for person in (viewer, legal_partner):
        assert "Ask a partner" not in panel_html(escalation, person)


def test_asking_from_the_escalation_page_comes_back_to_it(escalation, analyst):
    client = signed_in(analyst)
    response = client.post(
        f"/escalations/{escalation.pk}/partner-requests/",
        {**ASK, "next": f"/escalations/{escalation.pk}/"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/escalations/{escalation.pk}/#partner-requests"
    request = PartnerRequest.objects.get()
    assert (request.team.code, request.kind, request.due_at) == (
        "legal",
        "legal_review",
        clock.now() + timedelta(hours=4),
    )
    page = client.get(response["Location"]).content.decode()
    assert f"Legal review asked of Legal ({request.reference})" in page
    assert "is now shared with them" in page


def test_a_foreign_next_address_is_ignored(escalation, analyst):
    response = signed_in(analyst).post(
        f"/escalations/{escalation.pk}/partner-requests/", {**ASK, "next": "https://evil.example/"}
    )
    assert (
        response["Location"] == f"/escalations/{escalation.pk}/partner-requests/#partner-requests"
    )


def test_a_due_time_is_read_in_the_zone_chosen_beside_it(escalation, analyst):
    client = signed_in(analyst)
    response = client.post(
        f"/escalations/{escalation.pk}/partner-requests/",
        {
            **ASK,
            "ask-due_within": "",
            "ask-due_at": "2026-11-24T18:00",
            "ask-due_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    assert PartnerRequest.objects.get().due_at.isoformat() == "2026-11-24T09:00:00+00:00"


def test_a_time_the_clocks_skip_is_refused_next_to_the_field(escalation, analyst):
    # Sydney springs forward from 02:00 to 03:00 on Sunday 4 October 2026.
    clock.freeze(clock.now().replace(month=9, day=30))
    response = signed_in(analyst).post(
        f"/escalations/{escalation.pk}/partner-requests/",
        {
            **ASK,
            "ask-due_within": "",
            "ask-due_at": "2026-10-04T02:30",
            "ask-due_zone": "Australia/Sydney",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "2026-10-04 02:30 does not exist in Australia/Sydney: the clocks skip it" in html
    assert "Is the notice valid on its face?" in html  # what was typed is kept
    assert not PartnerRequest.objects.exists()


def test_the_service_error_is_shown_at_its_field(escalation, analyst):
    response = signed_in(analyst).post(
        f"/escalations/{escalation.pk}/partner-requests/",
        {**ASK, "ask-due_within": "", "ask-due_at": "2026-11-20T09:00"},
    )
    assert response.status_code == 400
    assert "the due time has already passed" in response.content.decode()
    both = signed_in(analyst).post(
        f"/escalations/{escalation.pk}/partner-requests/", {**ASK, "ask-due_at": "2026-11-25T09:00"}
    )
    assert "give a span or a time, not both" in both.content.decode()


def test_partners_and_viewers_cannot_ask(escalation, viewer, legal_partner, make_escalation):
    assert (
        signed_in(viewer).post(f"/escalations/{escalation.pk}/partner-requests/", ASK).status_code
        == 403
    )
    # A partner cannot even find an escalation not shared with their team.
    assert (
        signed_in(legal_partner)
        .post(f"/escalations/{escalation.pk}/partner-requests/", ASK)
        .status_code
        == 404
    )


def test_the_inbox_puts_the_overdue_first(escalation, ask, legal_partner):
    later = ask(escalation, question="Later", due_within=timedelta(hours=8))
    sooner = ask(escalation, question="Sooner", due_within=timedelta(hours=2))
    answered = ask(escalation, question="Already answered", due_within=timedelta(hours=1))
    answer_partner_request(partner_request=answered, actor=legal_partner, outcome="approve")
    clock.advance(timedelta(hours=3))  # "Sooner" is now an hour overdue
    client = signed_in(legal_partner)
    html = client.get("/inbox/").content.decode()
    assert html.index("Sooner") < html.index("Later")
    assert "Already answered" not in html
    assert "<strong>2</strong> awaiting an answer" in html and "1 overdue" in html
    assert "breached 1 h ago" in html
    everything = client.get("/inbox/", {"status": "all"}).content.decode()
    assert everything.index("Later") < everything.index("Already answered")
    assert sooner.reference in client.get("/inbox/", {"overdue": "on"}).content.decode()
    assert later.reference not in client.get("/inbox/", {"overdue": "on"}).content.decode()


def test_the_inbox_costs_the_same_with_more_requests(
    escalation, make_escalation, ask, legal_partner, django_assert_num_queries
):
    ask(escalation)
    client = signed_in(legal_partner)
    client.get("/inbox/")
    with django_assert_num_queries(6 + 1):  # and the header's "Needs me" count
        client.get("/inbox/")
    for number in range(5):
        ask(make_escalation(title=f"Another {number}", markets=["AU"]))
    with django_assert_num_queries(6 + 1):  # and the header's "Needs me" count
        assert client.get("/inbox/").content.decode().count('class="reference">PR-') == 6


def test_the_panel_costs_the_same_with_more_requests(
    escalation, ask, analyst, django_assert_num_queries
):
    ask(escalation)
    detail = escalation_detail(escalation)
    with django_assert_num_queries(4):
        requests_panel(escalation=detail, viewer=analyst, now=clock.now())
    for _ in range(4):
        ask(escalation, team_code="communications", kind="holding_statement")
    detail = escalation_detail(escalation)
    with django_assert_num_queries(4):
        panel = requests_panel(escalation=detail, viewer=analyst, now=clock.now())
    assert len(panel.rows) == 5


def test_the_partner_answers_and_the_answer_reads_on_the_timeline(
    escalation, ask, analyst, legal_partner
):
    request = ask(escalation)
    client = signed_in(legal_partner)
    page = client.get(f"/inbox/{request.pk}/").content.decode()
    assert "Is the notice valid on its face" in page and "Notice DEMO-0042" in page
    assert escalation.title in page and "Send answer" in page
    response = client.post(
        f"/inbox/{request.pk}/",
        {
            "answer-outcome": "advise",
            "answer-answer": "Valid. Act on 12 of 14.",
            "answer-attachments": "https://legal.example/memos/4411\nLEGAL-2026-0142\n",
        },
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.ANSWERED
    lines = readable_timeline(escalation_timeline(escalation, viewer=analyst))
    answer = next(line for line in lines if line.action == AuditAction.PARTNER_REQUEST_ANSWERED)
    assert answer.summary == f"Legal answered Legal review ({request.reference}): advice given"
    assert "Valid. Act on 12 of 14." in answer.body
    assert "https://legal.example/memos/4411, LEGAL-2026-0142" in answer.body
    # The escalation page (shared with Legal) shows it to the partner as well.
    timeline = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert "Legal answered Legal review" in timeline


def test_a_bad_attachment_is_named_by_its_line(escalation, ask, legal_partner):
    request = ask(escalation)
    response = signed_in(legal_partner).post(
        f"/inbox/{request.pk}/",
        {
            "answer-outcome": "approve",
            "answer-attachments": "https://legal.example/ok\nfile:///etc/passwd",
        },
    )
    assert response.status_code == 400
    assert "line 2: &#x27;file:///etc/passwd&#x27; is neither" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.OPEN


def test_others_cannot_answer(escalation, ask, analyst, comms_partner):
    request = ask(escalation)
    assert "Send answer" not in signed_in(analyst).get(f"/inbox/{request.pk}/").content.decode()
    assert (
        signed_in(analyst).post(f"/inbox/{request.pk}/", {"answer-outcome": "approve"}).status_code
        == 403
    )
    assert (
        signed_in(comms_partner)
        .post(f"/inbox/{request.pk}/", {"answer-outcome": "approve"})
        .status_code
        == 404
    )


def test_site_policy_withdraws_a_request(escalation, ask, analyst):
    request = ask(escalation)
    client = signed_in(analyst)
    assert client.post(f"/inbox/{request.pk}/withdraw", {"withdraw-reason": ""}).status_code == 400
    response = client.post(
        f"/inbox/{request.pk}/withdraw", {"withdraw-reason": "Handled by policy."}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN


def test_the_timeline_reads_each_step_of_a_request(escalation, ask, analyst, legal_partner):
    request = ask(escalation, due_within=timedelta(hours=1))
    chase_overdue_requests(now=clock.now() + timedelta(hours=2, minutes=5))
    answer_partner_request(partner_request=request, actor=legal_partner, outcome="approve")
    lines = {
        line.action: line
        for line in readable_timeline(escalation_timeline(escalation, viewer=analyst))
    }
    assert lines[AuditAction.PARTNER_REQUEST_SHARED].summary.startswith(
        "shared with Legal for a partner request · now shared with: legal"
    )
    sent = lines[AuditAction.PARTNER_REQUEST_SENT]
    assert (
        sent.summary
        == f"Legal review ({request.reference}) asked of Legal, due Tue 24 Nov 01:30 UTC"
    )
    assert "Context: Notice DEMO-0042" in sent.body
    chased = lines[AuditAction.PARTNER_REQUEST_CHASED]
    assert (
        chased.summary
        == f"Legal review ({request.reference}) from Legal overdue by 1 h 5 min; chase 1"
    )
    assert chased.body == "Nobody on call to remind"
    assert lines[AuditAction.PARTNER_REQUEST_ANSWERED].summary.endswith(": approved")
