"""Filing and reading escalations over the API."""

from __future__ import annotations

import pytest

from tests.api.conftest import SCAM_ESCALATION

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- creating


def test_create_returns_201_with_the_detail(api_as, analyst, frozen_clock):
    response = api_as(analyst).post("/escalations", SCAM_ESCALATION)

    assert response.status_code == 201
    body = response.json()
    assert body["reference"] == f"WF-{body['id']}"
    assert body["status"] == "new"
    assert body["type"] == {"code": "scam_campaign", "name": body["type"]["name"]}
    assert body["markets"] == ["PH"]
    assert body["languages"] == ["tl", "en"]
    assert body["subjects"] == [
        {"kind": "account", "reference": "@relief_ph_help", "note": "main account"}
    ]
    assert body["policy"] == "scams_fraud"  # the type's default policy
    assert body["created_at"] == "2026-11-24T00:30:00Z"
    # The severity comes with its explanation, factor by factor.
    explanation = body["severity_explanation"]
    assert body["severity"] == explanation["severity"] == body["computed_severity"]
    assert body["severity_name"] == f"SEV{body['severity']}"
    assert explanation["summary"].startswith("Score ")
    harm = next(c for c in explanation["contributions"] if c["factor"] == "harm")
    assert harm["answer"] == "moderate" and harm["answered"] is True
    # Every SLA clock is there with the basis of its deadline.
    assert {c["kind"] for c in body["clocks"]} == {"acknowledge", "first_action", "resolve"}
    assert all(c["state"] == "running" and c["basis"] for c in body["clocks"])
    assert body["next_due_at"] == min(c["due_at"] for c in body["clocks"])


def test_a_statutory_clock_runs_from_when_the_notice_was_received(api_as, analyst, ago):
    received = ago(hours=3, zone="Australia/Sydney")  # written in Sydney's offset

    body = api_as(analyst).create(
        type="regulator_notice",
        title="eSafety removal notice for a violent video",
        markets=["AU"],
        statutory_triggers=[
            {"rule": "au-osa-removal-notice", "received_at": received, "notice_reference": "RN-1"}
        ],
    )

    statutory = next(c for c in body["clocks"] if c["kind"] == "statutory")
    assert statutory["rule"] == "au-osa-removal-notice"
    assert statutory["starts_at"] == "2026-11-23T21:30:00Z"  # the same instant, in UTC
    assert statutory["due_at"] == "2026-11-24T21:30:00Z"  # 24 hours later, fixed by law
    assert statutory["notice_reference"] == "RN-1"
    assert statutory["state"] == "running"
    # The matter began when the notice arrived, not when someone filed it.
    assert body["opened_at"] == "2026-11-23T21:30:00Z"
    # The SLA clocks count from when Watchfloor learned of it: the filing.
    sla = next(c for c in body["clocks"] if c["kind"] == "acknowledge")
    assert sla["starts_at"] == "2026-11-24T00:30:00Z"


def assert_invalid(response, *, status: int, field: str, mentions: str = "") -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["field"] == field
    assert body["message"]
    assert mentions.lower() in body["message"].lower()


def test_an_unknown_type_names_the_field(api_as, analyst):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, "type": "alien_invasion"})

    assert_invalid(response, status=400, field="type", mentions="alien_invasion")


def test_an_unknown_rubric_answer_names_the_factor(api_as, analyst):
    body = {**SCAM_ESCALATION, "rubric_answers": {"harm": "apocalyptic"}}

    response = api_as(analyst).post("/escalations", body)

    assert_invalid(response, status=400, field="rubric_answers.harm", mentions="apocalyptic")


def test_an_unknown_rubric_factor_names_it(api_as, analyst):
    body = {**SCAM_ESCALATION, "rubric_answers": {"vibes": "bad"}}

    response = api_as(analyst).post("/escalations", body)

    assert_invalid(response, status=400, field="rubric_answers.vibes", mentions="vibes")


def test_an_oversize_title_is_refused_by_the_schema(api_as, analyst):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, "title": "x" * 201})

    assert_invalid(response, status=422, field="title", mentions="200 characters")


def test_a_missing_title_is_named(api_as, analyst):
    body = {key: value for key, value in SCAM_ESCALATION.items() if key != "title"}

    response = api_as(analyst).post("/escalations", body)

    assert_invalid(response, status=422, field="title", mentions="required")


