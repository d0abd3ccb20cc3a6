"""Need to know, as a matrix: every role against every kind of escalation, through every
way of reading escalations (queue page, CSV export, detail page, API list and count, API
detail and timeline). Whoever may not see an escalation gets the same answer as for one
that does not exist."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from watchfloor.audit.models import AuditEvent
from watchfloor.people.api_tokens import create_api_token

KINDS = ("ordinary", "restricted_with_access", "restricted_without_access", "shared_with_legal")

# role → the kinds of escalation it must see
EXPECTED = {
    "analyst": {"ordinary", "restricted_with_access", "shared_with_legal"},
    "lead": {"ordinary", "shared_with_legal"},
    "viewer": {"ordinary", "shared_with_legal"},
    "admin": set(KINDS),
    "legal_partner": {"shared_with_legal"},
    "comms_partner": set(),
}


@pytest.fixture
def world(
    analyst, other_analyst, lead, viewer, admin_user, legal_partner, comms_partner, make_escalation
):
    # Filed by other_analyst so that "analyst" is on an access list only when we say so.
    def make(title, **extra):
        return make_escalation(actor=other_analyst, title=title, **extra)

    escalations = {
        "ordinary": make("Ordinary scam wave"),
        "restricted_with_access": make(
            "Restricted doxxing case", is_restricted=True, access_usernames=["aiko.analyst"]
        ),
        "restricted_without_access": make("Restricted NCII case", is_restricted=True),
        "shared_with_legal": make("Court order review", shared_with_team_codes=["legal"]),
    }
    users = {
        "analyst": analyst,
        "lead": lead,
        "viewer": viewer,
        "admin": admin_user,
        "legal_partner": legal_partner,
        "comms_partner": comms_partner,
    }
    return users, escalations


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> tuple[Client, dict]:
    _, secret = create_api_token(user=user, name="matrix", scopes=["read"], actor=None)
    return Client(), {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_exactly_what_it_may_everywhere(role, world):
    users, escalations = world
    user = users[role]
    expected = {escalations[kind].pk for kind in EXPECTED[role]}
    hidden = {escalations[kind].pk for kind in KINDS} - expected
    browser = _browser(user)
    api, headers = _api(user)

    # Queue page: the rows and the count shown.
    page = browser.get("/", {"status": "all"})
    assert page.status_code == 200
    listed = {e.pk for e in page.context["page"].object_list}
    assert listed == expected
    assert page.context["page"].paginator.count == len(expected)

    # CSV export.
    export = browser.get("/escalations/export.csv", {"status": "all"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row[0] for row in rows[1:]} == {f"WF-{pk}" for pk in expected}

    # API list and its count.
    listing = api.get("/api/v1/escalations", {"include_closed": "true"}, headers=headers).json()
    assert {item["id"] for item in listing["items"]} == expected
    assert listing["count"] == len(expected)

    # Search never reveals a hidden title.
    for pk in hidden:
        title = next(e.title for e in escalations.values() if e.pk == pk)
        found = api.get("/api/v1/escalations", {"q": title}, headers=headers).json()
        assert found["count"] == 0
        assert browser.get("/", {"q": title}).context["page"].paginator.count == 0

    # Detail page, API detail and timeline: 200 when visible, the not-found answer otherwise.
    missing = max(e.pk for e in escalations.values()) + 1000
    missing_api = api.get(f"/api/v1/escalations/{missing}", headers=headers)
    for pk in expected:
        assert browser.get(f"/escalations/{pk}/").status_code == 200
        assert api.get(f"/api/v1/escalations/{pk}", headers=headers).status_code == 200
        assert api.get(f"/api/v1/escalations/{pk}/timeline", headers=headers).status_code == 200
    for pk in hidden:
        assert browser.get(f"/escalations/{pk}/").status_code == 404
        response = api.get(f"/api/v1/escalations/{pk}", headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == missing_api.json()["code"]
        assert api.get(f"/api/v1/escalations/{pk}/timeline", headers=headers).status_code == 404


def test_every_look_at_a_restricted_escalation_is_audited_and_exports_are_recorded(world):
    users, escalations = world
    restricted = escalations["restricted_with_access"]
    browser = _browser(users["analyst"])
    api, headers = _api(users["analyst"])
    before = AuditEvent.objects.filter(
        action="escalation.viewed", escalation_id=restricted.pk
    ).count()
    browser.get(f"/escalations/{restricted.pk}/")
    api.get(f"/api/v1/escalations/{restricted.pk}", headers=headers)
    views = AuditEvent.objects.filter(action="escalation.viewed", escalation_id=restricted.pk)
    assert views.count() == before + 2
    assert {event.data["channel"] for event in views} >= {"web", "api"}
    # Looking at an ordinary escalation is not logged as a restricted view.
    browser.get(f"/escalations/{escalations['ordinary'].pk}/")
    assert not AuditEvent.objects.filter(
        action="escalation.viewed", escalation_id=escalations["ordinary"].pk
    ).exists()

    browser.get("/escalations/export.csv", {"severity": "3"})
    export = AuditEvent.objects.filter(action="escalations.exported").latest("sequence")
    assert export.actor == users["analyst"]
    assert export.data["filters"] == {"severity": "3"}


def test_exported_cells_never_run_as_spreadsheet_formulas(analyst, make_escalation):
    make_escalation(title='=HYPERLINK("http://evil.example","click")')
    browser = _browser(analyst)
    rows = list(
        csv.reader(
            io.StringIO(b"".join(browser.get("/escalations/export.csv").streaming_content).decode())
        )
    )
    assert rows[1][1].startswith("'=HYPERLINK")
