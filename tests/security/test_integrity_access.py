"""Issue 11, finding 12: stale access-list edits undid a revocation silently.

A lead opened an escalation's "Who can see it" form; meanwhile another lead took an
analyst off the access list; the first lead saved and the analyst was back, with nothing
said. Access lists (escalations, crises), crisis roles and accounts' roles now carry the
version they were read at: a stale edit is refused with "changed since you opened it",
on the page (the form shows it) and in the API (409, code ``stale``, the API's error
shape), and nothing changes.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.conftest import ApiCaller
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.coordination.services import share_escalation_with_team
from watchfloor.core.errors import Conflict
from watchfloor.crises import services as crisis_services
from watchfloor.crises.models import Crisis, RoleKind
from watchfloor.escalations import services
from watchfloor.escalations.models import Escalation
from watchfloor.people.api_tokens import create_api_token
from watchfloor.people.models import Team, User
from watchfloor.people.services import change_user_access, deactivate_user

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def second_lead(make_user):
    return make_user("lars.lead", "lead", "site_policy")


@pytest.fixture
def restricted(make_escalation, analyst, other_analyst, lead, second_lead):
    return make_escalation(
        is_restricted=True,
        access_usernames=[other_analyst.username, lead.username, second_lead.username],
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> ApiCaller:
    _, secret = create_api_token(user=user, name="tests", scopes=["read", "write"], actor=None)
    return ApiCaller(client=Client(), token=secret, user=user)


def _version_on_page(page: str, form: str) -> int:
    found = re.search(rf'name="{form}-expected_version" value="(\d+)"', page)
    assert found, f"the {form} form carries no version"
    return int(found.group(1))


def _listed(escalation: Escalation) -> set[str]:
    return set(
        Escalation.objects.get(pk=escalation.pk).access_list.values_list("username", flat=True)
    )


def _revoke(escalation: Escalation, lead, *, keep: list[str]) -> None:
    services.set_access(
        escalation=escalation,
        actor=lead,
        is_restricted=True,
        access_usernames=keep,
        shared_with_team_codes=[],
        expected_version=Escalation.objects.get(pk=escalation.pk).access_version,
    )


# ---------------------------------------------------------------- escalations


def test_finding_12_a_stale_access_edit_does_not_undo_a_revocation(
    restricted, analyst, other_analyst, lead, second_lead
):
    read_at = restricted.access_version
    # Ben's access is revoked.
    _revoke(restricted, second_lead, keep=[analyst.username, lead.username])

    with pytest.raises(Conflict) as refused:
        services.set_access(
            escalation=restricted,
            actor=lead,
            is_restricted=True,
            access_usernames=[analyst.username, other_analyst.username],
            shared_with_team_codes=["legal"],
            expected_version=read_at,
        )
    assert refused.value.code == "stale"
    assert refused.value.field == "expected_version"
    assert "changed since you opened it" in refused.value.message
    assert "access list: aiko.analyst, lars.lead, lina.lead" in refused.value.message
    assert other_analyst.username not in _listed(restricted)
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.ESCALATION_ACCESS_CHANGED, escalation_id=restricted.pk
        ).count()
        == 1
    )


def test_each_access_change_counts_and_a_fresh_edit_goes_through(restricted, analyst, lead):
    first = restricted.access_version
    _revoke(restricted, lead, keep=[analyst.username])
    assert Escalation.objects.get(pk=restricted.pk).access_version == first + 1
    _revoke(restricted, lead, keep=[])
    assert _listed(restricted) == {lead.username}
    assert Escalation.objects.get(pk=restricted.pk).access_version == first + 2


def test_sharing_for_a_partner_request_makes_an_open_access_form_stale(restricted, analyst, lead):
    read_at = restricted.access_version
    share_escalation_with_team(
        escalation=restricted, team=Team.objects.get(code="legal"), actor=analyst
    )
    with pytest.raises(Conflict):
        services.set_access(
            escalation=restricted,
            actor=lead,
            is_restricted=True,
            access_usernames=[],
            shared_with_team_codes=[],
            expected_version=read_at,
        )
    assert Escalation.objects.get(pk=restricted.pk).shared_with_teams.filter(code="legal").exists()


def test_finding_12_the_page_shows_the_refusal_and_keeps_the_revocation(
    restricted, analyst, other_analyst, lead, second_lead
):
    client = _client(lead)
    page = client.get(reverse("escalation-detail", args=[restricted.pk])).content.decode()
    read_at = _version_on_page(page, "access")
    _revoke(restricted, second_lead, keep=[analyst.username, lead.username])

    response = client.post(
        reverse("escalation-access", args=[restricted.pk]),
        {
            "access-expected_version": read_at,
            "access-is_restricted": "on",
            "access-access_list": [analyst.username, other_analyst.username],
        },
    )
    assert response.status_code == 409
    assert "changed since you opened it" in response.content.decode()
    assert other_analyst.username not in _listed(restricted)


def test_a_form_without_its_version_is_refused(restricted, lead, other_analyst):
    response = _client(lead).post(
        reverse("escalation-access", args=[restricted.pk]),
        {"access-is_restricted": "on", "access-access_list": [other_analyst.username]},
    )
    assert response.status_code == 400
    assert "which version it was opened at" in response.content.decode()


def test_finding_12_the_api_answers_409_stale_in_its_error_shape(
    restricted, analyst, other_analyst, lead, second_lead
):
    path = f"/escalations/{restricted.pk}"
    read_at = _api(lead).get(path).json()["access_version"]
    _revoke(restricted, second_lead, keep=[analyst.username, lead.username])

    response = _api(lead).put(
        f"{path}/access",
        {
            "expected_version": read_at,
            "is_restricted": True,
            "access_list": [analyst.username, other_analyst.username],
        },
    )
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"code", "message", "field"}
    assert (body["code"], body["field"]) == ("stale", "expected_version")
    assert other_analyst.username not in _listed(restricted)

    missing = _api(lead).put(f"{path}/access", {"is_restricted": False})
    assert missing.status_code in (400, 422)
    assert missing.json()["field"] == "expected_version"


# ---------------------------------------------------------------- crises: access and roles


@pytest.fixture
def crisis(make_escalation, lead, analyst):
    return crisis_services.declare_crisis(
        actor=lead,
        title="Osaka attack video",
        declared_from=make_escalation(),
        is_restricted=True,
        access_usernames=[analyst.username],
    )


def _revoke_everyone(crisis: Crisis, admin_user, *, read_at: int) -> None:
    """Another person takes everybody but the role holders off the crisis."""
    crisis_services.set_crisis_access(
        crisis=crisis,
        actor=admin_user,
        is_restricted=True,
        access_usernames=[],
        expected_version=read_at,
    )


def _crisis_listed(crisis: Crisis) -> set[str]:
    return set(Crisis.objects.get(pk=crisis.pk).access_list.values_list("username", flat=True))


def test_finding_12_a_stale_crisis_access_edit_is_refused(crisis, analyst, lead, admin_user):
    read_at = Crisis.objects.get(pk=crisis.pk).access_version
    _revoke_everyone(crisis, admin_user, read_at=read_at)
    assert analyst.username not in _crisis_listed(crisis)
    with pytest.raises(Conflict) as refused:
        crisis_services.set_crisis_access(
            crisis=crisis,
            actor=lead,
            is_restricted=True,
            access_usernames=[analyst.username],
            expected_version=read_at,
        )
    assert refused.value.code == "stale"
    assert analyst.username not in _crisis_listed(crisis)


def test_the_war_room_access_form_shows_a_stale_refusal(crisis, analyst, lead, admin_user):
    client = _client(lead)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    read_at = _version_on_page(page, "access")
    _revoke_everyone(crisis, admin_user, read_at=read_at)
    response = client.post(
        reverse("crisis-access", args=[crisis.pk]),
        {
            "access-expected_version": read_at,
            "access-is_restricted": "on",
            "access-access_list": [analyst.username],
        },
    )
    assert response.status_code == 409
    assert "changed since you opened it" in response.content.decode()
    assert analyst.username not in _crisis_listed(crisis)


def test_a_role_handover_read_before_another_is_refused(
    crisis, analyst, other_analyst, lead, admin_user
):
    read_at = Crisis.objects.get(pk=crisis.pk).access_version
    crisis_services.hand_over_role(
        crisis=crisis,
        role=RoleKind.SCRIBE,
        to_user=analyst,
        actor=admin_user,
        expected_version=read_at,
    )
    with pytest.raises(Conflict) as refused:
        crisis_services.release_role(
            crisis=crisis, role=RoleKind.SCRIBE, actor=lead, expected_version=read_at
        )
    assert refused.value.code == "stale"
    assert "Scribe: aiko.analyst" in refused.value.message


def test_finding_12_the_roles_api_answers_409_stale(crisis, analyst, lead, admin_user):
    path = f"/crises/{crisis.pk}"
    read_at = _api(lead).get(path).json()["access_version"]
    _revoke_everyone(crisis, admin_user, read_at=read_at)
    response = _api(lead).post(
        f"{path}/roles",
        {"expected_version": read_at, "role": "scribe", "holder": analyst.username},
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("stale", "expected_version")
    fresh = _api(lead).get(path).json()["access_version"]
    assert fresh == read_at + 1
    done = _api(lead).post(
        f"{path}/roles", {"expected_version": fresh, "role": "scribe", "holder": lead.username}
    )
    assert done.status_code == 200, done.content


# ---------------------------------------------------------------- accounts: role and team


def _admin_change_page(client: Client, user: User) -> str:
    return client.get(reverse("admin:people_user_change", args=[user.pk])).content.decode()


def _admin_post(client: Client, user: User, *, version: int, role: str):
    stored = User.objects.get(pk=user.pk)
    return client.post(
        reverse("admin:people_user_change", args=[user.pk]),
        {
            "username": stored.username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_active": "on",
            "role": role,
            "team": stored.team_id or "",
            "time_zone": "Asia/Tokyo",
            "languages": "[]",
            "expected_version": version,
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )


def test_finding_12_a_stale_admin_edit_does_not_restore_a_revoked_role(lead, admin_user):
    client = _client(admin_user)
    read_at = int(
        re.search(r'name="expected_version" value="(\d+)"', _admin_change_page(client, lead))[1]
    )
    # Meanwhile the identity provider (or another admin) takes the lead role away.
    change_user_access(user=lead, role="viewer", team=None, actor=None, reason="moved team")

    response = _admin_post(client, lead, version=read_at, role="lead")
    assert response.status_code == 200  # the form again, with the refusal
    assert "changed since you opened it" in response.content.decode()
    assert User.objects.get(pk=lead.pk).role == "viewer"


def test_a_fresh_admin_edit_goes_through_and_counts(lead, admin_user):
    client = _client(admin_user)
    version = User.objects.get(pk=lead.pk).access_version
    response = _admin_post(client, lead, version=version, role="analyst")
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = User.objects.get(pk=lead.pk)
    assert (stored.role, stored.access_version) == ("analyst", version + 1)


def test_deactivation_makes_an_open_admin_form_stale(lead, admin_user):
    version = User.objects.get(pk=lead.pk).access_version
    deactivate_user(user=lead, actor=admin_user, reason="left the company on 2026-11-30")
    response = _admin_post(_client(admin_user), lead, version=version, role="lead")
    assert "changed since you opened it" in response.content.decode()
    assert User.objects.get(pk=lead.pk).is_active is False