def test_an_unknown_market_names_its_position(api_as, analyst):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, "markets": ["PH", "XX"]})

    assert_invalid(response, status=400, field="markets.1", mentions="XX")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source_kind", "carrier_pigeon"),
        ("is_restricted", "sometimes"),
        ("subjects", [{"kind": "planet", "reference": "Mars"}]),
    ],
)
def test_a_bad_enumeration_or_type_names_the_field(api_as, analyst, field, value):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, field: value})

    expected = "subjects.0.kind" if field == "subjects" else field
    assert_invalid(response, status=422, field=expected)


def test_a_misspelt_field_is_refused_rather_than_ignored(api_as, analyst):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, "rubric_answer": {}})

    assert_invalid(response, status=422, field="rubric_answer", mentions="spelling")


@pytest.mark.parametrize(
    "received_at",
    [
        "2026-11-24T09:00:00",  # naive: which zone?
        "2026-11-24T09:00:00+25:00",  # no such offset
        "2026-11-24 the morning",
        "0001-01-01T00:00:00+09:00",  # would overflow on the way to UTC
    ],
)
def test_a_notice_time_needs_a_valid_offset(api_as, analyst, frozen_clock, received_at):
    trigger = {"rule": "au-osa-removal-notice", "received_at": received_at}
    body = {**SCAM_ESCALATION, "markets": ["AU"], "statutory_triggers": [trigger]}

    response = api_as(analyst).post("/escalations", body)

    assert_invalid(response, status=422, field="statutory_triggers.0.received_at")


def test_a_naive_time_is_explained_with_an_example(api_as, analyst, frozen_clock):
    trigger = {"rule": "au-osa-removal-notice", "received_at": "2026-11-24T09:00:00"}

    response = api_as(analyst).post(
        "/escalations", {**SCAM_ESCALATION, "statutory_triggers": [trigger]}
    )

    assert "+09:00" in response.json()["message"]


def test_a_notice_from_the_future_is_refused(api_as, analyst, frozen_clock):
    trigger = {"rule": "au-osa-removal-notice", "received_at": "2026-11-25T09:00:00+10:00"}

    response = api_as(analyst).post(
        "/escalations", {**SCAM_ESCALATION, "markets": ["AU"], "statutory_triggers": [trigger]}
    )

    assert_invalid(
        response, status=400, field="statutory_triggers.0.received_at", mentions="future"
    )


def test_malformed_json_is_400(api_as, analyst):
    response = api_as(analyst).post("/escalations", raw='{"title": "unterminated')

    assert response.status_code == 400
    assert response.json() == {
        "code": "malformed_json",
        "message": response.json()["message"],
        "field": None,
    }


@pytest.mark.parametrize("raw", ["[]", "null", '"a string"', "42"])
def test_a_body_that_is_not_an_object_is_422(api_as, analyst, raw):
    response = api_as(analyst).post("/escalations", raw=raw)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] is None
    assert response.json()["message"].startswith("the request body")


def test_an_empty_body_is_named_as_the_request_body(api_as, analyst):
    response = api_as(analyst).post("/escalations", raw="")

    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "the request body is required",
        "field": None,
    }


def test_an_unknown_endpoint_is_a_json_404(api_as, analyst):
    for path in ("/escalations/1/nonsense", "/", "/v2/escalations"):
        response = api_as(analyst).get(path)

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert "/api/v1/docs" in response.json()["message"]


def test_nul_characters_are_refused_before_they_reach_the_database(api_as, analyst):
    response = api_as(analyst).post("/escalations", {**SCAM_ESCALATION, "title": "bad\x00title"})

    assert_invalid(response, status=422, field="title", mentions="NUL")


# ---------------------------------------------------------------- reading one


def test_a_missing_escalation_is_404(api_as, analyst):
    response = api_as(analyst).get("/escalations/999999")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no escalation WF-999999 that you can see",
        "field": "escalation_id",
    }


@pytest.mark.parametrize("path", ["/escalations/abc", "/escalations/0", "/escalations/" + "9" * 30])
def test_a_malformed_id_is_a_validation_error_not_a_crash(api_as, analyst, path):
    response = api_as(analyst).get(path)

    assert_invalid(response, status=422, field="escalation_id")


