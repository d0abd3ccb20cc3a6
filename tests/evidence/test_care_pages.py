"""The team exposure page's forms: a lead or admin records graphic-content training, an
admin sets the team's care policy; versioned, audited, refused to everyone else."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.evidence.models import TeamCarePolicy, ViewingPreference
from watchfloor.evidence.services import preference_of

TEAM = reverse("evidence-team-exposure")
TRAINING = reverse("evidence-team-training")
CARE = reverse("evidence-team-care")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_a_lead_records_a_team_members_training_at_the_version_read(lead, analyst):
    client = signed_in(lead)
    page = client.get(TEAM).content.decode()
    assert "Record training" in page and analyst.display_name in page
    response = client.post(
        TRAINING, {"person": analyst.username, "trained": "on", "expected_version": 1}, follow=True
    )
    assert "Graphic-content training of" in _messages(response)
    assert preference_of(analyst).graphic_content_trained
    event = AuditEvent.objects.filter(action=AuditAction.EVIDENCE_TRAINING_CHANGED).get()
    assert event.actor == lead and event.data["to"] is True
    # A form opened before that change is refused and changes nothing.
    stale = client.post(TRAINING, {"person": analyst.username, "expected_version": 1}, follow=True)
    assert "changed since you opened it" in _messages(stale)
    assert preference_of(analyst).graphic_content_trained
    assert ViewingPreference.objects.get(person=analyst).version == 2
    # Removing it, at the current version.
    client.post(TRAINING, {"person": analyst.username, "expected_version": 2})
    assert not preference_of(analyst).graphic_content_trained


def test_a_form_without_its_version_is_refused(lead, analyst):
    response = signed_in(lead).post(
        TRAINING, {"person": analyst.username, "trained": "on"}, follow=True
    )
    assert "which version" in _messages(response)
    assert not preference_of(analyst).graphic_content_trained


def test_a_lead_cannot_record_training_outside_their_team(lead, make_user):
    stranger = make_user("sam.stranger", "analyst", "legal")
    response = signed_in(lead).post(
        TRAINING, {"person": stranger.username, "trained": "on", "expected_version": 1}
    )
    assert response.status_code == 404
    assert not preference_of(stranger).graphic_content_trained


def test_analysts_and_partners_are_refused_the_page_and_its_forms(analyst, legal_partner):
    for user in (analyst, legal_partner):
        client = signed_in(user)
        assert client.get(TEAM).status_code == 403
        assert client.get(TEAM, {"team": "site_policy"}).status_code == 403
        training = {"person": user.username, "trained": "on", "expected_version": 1}
        assert client.post(TRAINING, training).status_code == 403
        care = {"team": "site_policy", "tell_lead": "on", "expected_version": 1}
        assert client.post(CARE, care).status_code == 403
    assert not ViewingPreference.objects.filter(graphic_content_trained=True).exists()
    assert not TeamCarePolicy.objects.exists()


def test_only_an_admin_sets_the_care_policy(lead, admin_user):
    lead_page = signed_in(lead).get(TEAM).content.decode()
    assert "An admin sets the care policy." in lead_page and "Save care policy" not in lead_page
    refused = signed_in(lead).post(CARE, {"tell_lead": "on", "expected_version": 1})
    assert refused.status_code == 403
    admin = signed_in(admin_user)
    page = admin.get(TEAM, {"team": "site_policy"}).content.decode()
    assert "Save care policy" in page
    response = admin.post(
        CARE, {"team": "site_policy", "tell_lead": "on", "expected_version": 1}, follow=True
    )
    assert "the lead is told" in _messages(response)
    policy = TeamCarePolicy.objects.get(team__code="site_policy")
    assert policy.tell_lead and policy.version == 2
    event = AuditEvent.objects.filter(action=AuditAction.EVIDENCE_CARE_POLICY_CHANGED).get()
    assert event.actor == admin_user and event.data == {
        "team": "site_policy",
        "from": False,
        "to": True,
    }
    stale = admin.post(CARE, {"team": "site_policy", "expected_version": 1}, follow=True)
    assert "changed since you opened it" in _messages(stale)
    assert TeamCarePolicy.objects.get(team__code="site_policy").tell_lead
