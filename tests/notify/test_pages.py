"""The delivery log, the escalation page's notifications panel, the quiet-hours page and
the admin: as each person sees them, with their query counts pinned."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from tests.notify.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.notify import selectors
from watchfloor.notify.models import Channel, NotificationPreference

pytestmark = pytest.mark.usefixtures("frozen_clock", "team")


def panel_html(escalation, user) -> str:
    """The pager's state atop the escalation page, then the notifications panel."""
    request = RequestFactory().get("/")
    request.user = user
    context = {
        "escalation": escalation,
        "notify_panel": selectors.escalation_panel(escalation=escalation, viewer=user),
    }
    return "".join(
        render_to_string(template, context, request=request)
        for template in ("notify/_pager_state.html", "notify/_deliveries.html")
    )


def test_the_panel_shows_each_stage_who_it_told_and_how_delivery_went(
    escalate, run_due, war_room, receiver, analyst
):
    receiver.script = [500]
    escalation = escalate(0)
    run_due()
    html = panel_html(escalation, analyst)
    assert html.count("waiting for acknowledgement") == 1
    assert "Stage 1: Crisis lead on call" in html and "Stage 2: Regional head" in html
    assert "Unless someone acknowledges, stage 2 (user: apac.head) is notified" in html
    assert "mei.lead@watchfloor.test" in html and "War room" in html
    assert "Retrying" in html and "HTTP 500" in html
    assert "receiver says no" not in html, "a receiver's answer is for administrators only"
    assert 'action="/notify/escalations/' in html and ">Acknowledge</button>" in html


def test_the_panel_has_no_button_for_a_viewer_and_is_hidden_from_partners(
    escalate, run_due, viewer, comms_partner
):
    escalation = escalate(0, shared_with_team_codes=["communications"])
    assert "Acknowledge</button>" not in panel_html(escalation, viewer)
    assert "Stage 1" in panel_html(escalation, viewer)
    assert panel_html(escalation, comms_partner).strip() == ""


def test_the_panel_takes_a_fixed_number_of_queries(
    escalate, run_due, analyst, django_assert_num_queries
):
    escalation = escalate(0)
    run_due()
    clock.advance(timedelta(minutes=10))
    run_due()
    # engagements, their notifications, and the notifications' attempts
    with django_assert_num_queries(3):
        panel = selectors.escalation_panel(escalation=escalation, viewer=analyst)
        rows = [
            n.attempts.all() for v in panel.engagements for s in v.stages for n in s.notifications
        ]
    assert len(rows) >= 3


def test_the_delivery_log_is_for_leads_and_admins(escalate, run_due, lead, analyst, admin_user):
    escalate(0)
    run_due()
    assert signed_in(lead).get(reverse("notify-deliveries")).status_code == 200
    assert signed_in(admin_user).get(reverse("notify-deliveries")).status_code == 200
    refused = signed_in(analyst).get(reverse("notify-deliveries"))
    assert refused.status_code == 403
    assert "for leads and administrators" in refused.text


def test_the_delivery_log_lists_attempts_and_filters_by_status(
    escalate, run_due, war_room, receiver, lead
):
    receiver.script = [404]
    escalation = escalate(0)
    run_due()
    page = signed_in(lead).get(reverse("notify-deliveries"), {"status": "failed"})
    assert page.status_code == 200
    assert escalation.reference in page.text
    assert "War room" in page.text and "HTTP 404" in page.text
    assert "receiver says no" not in page.text, "a receiver's answer is for administrators only"
    assert "Rejected (not retried)" in page.text
    assert ">Try again</button>" in page.text
    assert "mei.lead@watchfloor.test" not in page.text, "delivered email filtered out"


def test_the_delivery_log_hides_restricted_escalations_from_those_without_access(
    escalate, run_due, lead, admin_user
):
    escalation = escalate(0, is_restricted=True)
    run_due()
    assert escalation.reference not in signed_in(lead).get(reverse("notify-deliveries")).text
    assert escalation.reference in signed_in(admin_user).get(reverse("notify-deliveries")).text


def test_the_delivery_log_takes_a_fixed_number_of_queries(
    escalate, run_due, lead, django_assert_num_queries
):
    client = signed_in(lead)
    escalate(0)
    run_due()
    client.get(reverse("notify-deliveries"))  # warm caches (session, catalog)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("notify-deliveries")).status_code == 200
        return len(queries)

    few = count()
    escalate(0, title="Second wave")
    escalate(2, title="Third")
    run_due()
    assert count() == few


