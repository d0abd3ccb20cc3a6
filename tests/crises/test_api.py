"""The crises API: declaring and running a crisis over HTTP, under need to know.

A crisis the caller may not see answers exactly like a missing one; inside a crisis they
may see, escalations hidden from them are neither listed nor counted; every write leaves
its audit event, and each look at a restricted crisis is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import ApiCaller
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.crises import services
from watchfloor.crises.models import Crisis

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def api_as(catalog) -> Callable[..., ApiCaller]:
    from watchfloor.people.api_tokens import create_api_token

    def make(user) -> ApiCaller:
        _, secret = create_api_token(user=user, name="tests", scopes=["read", "write"], actor=None)
        return ApiCaller(client=Client(), token=secret, user=user)

    return make


def _events(action: str, crisis_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, data__crisis_id=crisis_id))


def _normal(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "message": re.sub(r"CR-\d+", "CR-N", body["message"])}


# ---------------------------------------------------------------- declaring and reading


def test_declaring_from_an_escalation_returns_the_war_room(api_as, analyst, escalation):
    response = api_as(analyst).post(
        "/crises",
        {
            "title": "Osaka attack video",
            "level": "incident",
            "declared_from": escalation.pk,
            "reason": "Re-uploads across three platforms",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"] == f"CR-{body['id']}"
    assert body["level"] == "incident" and body["is_active"] is True
    # Markets and languages come from the escalation when none are given.
    assert body["markets"] == ["JP"] and body["languages"] == ["ja"]
    assert body["declared_from"] == escalation.reference
    assert body["commander"]["username"] == analyst.username
    commander = next(r for r in body["roles"] if r["role"] == "incident_commander")
    assert commander["holder"]["username"] == analyst.username
    assert commander["since"] == "2026-11-24T00:30:00Z"
    assert {r["role"] for r in body["roles"] if r["holder"] is None} >= {"deputy", "scribe"}
    [linked] = body["escalations"]
    assert linked["reference"] == escalation.reference and linked["is_origin"] is True
    assert linked["status"] == "new" and linked["is_open"] is True
    assert body["escalation_count"] == 1 and body["open_escalation_count"] == 1
    # An incident reports every four hours from the declaration.
    assert body["next_sitrep_due_at"] == "2026-11-24T04:30:00Z"
    assert body["sitrep"] == {
        "due_at": "2026-11-24T04:30:00Z",
        "state": "scheduled",
        "state_label": "Scheduled",
        "interval_minutes": 240,
    }
    assert any(d["kind"] == "sitrep" for d in body["deadlines"])
    criteria = {c["code"]: c for c in body["stand_down_criteria"]}
    assert criteria["escalations_settled"]["met"] is False
    assert criteria["escalations_settled"]["blockers"] == [f"{escalation.reference} is new"]
    assert criteria["comms_agree"]["met"] is None
    [declared] = _events(AuditAction.CRISIS_DECLARED, body["id"])
    assert declared.actor == analyst and declared.data["reason"].startswith("Re-uploads")


def test_declaring_from_scratch_names_another_commander(api_as, analyst, other_analyst):
    response = api_as(analyst).post(
        "/crises",
        {
            "title": "Election-day rumours",
            "level": "monitoring",
            "markets": ["ph"],
            "languages": ["tl", "en"],
            "commander": other_analyst.username,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["commander"]["username"] == other_analyst.username
    assert body["markets"] == ["PH"] and body["escalations"] == []
    assert body["declared_from"] is None
    assert body["next_sitrep_due_at"] == "2026-11-25T00:30:00Z"  # daily while monitoring


def test_the_list_filters_by_activity_level_and_market_and_pages(
    api_as, analyst, declare, make_escalation
):
    incident = declare()
    monitoring = declare(
        title="Typhoon scams", level="monitoring", declared_from=make_escalation(title="PH")
    )
    closed = declare(title="Old crisis", declared_from=make_escalation(title="old"))
    services.change_level(crisis=closed, to_level="stand_down", actor=analyst, reason="quiet")
    services.change_level(crisis=closed, to_level="closed", actor=analyst, reason="over")
    caller = api_as(analyst)

    def ids(**params) -> list[int]:
        body = caller.get("/crises", params).json()
        assert body["count"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    # Active first, the most urgent level first; closed ones after.
    assert ids() == [incident.pk, monitoring.pk, closed.pk]
    assert ids(active="true") == [incident.pk, monitoring.pk]
    assert ids(active="false") == [closed.pk]
    assert ids(level="monitoring") == [monitoring.pk]
    assert ids(level=["monitoring", "closed"]) == [monitoring.pk, closed.pk]
    assert ids(market="ph") == [monitoring.pk, closed.pk]
    page = caller.get("/crises", {"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and [item["id"] for item in page["items"]] == [monitoring.pk]
    row = caller.get("/crises", {"level": "incident"}).json()["items"][0]
    assert row["commander"]["username"] == analyst.username
    assert row["sitrep_state"] == "scheduled" and row["level_label"] == "Incident"


def test_the_timeline_is_paged_in_log_order(api_as, analyst, crisis):
    for number in range(3):
        services.add_crisis_note(crisis=crisis, body=f"Update {number}", actor=analyst)
    caller = api_as(analyst)

    everything = caller.get(f"/crises/{crisis.pk}/timeline").json()
    actions = [item["action"] for item in everything["items"]]
    assert everything["count"] == len(actions) >= 5
    assert actions[0] == "crisis.declared"
    notes = [item for item in everything["items"] if item["action"] == "crisis.note_added"]
    assert [n["body"] for n in notes] == ["Update 0", "Update 1", "Update 2"]
    assert all(n["note_id"] for n in notes) and notes[0]["source"] == crisis.reference

    page = caller.get(f"/crises/{crisis.pk}/timeline", {"limit": 2, "offset": 1}).json()
    assert page["count"] == everything["count"]
    assert page["items"] == everything["items"][1:3]
    newest = caller.get(f"/crises/{crisis.pk}/timeline", {"newest_first": "true", "limit": 1})
    assert newest.json()["items"][0]["body"] == "Update 2"


# ---------------------------------------------------------------- writes


def test_changing_the_level_needs_a_reason_and_follows_the_table(api_as, analyst, crisis):
    caller = api_as(analyst)

    raised = caller.post(
        f"/crises/{crisis.pk}/level", {"to_level": "crisis_protocol", "reason": "Spreading fast"}
    )
    assert raised.status_code == 200, raised.content
    assert raised.json()["level"] == "crisis_protocol"
    assert raised.json()["sitrep"]["interval_minutes"] == 60
    closing = caller.post(f"/crises/{crisis.pk}/level", {"to_level": "closed", "reason": "done"})
    assert closing.status_code == 409 and closing.json()["field"] == "to_level"
    assert "stand it down first" in closing.json()["message"]


def test_handing_command_over(api_as, analyst, other_analyst, crisis):
    response = api_as(analyst).post(
        f"/crises/{crisis.pk}/roles",
        {
            "expected_version": Crisis.objects.get(pk=crisis.pk).access_version,
            "role": "incident_commander",
            "holder": other_analyst.username,
            "note": "shift change",
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["holder"]["username"] == other_analyst.username
    assert response.json()["note"] == "shift change"
    detail = api_as(analyst).get(f"/crises/{crisis.pk}").json()
    assert detail["commander"]["username"] == other_analyst.username


def test_notes_decisions_and_key_facts(api_as, analyst, crisis):
    caller = api_as(analyst)

    note = caller.post(f"/crises/{crisis.pk}/notes", {"body": "Hash list shared with GIFCT."})
    decision = caller.post(
        f"/crises/{crisis.pk}/notes", {"body": "Block re-uploads by hash.", "kind": "decision"}
    )
    assert note.status_code == decision.status_code == 201
    assert note.json()["kind"] == "note" and note.json()["is_pinned"] is False
    assert decision.json()["kind"] == "decision"

    pinned = caller.put(f"/crises/{crisis.pk}/notes/{note.json()['id']}/pin", {"pinned": True})
    assert pinned.status_code == 200 and pinned.json()["is_pinned"] is True
    assert pinned.json()["pinned_by"]["username"] == analyst.username
    facts = caller.get(f"/crises/{crisis.pk}").json()["key_facts"]
    assert [f["body"] for f in facts] == ["Hash list shared with GIFCT."]
    again = caller.put(f"/crises/{crisis.pk}/notes/{note.json()['id']}/pin", {"pinned": True})
    assert again.status_code == 409
    unpinned = caller.put(f"/crises/{crisis.pk}/notes/{note.json()['id']}/pin", {"pinned": False})
    assert unpinned.json()["is_pinned"] is False
    missing = caller.put(f"/crises/{crisis.pk}/notes/99999/pin", {"pinned": True})
    assert missing.status_code == 404 and missing.json()["field"] == "note_id"


def test_a_sitrep_sent_from_the_pre_draft_moves_the_next_one_on(api_as, analyst, crisis):
    caller = api_as(analyst)
    clock.advance(timedelta(hours=1))
    draft = caller.get(f"/crises/{crisis.pk}/sitreps/draft", {"audience": "leadership"})
    assert draft.status_code == 200, draft.content
    assert draft.json()["number"] == 1 and draft.json()["detail"] == "full"
    assert crisis.reference in draft.json()["subject"]

    sent = caller.post(f"/crises/{crisis.pk}/sitreps", {"audience": "leadership"})

    assert sent.status_code == 201, sent.content
    body = sent.json()
    # Recorded as drafted (the service trims the surrounding whitespace).
    assert body["subject"] == draft.json()["subject"]
    assert body["body"] == draft.json()["body"].strip()
    assert body["number"] == 1 and body["is_late"] is False
    assert body["next_sitrep_due_at"] == "2026-11-24T05:30:00Z"  # four hours from sending
    edited = caller.post(
        f"/crises/{crisis.pk}/sitreps",
        {"audience": "partners", "subject": "For partner teams", "body": "Written by hand."},
    )
    assert edited.status_code == 201 and edited.json()["body"] == "Written by hand."
    assert edited.json()["number"] == 1  # counted per audience


def test_linking_and_unlinking_escalations(api_as, analyst, crisis, make_escalation, escalation):
    other = make_escalation(title="Mirror site")
    caller = api_as(analyst)

    linked = caller.post(
        f"/crises/{crisis.pk}/escalations", {"escalation_id": other.pk, "reason": "same video"}
    )
    assert linked.status_code == 201, linked.content
    assert [e["reference"] for e in linked.json()["escalations"]] == [
        escalation.reference,
        other.reference,
    ]
    twice = caller.post(f"/crises/{crisis.pk}/escalations", {"escalation_id": other.pk})
    assert twice.status_code == 409
    origin = caller.post(
        f"/crises/{crisis.pk}/escalations/{escalation.pk}/unlink", {"reason": "wrong"}
    )
    assert origin.status_code == 409 and origin.json()["field"] == "escalation"
    unlinked = caller.post(
        f"/crises/{crisis.pk}/escalations/{other.pk}/unlink", {"reason": "a different video"}
    )
    assert unlinked.status_code == 200
    assert [e["reference"] for e in unlinked.json()["escalations"]] == [escalation.reference]


# ---------------------------------------------------------------- every write is audited


WRITES: dict[str, tuple[str, Callable[[Crisis, dict[str, Any]], tuple[str, str, dict]]]] = {
    "level": (
        AuditAction.CRISIS_LEVEL_CHANGED,
        lambda c, x: ("post", f"/crises/{c.pk}/level", {"to_level": "monitoring", "reason": "r"}),
    ),
    "role": (
        AuditAction.CRISIS_ROLE_ASSIGNED,
        lambda c, x: (
            "post",
            f"/crises/{c.pk}/roles",
            {"expected_version": c.access_version, "role": "scribe", "holder": x["other"]},
        ),
    ),
    "note": (
        AuditAction.CRISIS_NOTE_ADDED,
        lambda c, x: ("post", f"/crises/{c.pk}/notes", {"body": "b"}),
    ),
    "pin": (
        AuditAction.CRISIS_FACT_PINNED,
        lambda c, x: ("put", f"/crises/{c.pk}/notes/{x['note']}/pin", {"pinned": True}),
    ),
    "sitrep": (
        AuditAction.CRISIS_SITREP_SENT,
        lambda c, x: ("post", f"/crises/{c.pk}/sitreps", {"audience": "external"}),
    ),
    "link": (
        AuditAction.CRISIS_ESCALATION_LINKED,
        lambda c, x: ("post", f"/crises/{c.pk}/escalations", {"escalation_id": x["spare"]}),
    ),
    "unlink": (
        AuditAction.CRISIS_ESCALATION_UNLINKED,
        lambda c, x: ("post", f"/crises/{c.pk}/escalations/{x['linked']}/unlink", {"reason": "r"}),
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_each_write_records_its_audit_event(
    api_as, analyst, other_analyst, crisis, make_escalation, write
):
    linked = make_escalation(title="Linked")
    services.link_escalation(crisis=crisis, escalation=linked, actor=analyst)
    note = services.add_crisis_note(crisis=crisis, body="fact", actor=analyst)
    extra = {
        "other": other_analyst.username,
        "note": note.pk,
        "spare": make_escalation(title="Spare").pk,
        "linked": linked.pk,
    }
    action, request = WRITES[write]
    method, path, body = request(crisis, extra)
    before = len(_events(action, crisis.pk))

    response = getattr(api_as(analyst), method)(path, body)

    assert response.status_code in (200, 201), response.content
    events = _events(action, crisis.pk)
    assert len(events) == before + 1
    assert events[-1].actor == analyst


def test_declaring_is_audited_once(api_as, analyst):
    response = api_as(analyst).post("/crises", {"title": "From scratch"})
    assert response.status_code == 201
    [event] = _events(AuditAction.CRISIS_DECLARED, response.json()["id"])
    assert event.actor == analyst and event.data["commander"] == analyst.username


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/crises", {}, 422, "title"),
        ("/crises", {"title": ""}, 422, "title"),
        ("/crises", {"title": "x", "level": "closed"}, 422, "level"),
        ("/crises", {"title": "x", "markets": ["ZZ"]}, 400, "markets.0"),
        ("/crises", {"title": "x", "languages": ["not a tag"]}, 400, "languages.0"),
        ("/crises", {"title": "x", "commander": "nobody.here"}, 400, "commander"),
        ("/crises", {"title": "x", "commander": "victor.viewer"}, 400, "commander"),
        ("/crises", {"title": "x", "declared_from": 999999}, 404, "declared_from"),
        ("/crises", {"title": "x", "escalations": [999999]}, 404, "escalations.0"),
        ("/crises", {"title": "x", "titel": "y"}, 422, "titel"),
        ("{crisis}/level", {"to_level": "panic", "reason": "r"}, 422, "to_level"),
        ("{crisis}/level", {"to_level": "monitoring"}, 400, "reason"),
        ("{crisis}/roles", {"role": "chief", "holder": "aiko.analyst"}, 422, "role"),
        ("{crisis}/roles", {"role": "regional_lead", "holder": "ben.analyst"}, 400, "market"),
        ("{crisis}/roles", {"role": "scribe", "holder": "nobody.here"}, 400, "holder"),
        ("{crisis}/notes", {"body": ""}, 422, "body"),
        ("{crisis}/notes", {"body": "b", "kind": "rumour"}, 422, "kind"),
        ("{crisis}/sitreps", {"audience": "board"}, 400, "audience"),
        ("{crisis}/sitreps", {"audience": "leadership", "language": "fr"}, 400, "language"),
        ("{crisis}/sitreps", {"audience": "leadership", "subject": ""}, 422, "subject"),
        ("{crisis}/escalations", {"escalation_id": 0}, 422, "escalation_id"),
        ("{crisis}/escalations", {"escalation_id": 999999}, 404, "escalation_id"),
        ("{crisis}/escalations/1/unlink", {}, 422, "reason"),
    ],
)
def test_invalid_input_names_the_field(
    api_as, analyst, other_analyst, viewer, crisis, path, body, status, field
):
    path = path.replace("{crisis}", f"/crises/{crisis.pk}")
    if path.endswith("/roles"):
        body = {"expected_version": crisis.access_version, **body}

    response = api_as(analyst).post(path, body)

    assert response.status_code == status, response.content
    error = response.json()
    assert error["field"] == field
    assert error["code"] == {400: "invalid", 404: "not_found", 422: "invalid"}[status]
    assert error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"level": "panic"}, "level.0"), ({"limit": 0}, "limit"), ({"active": "maybe"}, "active")],
)
def test_invalid_list_filters_name_the_field(api_as, analyst, params, field):
    response = api_as(analyst).get("/crises", params)
    assert response.status_code == 422 and response.json()["field"] == field


def test_the_draft_needs_a_known_audience_and_language(api_as, analyst, crisis):
    caller = api_as(analyst)
    assert caller.get(f"/crises/{crisis.pk}/sitreps/draft").json()["field"] == "audience"
    unknown = caller.get(f"/crises/{crisis.pk}/sitreps/draft", {"audience": "board"})
    assert unknown.status_code == 400 and unknown.json()["field"] == "audience"
    language = caller.get(
        f"/crises/{crisis.pk}/sitreps/draft", {"audience": "leadership", "language": "fr"}
    )
    assert language.status_code == 400 and language.json()["field"] == "language"


# ---------------------------------------------------------------- need to know


@pytest.fixture
def world(
    analyst, other_analyst, lead, viewer, admin_user, legal_partner, make_escalation
) -> tuple[dict[str, Any], dict[str, Crisis]]:
    """Crises declared and commanded by someone else: the callers below hold no role."""

    def make(title, *, escalation_extra=None, **extra) -> Crisis:
        escalation = make_escalation(
            actor=other_analyst, title=f"{title} case", **(escalation_extra or {})
        )
        return services.declare_crisis(
            actor=other_analyst, title=title, declared_from=escalation, **extra
        )

    crises = {
        "ordinary": make("Ordinary crisis"),
        "restricted_with_access": make(
            "Restricted doxxing crisis", is_restricted=True, access_usernames=["aiko.analyst"]
        ),
        "restricted_without_access": make("Restricted NCII crisis", is_restricted=True),
        "shared_with_legal": make(
            "Court order crisis", escalation_extra={"shared_with_team_codes": ["legal"]}
        ),
    }
    users = {
        "analyst": analyst,
        "lead": lead,
        "viewer": viewer,
        "admin": admin_user,
        "legal_partner": legal_partner,
    }
    return users, crises


VISIBLE = {
    "analyst": {"ordinary", "restricted_with_access", "shared_with_legal"},
    "lead": {"ordinary", "shared_with_legal"},
    "viewer": {"ordinary", "shared_with_legal"},
    "admin": {
        "ordinary",
        "restricted_with_access",
        "restricted_without_access",
        "shared_with_legal",
    },
    "legal_partner": {"shared_with_legal"},
}
# What each role gets on a crisis it may see (it holds no role in it).
ALLOWED = {
    "note": {"analyst": 201, "lead": 201, "viewer": 403, "admin": 201, "legal_partner": 201},
    "level": {"analyst": 403, "lead": 200, "viewer": 403, "admin": 200, "legal_partner": 403},
    "sitrep": {"analyst": 201, "lead": 201, "viewer": 403, "admin": 201, "legal_partner": 403},
    "draft": {"analyst": 200, "lead": 200, "viewer": 403, "admin": 200, "legal_partner": 403},
    "detail": {"analyst": 200, "lead": 200, "viewer": 200, "admin": 200, "legal_partner": 200},
}


def _call(caller: ApiCaller, operation: str, crisis_id: int):
    base = f"/crises/{crisis_id}"
    if operation == "note":
        return caller.post(f"{base}/notes", {"body": "seen"})
    if operation == "level":
        return caller.post(f"{base}/level", {"to_level": "monitoring", "reason": "calmer"})
    if operation == "sitrep":
        return caller.post(f"{base}/sitreps", {"audience": "partners", "subject": "s", "body": "b"})
    if operation == "draft":
        return caller.get(f"{base}/sitreps/draft", {"audience": "partners"})
    return caller.get(base)


@pytest.mark.parametrize("role", VISIBLE)
def test_roles_against_restricted_and_shared_crises(api_as, world, role):
    users, crises = world
    caller = api_as(users[role])
    listed = {item["id"] for item in caller.get("/crises").json()["items"]}
    assert listed == {crises[kind].pk for kind in VISIBLE[role]}
    assert caller.get("/crises").json()["count"] == len(VISIBLE[role])

    for kind, crisis in crises.items():
        for operation, allowed in ALLOWED.items():
            response = _call(caller, operation, crisis.pk)
            expected = allowed[role] if kind in VISIBLE[role] else 404
            assert response.status_code == expected, (role, kind, operation, response.content)


@pytest.mark.parametrize("role", ["analyst", "lead", "legal_partner"])
def test_a_hidden_crisis_answers_exactly_like_a_missing_one(api_as, world, role):
    users, crises = world
    caller = api_as(users[role])
    hidden = crises["restricted_without_access"]
    spare = crises["ordinary"].declared_from_id
    note_id = services.add_crisis_note(crisis=hidden, body="x", actor=users["admin"]).pk
    requests = [
        ("get", "{}", None),
        ("get", "{}/timeline", None),
        ("get", "{}/sitreps/draft?audience=leadership", None),
        ("post", "{}/level", {"to_level": "monitoring", "reason": "r"}),
        ("post", "{}/roles", {"expected_version": 1, "role": "scribe", "holder": "aiko.analyst"}),
        ("post", "{}/notes", {"body": "b"}),
        ("put", "{}/notes/" + str(note_id) + "/pin", {"pinned": True}),
        ("post", "{}/sitreps", {"audience": "leadership", "subject": "s", "body": "b"}),
        ("post", "{}/escalations", {"escalation_id": spare}),
        ("post", "{}/escalations/" + str(hidden.declared_from_id) + "/unlink", {"reason": "r"}),
    ]
    for method, template, body in requests:
        answers = []
        for crisis_id in (hidden.pk, 99999):
            path = "/crises/" + template.format(crisis_id)
            response = caller.get(path) if method == "get" else getattr(caller, method)(path, body)
            answers.append((response.status_code, _normal(response.json())))
        assert answers[0] == answers[1], (method, template)
        assert answers[0][0] == 404 and answers[0][1]["field"] == "crisis_id"
    assert not AuditEvent.objects.filter(data__crisis_id=hidden.pk, actor=users[role]).exists()


def test_counts_and_details_leave_out_escalations_the_caller_may_not_see(
    api_as, analyst, lead, crisis, make_escalation
):
    hidden = make_escalation(title="Victim named in leaked police memo", is_restricted=True)
    services.link_escalation(crisis=crisis, escalation=hidden, actor=analyst, reason="same")
    seen_by = {user.username: api_as(user) for user in (analyst, lead)}

    row = {name: c.get("/crises").json()["items"][0] for name, c in seen_by.items()}
    assert row[analyst.username]["escalation_count"] == 2
    assert row[lead.username]["escalation_count"] == 1
    assert row[lead.username]["open_escalation_count"] == 1

    detail = seen_by[lead.username].get(f"/crises/{crisis.pk}").json()
    assert detail["escalation_count"] == 1
    assert hidden.reference not in str(detail) and "police memo" not in str(detail)
    criteria = {c["code"]: c for c in detail["stand_down_criteria"]}
    # The guard counts the hidden escalation, but does not name it to the lead.
    assert all(hidden.reference not in b for b in criteria["escalations_settled"]["blockers"])
    timeline = seen_by[lead.username].get(f"/crises/{crisis.pk}/timeline").json()
    assert hidden.reference not in str(timeline)
    assert hidden.reference in str(seen_by[analyst.username].get(f"/crises/{crisis.pk}").json())


def test_each_look_at_a_restricted_crisis_is_recorded(api_as, world):
    users, crises = world
    restricted, ordinary = crises["restricted_with_access"], crises["ordinary"]
    caller = api_as(users["analyst"])

    caller.get(f"/crises/{restricted.pk}")
    caller.get(f"/crises/{restricted.pk}/timeline")
    caller.get(f"/crises/{ordinary.pk}")
    caller.get("/crises")

    views = _events(AuditAction.CRISIS_VIEWED, restricted.pk)
    assert len(views) == 2
    assert {v.actor for v in views} == {users["analyst"]}
    assert all(v.data["channel"] == "api" for v in views)
    assert not _events(AuditAction.CRISIS_VIEWED, ordinary.pk)


def test_unauthenticated_callers_are_refused(anonymous_caller, crisis):
    assert anonymous_caller.get("/crises").status_code == 401
    assert anonymous_caller.post("/crises", {"title": "x"}).status_code == 401
    assert anonymous_caller.get(f"/crises/{crisis.pk}").status_code == 401


@pytest.fixture
def anonymous_caller() -> ApiCaller:
    return ApiCaller(client=Client(), token=None)


# ---------------------------------------------------------------- query counts


@pytest.mark.parametrize("extra", [0, 3])
def test_the_list_costs_the_same_number_of_queries_at_any_size(
    api_as, analyst, declare, make_escalation, extra, django_assert_num_queries
):
    crisis = declare()
    for index in range(extra):
        other = declare(title=f"Crisis {index}", declared_from=make_escalation(title=f"E{index}"))
        services.link_escalation(crisis=crisis, escalation=other.declared_from, actor=analyst)
    caller = api_as(analyst)
    caller.get("/crises")  # warm the crisis settings cache

    with django_assert_num_queries(LIST_QUERIES):
        response = caller.get("/crises")
    assert response.json()["count"] == 1 + extra


LIST_QUERIES = 6
