"""What people receive by email, and who receives it; quiet hours; drills."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.notify.acknowledgement import acknowledge_escalation
from watchfloor.notify.channels import set_quiet_hours
from watchfloor.notify.models import (
    AttemptOutcome,
    Engagement,
    Notification,
    NotificationStatus,
)
from watchfloor.notify.quiet_hours import QuietHours

pytestmark = pytest.mark.usefixtures("frozen_clock", "team")


def message_to(address: str):
    (message,) = [m for m in mail.outbox if address in m.to]
    return message


def test_the_crisis_lead_gets_what_to_do_by_when_in_their_own_time(escalate, run_due, team):
    escalation = escalate(0, markets=["JP"], title="Livestreamed attack at Shibuya crossing")
    run_due()
    message = message_to("mei.lead@watchfloor.test")
    assert message.to == ["mei.lead@watchfloor.test"]
    assert message.subject == (
        f"[SEV0] {escalation.reference} · Livestreamed attack at Shibuya crossing "
        "— please acknowledge"
    )
    body = message.body
    assert f"{escalation.reference} was filed: SEV0 (Crisis)." in body
    assert "Type: Scam campaign · Markets: JP" in body
    # Deadlines and the next stage in the lead's zone (Singapore, UTC+8): the clock is at
    # 00:30 UTC, so acknowledge by 00:45 UTC is 08:45 there, and stage 2 comes at 08:40.
    assert "Next deadline: Acknowledge, due Tue 24 Nov 2026 08:45 UTC+08" in body
    assert (
        "If nobody acknowledges by Tue 24 Nov 2026 08:40 UTC+08, "
        "the policy notifies: user: apac.head."
    ) in body
    assert (
        "Why you: no on-call rota is available yet, so every active lead of Site Policy "
        "(Safety & Cybercrime) is told"
    ) in body
    assert "Escalation policy 'Crisis', stage 1 of 2 (Crisis lead on call)." in body
    assert "https://watchfloor.test/notify/ack/" in body
    assert f"https://watchfloor.test/escalations/{escalation.pk}/" in body
    assert message.extra_headers["X-Watchfloor-Notification"].isdigit()


def test_people_who_may_not_see_a_restricted_escalation_get_no_details(
    escalate, run_due, analyst, regional_head
):
    escalate(0, is_restricted=True, title="Named minor in leaked images")
    run_due()
    message = message_to("mei.lead@watchfloor.test")  # not on the access list
    assert "Named minor" not in message.subject and "Named minor" not in message.body
    assert "restricted escalation" in message.subject
    assert "The details are restricted" in message.body


def test_a_person_without_an_email_address_is_a_visible_failure(escalate, analyst):
    escalation = escalate(2)  # on call: the whole team, including the analyst who filed it
    failed = Notification.objects.get(escalation=escalation, recipient=analyst)
    assert failed.status == NotificationStatus.FAILED
    assert failed.last_error == "aiko.analyst has no email address on their account"


def test_an_email_list_channel_is_sent_in_the_markets_time(escalate, run_due, write_policy):
    from watchfloor.notify.channels import save_channel
    from watchfloor.notify.models import Channel

    save_channel(
        channel=Channel(
            code="legal-desk",
            name="Legal desk",
            kind="email",
            email_address="legal@watchfloor.test",
        ),
        actor=None,
        changed_fields=[],
    )
    write_policy(
        """
        version: "t"
        rules:
          - code: crisis
            name: Crisis
            when: {severities: [SEV0]}
            stages:
              - notify: [{channel: legal-desk}]
        """
    )
    escalate(0, markets=["JP"])
    run_due()
    message = message_to("legal@watchfloor.test")
    assert "09:45 JST" in message.body  # Tokyo, the primary market


# ---------------------------------------------------------------- quiet hours


@pytest.fixture
def quiet_lead(crisis_lead):
    # Quiet 22:00–07:00 in Singapore.
    set_quiet_hours(user=crisis_lead, start=time(22), end=time(7), actor=crisis_lead)
    return crisis_lead


def test_quiet_hours_hold_a_sev2_email_until_they_end(quiet_lead, escalate, run_due):
    clock.freeze(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))  # 23:30 in Singapore
    escalation = escalate(2)
    notification = Notification.objects.get(escalation=escalation, recipient=quiet_lead)
    assert notification.status == NotificationStatus.DEFERRED
    assert notification.next_attempt_at == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 07:00 SGT
    assert notification.reason.endswith("held for quiet hours (22:00–07:00 Asia/Singapore)")
    stage = AuditEvent.objects.get(action=AuditAction.NOTIFY_STAGE_REACHED)
    held = [n for n in stage.data["notifications"] if n["to"] == "mei.lead"]
    assert held[0]["status"] == "deferred"

    run_due()
    assert "mei.lead@watchfloor.test" not in [a for m in mail.outbox for a in m.to]
    clock.freeze(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    run_due()
    assert message_to("mei.lead@watchfloor.test")
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED


def test_sev0_goes_through_quiet_hours_and_says_so(quiet_lead, escalate, run_due):
    clock.freeze(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    escalation = escalate(0)
    notification = Notification.objects.get(escalation=escalation, recipient=quiet_lead)
    assert notification.status == NotificationStatus.PENDING
    assert "sent during quiet hours (22:00–07:00 Asia/Singapore) because it is SEV0" in (
        notification.reason
    )
    run_due()
    assert message_to("mei.lead@watchfloor.test")


def test_outside_quiet_hours_nothing_waits(quiet_lead, escalate):
    escalation = escalate(2)  # 08:30 in Singapore
    notification = Notification.objects.get(escalation=escalation, recipient=quiet_lead)
    assert notification.status == NotificationStatus.PENDING


def test_an_acknowledged_escalation_cancels_mail_still_held_for_quiet_hours(
    quiet_lead, escalate, analyst
):
    clock.freeze(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))
    escalation = escalate(2)
    acknowledge_escalation(escalation=escalation, actor=analyst)
    held = Notification.objects.get(escalation=escalation, recipient=quiet_lead)
    assert held.status == NotificationStatus.CANCELLED
    assert held.last_error == "not sent: acknowledged by aiko.analyst first"


@pytest.mark.parametrize(
    ("local", "quiet", "ends"),
    [
        ("23:30", True, "2026-11-25 07:00"),
        ("03:00", True, "2026-11-24 07:00"),
        ("07:00", False, None),
        ("21:59", False, None),
    ],
)
def test_quiet_hours_wrap_midnight(local, quiet, ends):
    zone = ZoneInfo("Asia/Singapore")
    period = QuietHours(start=time(22), end=time(7), zone=zone)
    moment = datetime.fromisoformat(f"2026-11-24 {local}").replace(tzinfo=zone)
    assert period.is_quiet(moment) is quiet
    expected = datetime.fromisoformat(ends).replace(tzinfo=zone) if ends else moment
    assert period.ends_after(moment) == expected


def test_quiet_hours_end_on_the_wall_clock_across_daylight_saving():
    # Sydney moves to summer time at 02:00 on 4 October 2026: 07:00 is then UTC+11.
    zone = ZoneInfo("Australia/Sydney")
    period = QuietHours(start=time(22), end=time(7), zone=zone)
    moment = datetime(2026, 10, 3, 23, 0, tzinfo=zone)
    assert period.ends_after(moment) == datetime(2026, 10, 3, 20, 0, tzinfo=UTC)


def test_quiet_hours_need_both_times_and_two_different_ones(crisis_lead, lead):
    from watchfloor.core.errors import InvalidInput, PermissionDenied

    with pytest.raises(InvalidInput, match="both the start and the end"):
        set_quiet_hours(user=crisis_lead, start=time(22), end=None, actor=crisis_lead)
    with pytest.raises(InvalidInput, match="same time"):
        set_quiet_hours(user=crisis_lead, start=time(22), end=time(22), actor=crisis_lead)
    with pytest.raises(PermissionDenied):
        set_quiet_hours(user=crisis_lead, start=time(22), end=time(7), actor=lead)
    set_quiet_hours(user=crisis_lead, start=None, end=None, actor=crisis_lead)  # clearing is fine
    event = AuditEvent.objects.get(action=AuditAction.NOTIFY_PREFERENCES_CHANGED)
    assert event.data == {
        "user": "mei.lead",
        "from": None,
        "to": None,
        "time_zone": "Asia/Singapore",
    }


# ---------------------------------------------------------------- drills


def test_a_drill_runs_the_whole_chase_but_reaches_nobody(escalate, run_due, war_room, receiver):
    escalation = escalate(0, drill=True)
    engagement = Engagement.objects.get(escalation=escalation)
    assert engagement.suppress_delivery
    run_due()
    clock.advance(timedelta(minutes=10))
    run_due()
    assert mail.outbox == [] and receiver.requests == []
    notifications = Notification.objects.filter(escalation=escalation).exclude(status="failed")
    assert {n.status for n in notifications} == {NotificationStatus.SUPPRESSED}
    assert {n.attempts.get().outcome for n in notifications} == {AttemptOutcome.DELIVERY_SUPPRESSED}
    assert notifications.filter(stage=1).exists(), "the timer still escalated to stage 2"
    lead_copy = notifications.get(recipient__username="mei.lead")
    assert lead_copy.subject.startswith("[DRILL] [SEV0]")
    assert lead_copy.body.startswith("THIS IS A DRILL.")
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFY_DELIVERY_SUPPRESSED).count() == 3


def test_the_installation_can_suppress_every_delivery(escalate, run_due, settings, war_room):
    settings.WATCHFLOOR_NOTIFY_SUPPRESS_ALL = True
    escalation = escalate(0)
    run_due()
    assert mail.outbox == []
    assert Notification.objects.filter(escalation=escalation, status="suppressed").count() == 2