def test_retrying_by_hand_from_the_log(escalate, run_due, war_room, receiver, lead):
    from watchfloor.notify.models import Notification

    receiver.script = [404]
    escalation = escalate(0)
    run_due()
    failed = Notification.objects.get(escalation=escalation, channel=war_room)
    response = signed_in(lead).post(reverse("notify-retry", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "pending"


def test_people_set_their_own_quiet_hours(crisis_lead):
    client = signed_in(crisis_lead)
    page = client.get(reverse("notify-preferences"))
    assert "Asia/Singapore" in page.text
    response = client.post(
        reverse("notify-preferences"), {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}
    )
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=crisis_lead)
    assert (preference.quiet_hours_start, preference.quiet_hours_end) == (time(22), time(7))
    half = client.post(reverse("notify-preferences"), {"quiet_hours_start": "22:00"})
    assert half.status_code == 400
    assert "give both the start and the end" in half.text


# ---------------------------------------------------------------- admin


def test_an_admin_adds_a_webhook_and_the_change_is_audited_without_secrets(admin_user, receiver):
    client = signed_in(admin_user)
    response = client.post(
        reverse("admin:notify_channel_add"),
        {
            "code": "war-room",
            "name": "War room",
            "kind": "webhook",
            "url": receiver.url,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.text
    channel = Channel.objects.get(code="war-room")
    assert channel.secret.startswith("whsec_")
    event = AuditEvent.objects.get(action=AuditAction.NOTIFY_CHANNEL_CREATED)
    assert event.actor_id == admin_user.pk
    assert event.data["host"] == "127.0.0.1"
    assert channel.secret not in str(event.data) and receiver.url not in str(event.data)


def test_the_admin_refuses_a_webhook_without_an_address(admin_user):
    response = signed_in(admin_user).post(
        reverse("admin:notify_channel_add"),
        {"code": "war-room", "name": "War room", "kind": "webhook", "url": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "a webhook needs the full http(s) address" in response.text
    assert not Channel.objects.exists()


def test_rotating_a_secret_and_sending_a_test_from_the_admin(
    admin_user, war_room, receiver, run_due, committed
):
    client = signed_in(admin_user)
    old_secret = war_room.secret
    client.post(
        reverse("admin:notify_channel_changelist"),
        {"action": "rotate_secret", "_selected_action": [war_room.pk]},
    )
    war_room.refresh_from_db()
    assert war_room.secret != old_secret
    with committed():
        client.post(
            reverse("admin:notify_channel_changelist"),
            {"action": "send_test", "_selected_action": [war_room.pk]},
        )
    run_due()
    assert receiver.requests[0].json["type"] == "test"
    assert {e.action for e in AuditEvent.objects.filter(action__startswith="notify.channel")} >= {
        AuditAction.NOTIFY_CHANNEL_SECRET_ROTATED
    }
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFY_TEST_QUEUED).exists()


def test_the_timeline_reads_the_policy_events_as_sentences(
    escalate, run_due, war_room, receiver, analyst
):
    from watchfloor.notify.acknowledgement import acknowledge_escalation
    from watchfloor.notify.timeline import DESCRIBERS

    receiver.script = [500]
    escalation = escalate(0)
    run_due()
    acknowledge_escalation(escalation=escalation, actor=analyst)
    lines = {
        event.action: DESCRIBERS[event.action](event.data)
        for event in AuditEvent.objects.filter(
            escalation_id=escalation.pk, action__startswith="notify."
        )
    }
    assert lines[AuditAction.NOTIFY_POLICY_STARTED][0] == "Crisis for SEV0"
    summary, body = lines[AuditAction.NOTIFY_STAGE_REACHED]
    assert summary == "stage 1 of 2: Crisis lead on call"
    assert "mei.lead: pending" in body and "war-room" in body
    assert lines[AuditAction.NOTIFY_DELIVERY_RETRYING][1].startswith("HTTP 500")
    assert "receiver says no" not in lines[AuditAction.NOTIFY_DELIVERY_RETRYING][1]
    assert (
        lines[AuditAction.NOTIFY_ACKNOWLEDGED][0]
        == "with the Acknowledge button, 0.0 min after the policy started"
    )
