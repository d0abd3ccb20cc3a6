"""Working an escalation over the API: lifecycle, ownership, notes, links, merges,
severity overrides, decisions and access."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

SEV1 = {"harm": "severe", "imminence": "imminent", "reach": "viral"}
DECISION = {
    "policy": "scams_fraud",
    "action": "remove_content",
    "scope": "The 14 posts and 3 accounts listed in the subjects",
    "rationale": "Impersonates a registered charity to collect donations.",
}


@pytest.fixture
def second_lead(make_user):
    return make_user("lou.lead", "lead", "site_policy")


# ---------------------------------------------------------------- lifecycle


def test_a_transition_moves_the_status_and_meets_the_acknowledge_clock(api_as, analyst):
    caller = api_as(analyst)
    created = caller.create()

    response = caller.post(f"/escalations/{created['id']}/transitions", {"to_status": "triaged"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "triaged"
    acknowledge = next(c for c in body["clocks"] if c["kind"] == "acknowledge")
    assert acknowledge["state"] == "met"
    assert body["next_due_label"] == "First action"


def test_an_impossible_transition_is_409_and_says_where_it_can_go(api_as, analyst):
    caller = api_as(analyst)
    created = caller.create()

    response = caller.post(f"/escalations/{created['id']}/transitions", {"to_status": "actioned"})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["field"] == "to_status"
    assert "cannot move from New to Actioned" in body["message"]
    assert "Triaged" in body["message"]


def test_an_unknown_status_is_a_validation_error(api_as, analyst):
    caller = api_as(analyst)
    created = caller.create()

    response = caller.post(f"/escalations/{created['id']}/transitions", {"to_status": "done"})

    assert response.status_code == 422
    assert response.json()["field"] == "to_status"
    assert "'triaged'" in response.json()["message"]


def test_a_viewer_cannot_write(api_as, analyst, viewer):
    created = api_as(analyst).create()
    reader = api_as(viewer)
    path = f"/escalations/{created['id']}"

    assert reader.get(path).status_code == 200
    refusals = [
        reader.post("/escalations", {"type": "scam_campaign", "title": "x"}),
        reader.post(f"{path}/transitions", {"to_status": "triaged"}),
        reader.post(f"{path}/assign", {"owner": "victor.viewer"}),
        reader.post(f"{path}/notes", {"body": "I was here"}),
        reader.post(f"{path}/decisions", DECISION),
        reader.post(f"{path}/severity-override", {"severity": 0, "reason": "feels bad"}),
        reader.put(f"{path}/access", {"is_restricted": True, "expected_version": 1}),
    ]
    assert [r.status_code for r in refusals] == [403] * len(refusals)
    assert {r.json()["code"] for r in refusals} == {"forbidden"}
    assert reader.get(path).json()["status"] == "new"


# ---------------------------------------------------------------- ownership and notes


def test_assign_and_unassign(api_as, analyst, other_analyst):
    caller = api_as(analyst)
    created = caller.create()
    path = f"/escalations/{created['id']}/assign"

    assigned = caller.post(path, {"owner": "ben.analyst"})
    unassigned = caller.post(path, {"owner": None})

    assert assigned.json()["owner"] == {"username": "ben.analyst", "display_name": "ben.analyst"}
    assert unassigned.json()["owner"] is None


def test_assigning_an_unknown_or_unsuitable_person_names_the_owner_field(api_as, analyst, viewer):
    caller = api_as(analyst)
    created = caller.create()
    path = f"/escalations/{created['id']}/assign"

    unknown = caller.post(path, {"owner": "nobody"})
    unsuitable = caller.post(path, {"owner": "victor.viewer"})

    assert (unknown.status_code, unknown.json()["field"]) == (400, "owner")
    assert (unsuitable.status_code, unsuitable.json()["field"]) == (400, "owner")
    assert "cannot own" in unsuitable.json()["message"]


def test_a_partner_can_answer_with_a_note_on_what_is_shared(api_as, analyst, legal_partner):
    created = api_as(analyst).create(shared_with_teams=["legal"])

    response = api_as(legal_partner).post(
        f"/escalations/{created['id']}/notes", {"body": "Legal: the order is valid."}
    )

    assert response.status_code == 201
    assert response.json()["author"]["username"] == "lee.legal"
    assert response.json()["body"] == "Legal: the order is valid."


def test_an_empty_note_is_refused(api_as, analyst):
    created = api_as(analyst).create()

    response = api_as(analyst).post(f"/escalations/{created['id']}/notes", {"body": ""})

    assert response.status_code == 422
    assert response.json()["field"] == "body"


# ---------------------------------------------------------------- links and merges


def test_linking_twice_is_409(api_as, analyst):
    caller = api_as(analyst)
    first, second = caller.create(), caller.create(title="Same scam, other city")
    path = f"/escalations/{first['id']}/links"

    linked = caller.post(path, {"other_id": second["id"], "reason": "same ring"})
    again = caller.post(path, {"other_id": second["id"]})

    assert linked.status_code == 201
    assert [link["id"] for link in linked.json()["linked"]] == [second["id"]]
    assert again.status_code == 409


def test_linking_to_an_escalation_you_cannot_see_is_404_on_other_id(api_as, analyst, other_analyst):
    hidden = api_as(analyst).create(is_restricted=True)
    mine = api_as(other_analyst).create()

    response = api_as(other_analyst).post(
        f"/escalations/{mine['id']}/links", {"other_id": hidden["id"]}
    )

    assert response.status_code == 404
    assert response.json()["field"] == "other_id"


def test_merge_closes_the_duplicate_and_hands_over_its_statutory_clock(api_as, analyst, ago):
    caller = api_as(analyst)
    notice = {"rule": "au-osa-removal-notice", "received_at": ago(hours=1)}
    duplicate = caller.create(markets=["AU"], statutory_triggers=[notice])
    target = caller.create(title="The main case")

    response = caller.post(
        f"/escalations/{duplicate['id']}/merge", {"into_id": target["id"], "reason": "same"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["merged_into"] == target["id"]
    kept = caller.get(f"/escalations/{target['id']}").json()
    assert [c["rule"] for c in kept["clocks"] if c["kind"] == "statutory"] == [
        "au-osa-removal-notice"
    ]
    again = caller.post(
        f"/escalations/{duplicate['id']}/transitions",
        {"to_status": "investigating", "reason": "reopen"},
    )
    assert again.status_code == 409


# ---------------------------------------------------------------- severity


def test_only_a_lead_may_override_severity(api_as, analyst, lead):
    created = api_as(analyst).create()
    path = f"/escalations/{created['id']}/severity-override"
    body = {"severity": 1, "reason": "Regulator has called twice"}

    refused = api_as(analyst).post(path, body)
    accepted = api_as(lead).post(path, body)

    assert refused.status_code == 403
    assert "lead" in refused.json()["message"]
    assert accepted.status_code == 200
    overridden = accepted.json()
    assert overridden["severity"] == 1
    assert overridden["computed_severity"] == created["computed_severity"]
    assert overridden["severity_override_reason"] == "Regulator has called twice"
    assert overridden["severity_overridden_by"]["username"] == "lina.lead"
    # The SLA clocks follow the new severity.
    acknowledge = next(c for c in overridden["clocks"] if c["kind"] == "acknowledge")
    assert acknowledge["basis"].startswith("SEV1 target")


def test_an_override_needs_a_reason_and_a_real_severity(api_as, lead, analyst):
    created = api_as(analyst).create()
    path = f"/escalations/{created['id']}/severity-override"

    no_reason = api_as(lead).post(path, {"severity": 1, "reason": ""})
    no_level = api_as(lead).post(path, {"severity": 9, "reason": "why not"})

    assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
    assert (no_level.status_code, no_level.json()["field"]) == (422, "severity")


def test_preview_explains_without_saving(api_as, analyst):
    from watchfloor.escalations.models import Escalation

    response = api_as(analyst).post(
        "/severity/preview",
        {"type": "violent_attack_content", "rubric_answers": {"imminence": "ongoing"}},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["severity"] == 0
    assert body["severity_name"] == "SEV0"
    assert body["band_severity"] > 0
    assert [floor["code"] for floor in body["floors"]] == ["livestreamed_attack"]
    assert "livestreamed_attack" in body["summary"]
    assert body["max_score"] > body["score"]
    assert len(body["contributions"]) == 7
    assert not Escalation.objects.exists()


def test_preview_names_a_bad_answer(api_as, analyst):
    response = api_as(analyst).post(
        "/severity/preview", {"type": "scam_campaign", "rubric_answers": {"reach": "galactic"}}
    )

    assert response.status_code == 400
    assert response.json()["field"] == "rubric_answers.reach"


# ---------------------------------------------------------------- decisions


def test_a_sev1_decision_needs_a_second_persons_approval(api_as, lead, second_lead, analyst):
    created = api_as(analyst).create(rubric_answers=SEV1)
    assert created["severity"] == 1
    recorded = api_as(lead).post(f"/escalations/{created['id']}/decisions", DECISION)
    assert recorded.status_code == 201
    decision = recorded.json()
    assert decision["state"] == "pending_approval"
    assert decision["policy_version"] == "1.0"
    approve = f"/escalations/{created['id']}/decisions/{decision['id']}/approve"

    by_author = api_as(lead).post(approve, {"comment": "lgtm"})
    by_analyst = api_as(analyst).post(approve, {"comment": "lgtm"})
    by_second = api_as(second_lead).post(approve, {"comment": "Agreed."})

    assert by_author.status_code == 403
    assert "second person" in by_author.json()["message"]
    assert by_analyst.status_code == 403
    assert by_second.status_code == 200
    approved = by_second.json()
    assert approved["state"] == "final"
    assert approved["reviewed_by"]["username"] == "lou.lead"
    assert approved["review_comment"] == "Agreed."
    detail = api_as(analyst).get(f"/escalations/{created['id']}").json()
    assert [d["state"] for d in detail["decisions"]] == ["final"]
    assert api_as(second_lead).post(approve, {}).status_code == 409


def test_a_decision_can_be_sent_back_with_a_comment(api_as, analyst, lead):
    created = api_as(analyst).create(rubric_answers=SEV1)
    decision = api_as(analyst).post(f"/escalations/{created['id']}/decisions", DECISION).json()
    path = f"/escalations/{created['id']}/decisions/{decision['id']}/send-back"

    without_comment = api_as(lead).post(path, {})
    sent_back = api_as(lead).post(path, {"comment": "Cite the impersonation policy too."})

    assert (without_comment.status_code, without_comment.json()["field"]) == (400, "comment")
    assert sent_back.status_code == 200
    assert sent_back.json()["state"] == "sent_back"


def test_a_decision_on_another_escalation_is_404(api_as, analyst, lead):
    first, second = api_as(analyst).create(), api_as(analyst).create()
    decision = api_as(analyst).post(f"/escalations/{first['id']}/decisions", DECISION).json()

    response = api_as(lead).post(
        f"/escalations/{second['id']}/decisions/{decision['id']}/approve", {}
    )

    assert response.status_code == 404
    assert response.json()["field"] == "decision_id"


def test_withholding_needs_countries(api_as, analyst):
    created = api_as(analyst).create()
    path = f"/escalations/{created['id']}/decisions"

    missing = api_as(analyst).post(path, {**DECISION, "action": "withhold_in_countries"})
    unknown = api_as(analyst).post(
        path, {**DECISION, "action": "withhold_in_countries", "countries": ["PH", "ZZ"]}
    )
    recorded = api_as(analyst).post(
        path, {**DECISION, "action": "withhold_in_countries", "countries": ["ph"]}
    )

    assert (missing.status_code, missing.json()["field"]) == (400, "countries")
    assert (unknown.status_code, unknown.json()["field"]) == (400, "countries.1")
    assert recorded.status_code == 201
    assert recorded.json()["countries"] == ["PH"]
    assert recorded.json()["state"] == "final"  # SEV3, not high-visibility


# ---------------------------------------------------------------- access


def test_a_lead_restricts_an_escalation_and_outsiders_lose_sight_of_it(
    api_as, analyst, other_analyst, lead
):
    created = api_as(analyst).create()
    path = f"/escalations/{created['id']}"
    assert api_as(other_analyst).get(path).status_code == 200

    response = api_as(lead).put(
        f"{path}/access",
        {
            "expected_version": created["access_version"],
            "is_restricted": True,
            "access_list": ["aiko.analyst"],
            "shared_with_teams": ["legal"],
        },
    )

    assert response.status_code == 200
    assert response.json()["is_restricted"] is True
    assert response.json()["access_list"] == ["aiko.analyst", "lina.lead"]
    assert response.json()["shared_with_teams"] == ["legal"]
    assert api_as(other_analyst).get(path).status_code == 404
    assert api_as(analyst).get(path).status_code == 200


def test_access_changes_are_for_leads(api_as, analyst):
    created = api_as(analyst).create()

    response = api_as(analyst).put(
        f"/escalations/{created['id']}/access",
        {"is_restricted": True, "expected_version": created["access_version"]},
    )

    assert response.status_code == 403


def test_access_names_an_unknown_team(api_as, analyst, lead):
    created = api_as(analyst).create()

    response = api_as(lead).put(
        f"/escalations/{created['id']}/access",
        {
            "expected_version": created["access_version"],
            "is_restricted": False,
            "shared_with_teams": ["legal", "astrology"],
        },
    )

    assert (response.status_code, response.json()["field"]) == (400, "shared_with_teams.1")


# ---------------------------------------------------------------- the catalog


def test_the_catalog_lists_every_code_a_request_may_use(api_as, viewer):
    response = api_as(viewer).get("/catalog")

    assert response.status_code == 200
    catalog = response.json()
    assert len(catalog["digest"]) == 64
    assert {"violent_attack_content", "scam_campaign", "regulator_notice"} <= {
        t["code"] for t in catalog["escalation_types"]
    }
    harm = next(f for f in catalog["factors"] if f["code"] == "harm")
    assert harm["options"][0]["value"] == "none"
    assert [s["name"] for s in catalog["severities"]] == ["SEV0", "SEV1", "SEV2", "SEV3", "SEV4"]
    assert catalog["severities"][0]["sla"]["acknowledge"] == "PT15M"
    scams = next(p for p in catalog["policies"] if p["code"] == "scams_fraud")
    assert scams["area"] == "cybercrime" and scams["versions"][0]["version"] == "1.0"
    withhold = next(
        a for a in catalog["enforcement_actions"] if a["code"] == "withhold_in_countries"
    )
    assert withhold["needs_countries"] is True
    assert "legal" in {t["code"] for t in catalog["teams"] if t["kind"] == "partner"}
    japan = next(m for m in catalog["markets"] if m["code"] == "JP")
    assert japan["time_zones"] == ["Asia/Tokyo"]
    esafety = next(r for r in catalog["statutory_rules"] if r["code"] == "au-osa-removal-notice")
    assert (esafety["deadline_kind"], esafety["deadline"]) == ("fixed", "PT24H")
