"""The partner-requests API: asking, the partner's list, answering, and the errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watchfloor.core import clock

pytestmark = pytest.mark.usefixtures("frozen_clock")


def test_ask_list_answer_through_the_api(escalation, api_as, analyst, legal_partner):
    site_policy = api_as(analyst)
    created = site_policy.post(
        f"/escalations/{escalation.pk}/partner-requests",
        {
            "kind": "legal_review",
            "question": "Valid on its face?",
            "due_at": "2026-11-24T18:00:00+09:00",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["team"] == "legal"  # the team usually asked for a legal review
    assert body["due_at"] == "2026-11-24T09:00:00Z"
    assert body["shared_escalation"] is True and body["status"] == "open"
    assert body["escalation"]["reference"] == escalation.reference

    partner = api_as(legal_partner)
    listed = partner.get("/partner-requests").json()
    assert (listed["count"], listed["overdue"]) == (1, 0)
    clock.advance(timedelta(hours=9))
    listed = partner.get("/partner-requests").json()
    assert listed["overdue"] == 1 and listed["items"][0]["overdue_by_minutes"] == 30

    answered = partner.post(
        f"/partner-requests/{body['id']}/answer",
        {"outcome": "decline", "answer": "Contest it.", "attachments": ["LEGAL-2026-0142"]},
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["attachments"] == [{"kind": "document", "reference": "LEGAL-2026-0142"}]
    assert partner.get("/partner-requests").json()["count"] == 0
    assert partner.get("/partner-requests", {"status": "answered"}).json()["count"] == 1
    again = partner.post(f"/partner-requests/{body['id']}/answer", {"outcome": "approve"})
    assert (again.status_code, again.json()["code"]) == (409, "conflict")

    timeline = site_policy.get(f"/escalations/{escalation.pk}/timeline").json()
    assert "partner_request.answered" in [entry["action"] for entry in timeline]


def test_errors_name_the_field(escalation, api_as, analyst, legal_partner):
    caller = api_as(analyst)
    path = f"/escalations/{escalation.pk}/partner-requests"
    base = {"kind": "legal_review", "question": "Valid?", "due_within": "PT4H"}
    for changes, status, field in (
        ({"team": "lawyers"}, 400, "team"),
        ({"due_within": "four hours"}, 422, "due_within"),
        ({"due_within": "P99999999999D"}, 422, "due_within"),
        ({"due_within": None, "due_at": "2026-11-24T18:00:00"}, 422, "due_at"),
        ({"kind": "pep_talk"}, 422, "kind"),
        ({"question": ""}, 422, "question"),
        ({"colour": "blue"}, 422, "colour"),
    ):
        response = caller.post(path, {**base, **changes})
        assert (response.status_code, response.json()["field"]) == (status, field), changes
    assert caller.post("/escalations/999999/partner-requests", base).status_code == 404
    # A partner cannot ask, and cannot see an escalation not shared with their team.
    assert api_as(legal_partner).post(path, base).status_code == 404


def test_an_attachment_error_names_its_position(escalation, ask, api_as, legal_partner):
    request = ask(escalation)
    response = api_as(legal_partner).post(
        f"/partner-requests/{request.pk}/answer",
        {"outcome": "approve", "attachments": ["https://ok.example/a", "mailto:x@example.com"]},
    )
    assert (response.status_code, response.json()["field"]) == (400, "attachments.1")


def test_withdrawing_through_the_api(escalation, ask, api_as, analyst, legal_partner):
    request = ask(escalation)
    assert (
        api_as(legal_partner)
        .post(f"/partner-requests/{request.pk}/withdraw", {"reason": "mine"})
        .status_code
        == 403
    )
    response = api_as(analyst).post(f"/partner-requests/{request.pk}/withdraw", {"reason": "done"})
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