def test_restricted_escalation_is_hidden_from_outsiders_like_a_missing_one(
    api_as, analyst, other_analyst
):
    restricted = api_as(analyst).create(is_restricted=True, title="Sensitive: at-risk person")
    outsider = api_as(other_analyst)

    hidden = outsider.get(f"/escalations/{restricted['id']}")
    timeline = outsider.get(f"/escalations/{restricted['id']}/timeline")
    note = outsider.post(f"/escalations/{restricted['id']}/notes", {"body": "hello?"})

    expected = {
        "code": "not_found",
        "message": f"no escalation WF-{restricted['id']} that you can see",
        "field": "escalation_id",
    }
    assert hidden.status_code == timeline.status_code == note.status_code == 404
    assert hidden.json() == timeline.json() == note.json() == expected
    assert outsider.get("/escalations").json() == {
        "count": 0,
        "count_is_capped": False,
        "items": [],
    }


def test_restricted_escalation_is_visible_to_its_access_list_and_each_look_is_recorded(
    api_as, analyst, other_analyst
):
    from watchfloor.audit.models import AuditEvent

    restricted = api_as(analyst).create(
        is_restricted=True, access_list=["ben.analyst"], title="Sensitive: at-risk person"
    )
    insider = api_as(other_analyst)

    first = insider.get(f"/escalations/{restricted['id']}")
    insider.get(f"/escalations/{restricted['id']}")
    insider.get(f"/escalations/{restricted['id']}/timeline")

    assert first.status_code == 200
    assert first.json()["access_list"] == ["aiko.analyst", "ben.analyst"]
    views = AuditEvent.objects.filter(action="escalation.viewed", escalation_id=restricted["id"])
    assert [(v.actor.username, v.data["channel"]) for v in views] == [("ben.analyst", "api")] * 3
    # The looks are kept in the log, not in the timeline people read.
    timeline = insider.get(f"/escalations/{restricted['id']}/timeline").json()
    assert "escalation.viewed" not in {entry["action"] for entry in timeline}


def test_an_unrestricted_escalation_is_read_without_recording_a_view(api_as, analyst):
    from watchfloor.audit.models import AuditEvent

    created = api_as(analyst).create()
    api_as(analyst).get(f"/escalations/{created['id']}")

    assert not AuditEvent.objects.filter(action="escalation.viewed").exists()


def test_a_partner_sees_only_what_is_shared_with_their_team(api_as, analyst, legal_partner):
    shared = api_as(analyst).create(shared_with_teams=["legal"], title="Court order, Manila")
    unshared = api_as(analyst).create(title="Internal only")
    partner = api_as(legal_partner)

    queue = partner.get("/escalations").json()

    assert queue["count"] == 1
    assert [item["id"] for item in queue["items"]] == [shared["id"]]
    assert partner.get(f"/escalations/{shared['id']}").status_code == 200
    assert partner.get(f"/escalations/{unshared['id']}").status_code == 404


def test_the_detail_lists_only_the_linked_escalations_the_viewer_may_see(
    api_as, analyst, other_analyst
):
    caller = api_as(analyst)
    first = caller.create(title="Scam wave, Manila")
    public = caller.create(title="Scam wave, Cebu")
    secret = caller.create(title="Scam wave, informant", is_restricted=True)
    caller.post(f"/escalations/{first['id']}/links", {"other_id": public["id"]})
    caller.post(f"/escalations/{first['id']}/links", {"other_id": secret["id"]})

    mine = caller.get(f"/escalations/{first['id']}").json()
    theirs = api_as(other_analyst).get(f"/escalations/{first['id']}").json()

    assert {link["id"] for link in mine["linked"]} == {public["id"], secret["id"]}
    assert [link["id"] for link in theirs["linked"]] == [public["id"]]


def test_the_timeline_tells_what_happened_in_order(api_as, analyst):
    caller = api_as(analyst)
    created = caller.create()
    caller.post(f"/escalations/{created['id']}/transitions", {"to_status": "triaged"})
    caller.post(f"/escalations/{created['id']}/notes", {"body": "Checked with the charity."})

    timeline = caller.get(f"/escalations/{created['id']}/timeline").json()

    assert [entry["action"] for entry in timeline] == [
        "escalation.created",
        "escalation.clock_met",
        "escalation.transitioned",
        "escalation.note_added",
    ]
    assert timeline[0]["actor"] == "aiko.analyst"
    assert timeline[0]["label"] == "Escalation created"
    assert timeline[2]["data"]["to"] == "triaged"
    assert all(entry["at"].endswith("Z") for entry in timeline)
