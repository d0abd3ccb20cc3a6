"""Acknowledging: by the signed link in an email (once, before it expires, never forged)
and by the button on the escalation page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse

from tests.notify.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.notify.models import Engagement, EngagementStatus
from watchfloor.notify.stage_notifications import ACK_SALT

pytestmark = pytest.mark.usefixtures("frozen_clock", "team")

LINK = re.compile(r"https://watchfloor\.test(?P<path>/notify/ack/\S+)")


@pytest.fixture
def paged(escalate, run_due):
    escalation = escalate(0)
    run_due()
    (message,) = [m for m in mail.outbox if "mei.lead@watchfloor.test" in m.to]
    return escalation, LINK.search(message.body)["path"]


def test_the_link_shows_what_it_will_do_and_only_a_post_acknowledges(paged, client, crisis_lead):
    escalation, path = paged
    page = client.get(path)
    assert page.status_code == 200
    assert f"{escalation.reference}" in page.text
    assert "Acknowledge as Mei" in page.text
    engagement = Engagement.objects.get(escalation=escalation)
    assert engagement.status == EngagementStatus.ACTIVE, "a GET (a link preview) changes nothing"

    done = client.post(path)
    assert done.status_code == 200
    assert f"Acknowledged {escalation.reference}" in done.text
    engagement.refresh_from_db()
    assert engagement.status == EngagementStatus.ACKNOWLEDGED
    assert engagement.acknowledged_by == crisis_lead and engagement.acknowledged_via == "link"
    event = AuditEvent.objects.get(action=AuditAction.NOTIFY_ACKNOWLEDGED)
    assert event.actor_id == crisis_lead.pk and event.data["via"] == "link"
    assert event.escalation_id == escalation.pk
    # One acknowledgement (issue 12, defect 2): the SLA acknowledge clock is met with it.
    acknowledge_clock = escalation.clocks.get(kind="acknowledge")
    assert acknowledge_clock.met_at == clock.now()


def test_a_used_link_cannot_be_used_again(paged, client):
    _, path = paged
    assert client.post(path).status_code == 200
    again = client.post(path)
    assert again.status_code == 409
    assert "This link was already used, at Tue 24 Nov 2026 08:30 UTC+08." in again.text
    assert "already used" in client.get(path).text


def test_an_expired_link_sends_you_to_the_escalation_page(paged, client):
    escalation, path = paged
    clock.advance(timedelta(hours=1))  # the test policy's links last an hour
    page = client.get(path)
    assert "This link expired at Tue 24 Nov 2026 09:30 UTC+08" in page.text
    refused = client.post(path)
    assert refused.status_code == 409
    assert Engagement.objects.get(escalation=escalation).status == EngagementStatus.ACTIVE


@pytest.mark.parametrize(
    "forge",
    [
        lambda path: path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"),  # bad signature
        lambda path: "/notify/ack/not-a-token",
        # Correctly signed, but not the nonce that was issued (a guess at another link).
        lambda path: "/notify/ack/" + signing.Signer(salt=ACK_SALT).sign("1.guessed-nonce"),
        # Signed with another salt (a token from elsewhere in the application).
        lambda path: "/notify/ack/" + signing.Signer(salt="other").sign(path.split("/")[-1]),
    ],
)
def test_a_forged_link_is_refused_and_changes_nothing(paged, client, forge):
    escalation, path = paged
    response = client.post(forge(path))
    assert response.status_code == 404
    assert "This acknowledgement link is not valid" in response.text
    assert Engagement.objects.get(escalation=escalation).status == EngagementStatus.ACTIVE


def test_a_link_after_someone_else_acknowledged_says_who(paged, client, analyst):
    from watchfloor.notify.acknowledgement import acknowledge_escalation

    escalation, path = paged
    acknowledge_escalation(escalation=escalation, actor=analyst)
    page = client.get(path)
    assert "Already acknowledged by aiko.analyst" in page.text
    assert client.post(path).status_code == 409


def test_the_button_on_the_escalation_page_acknowledges(paged, analyst):
    escalation, _ = paged
    response = signed_in(analyst).post(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 302
    assert response.url == f"/escalations/{escalation.pk}/#pager"
    engagement = Engagement.objects.get(escalation=escalation)
    assert engagement.acknowledged_by == analyst and engagement.acknowledged_via == "ui"

    again = signed_in(analyst).post(
        reverse("notify-acknowledge", args=[escalation.pk]), follow=True
    )
    assert "already acknowledged by aiko.analyst" in again.text


def test_a_viewer_who_was_not_notified_may_not_acknowledge(paged, viewer):
    escalation, _ = paged
    response = signed_in(viewer).post(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 403
    assert Engagement.objects.get(escalation=escalation).status == EngagementStatus.ACTIVE


def test_a_hidden_escalation_cannot_be_acknowledged_or_even_found(escalate, run_due, legal_partner):
    escalation = escalate(0)
    response = signed_in(legal_partner).post(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 404


def test_acknowledging_needs_a_post(paged, analyst):
    escalation, _ = paged
    response = signed_in(analyst).get(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 405


def test_the_link_of_a_deactivated_account_no_longer_works(paged, client, crisis_lead):
    escalation, path = paged
    crisis_lead.is_active = False
    crisis_lead.save(update_fields=["is_active"])
    assert client.post(path).status_code == 404
    assert Engagement.objects.get(escalation=escalation).status == EngagementStatus.ACTIVE
