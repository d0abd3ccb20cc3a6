"""Webhooks against a real HTTP server on 127.0.0.1: signed as documented, retried with
backoff when the receiver fails or hangs, every attempt recorded, nothing lost."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, timedelta

import pytest

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.notify.backoff import retry_delay
from watchfloor.notify.channels import save_channel
from watchfloor.notify.models import AttemptOutcome, Channel, Notification, NotificationStatus
from watchfloor.notify.signing import SignatureError, verify_signature

pytestmark = pytest.mark.usefixtures("frozen_clock", "team")


def receiver_verifies(secret: str, request) -> bool:
    """What a receiver does, written from docs/notifications.md alone."""
    header = request.headers["X-Watchfloor-Signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def war_room_notification(escalation) -> Notification:
    return Notification.objects.get(escalation=escalation, channel__code="war-room")


def test_each_request_is_signed_over_its_timestamp_and_exact_body(
    escalate, run_due, war_room, receiver
):
    escalate(0)
    run_due()
    request = receiver.requests[0]
    assert receiver_verifies(war_room.secret, request)
    assert not receiver_verifies("whsec_someone-else", request)
    t = int(request.headers["X-Watchfloor-Signature"].split(",")[0][2:])
    assert t == int(clock.now().timestamp())
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"


def test_the_verify_helper_refuses_tampering_replays_and_missing_headers(
    escalate, run_due, war_room, receiver
):
    escalate(0)
    run_due()
    request = receiver.requests[0]
    header, body = request.headers["X-Watchfloor-Signature"], request.body
    now = int(clock.now().timestamp())
    assert verify_signature(secret=war_room.secret, header=header, body=body, now=now) == now
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(secret=war_room.secret, header=header, body=body + b" ", now=now)
    with pytest.raises(SignatureError, match="replayed"):
        verify_signature(secret=war_room.secret, header=header, body=body, now=now + 301)
    with pytest.raises(SignatureError, match="no X-Watchfloor-Signature"):
        verify_signature(secret=war_room.secret, header=None, body=body, now=now)
    with pytest.raises(SignatureError, match="needs both"):
        verify_signature(secret=war_room.secret, header="v1=abc", body=body, now=now)


def test_the_generic_payload_carries_what_a_receiver_needs(escalate, run_due, war_room, receiver):
    escalation = escalate(0, markets=["JP"])
    run_due()
    payload = receiver.requests[0].json
    notification = war_room_notification(escalation)
    assert payload["id"] == notification.pk and payload["attempt"] == 1
    assert payload["type"] == "escalation.notification" and payload["event"] == "created"
    assert payload["escalation"]["reference"] == escalation.reference
    assert payload["escalation"]["url"] == f"https://watchfloor.test/escalations/{escalation.pk}/"
    assert payload["escalation"]["severity"] == "SEV0"
    assert payload["escalation"]["title"] == escalation.title
    assert payload["escalation"]["markets"] == ["JP"]
    assert payload["escalation"]["next_deadline"]["label"] == "Acknowledge"
    assert payload["policy"] == {
        "rule": "crisis",
        "name": "Crisis",
        "stage": 1,
        "stages": 2,
        "next_stage_at": (clock.now() + timedelta(minutes=10)).astimezone(UTC).isoformat(),
    }
    assert receiver.requests[0].headers["X-Watchfloor-Notification"] == str(notification.pk)


def test_a_restricted_escalation_sends_channels_no_details(
    escalate, run_due, war_room, receiver, analyst
):
    escalate(0, is_restricted=True, title="Named victim in leaked images")
    run_due()
    body = receiver.requests[0].body.decode()
    assert "Named victim" not in body
    escalation = receiver.requests[0].json["escalation"]
    assert escalation["restricted"] is True
    assert "title" not in escalation and "markets" not in escalation


def test_a_slack_channel_gets_text_and_blocks_with_reported_content_escaped(
    escalate, run_due, receiver, write_policy
):
    save_channel(
        channel=Channel(
            code="slack-apac", name="#apac-escalations", kind="slack", url=receiver.url
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
              - notify: [{channel: slack-apac}]
        """
    )
    escalate(0, title="<!channel> & <https://evil.example|click>")
    run_due()
    payload = receiver.requests[0].json
    assert set(payload) == {"text", "blocks"}
    assert [block["type"] for block in payload["blocks"]] == [
        "header",
        "section",
        "context",
        "actions",
    ]
    section = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in section
    assert "<!channel>" not in json.dumps(payload["blocks"][1])
    assert payload["blocks"][3]["elements"][0]["url"].startswith("https://watchfloor.test/")


def test_a_500_is_retried_after_a_backoff_and_then_delivered(escalate, run_due, war_room, receiver):
    receiver.script = [500, 200]
    escalation = escalate(0)
    run_due()
    notification = war_room_notification(escalation)
    assert notification.status == NotificationStatus.RETRYING
    first = notification.attempts.get()
    assert (first.outcome, first.status_code) == (AttemptOutcome.FAILED, 500)
    assert first.error == "HTTP 500"
    assert first.response_excerpt == "receiver says no"
    # Attempt 1 failed: wait between half and all of the 30 s base, jittered.
    wait = first.next_retry_at - first.finished_at
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)
    assert notification.next_attempt_at == first.next_retry_at

    run_due()
    assert len(receiver.requests) == 1, "not retried before its time"
    clock.advance(timedelta(seconds=31))
    run_due()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    assert [(a.number, a.outcome, a.status_code) for a in notification.attempts.all()] == [
        (1, "failed", 500),
        (2, "delivered", 200),
    ]
    # The same notification id both times, so the receiver can drop a duplicate.
    assert [r.json["id"] for r in receiver.requests] == [notification.pk] * 2
    assert [r.json["attempt"] for r in receiver.requests] == [1, 2]
    assert all(receiver_verifies(war_room.secret, r) for r in receiver.requests)
    attempts_audited = AuditEvent.objects.filter(
        object_type="notify.notification", object_id=str(notification.pk)
    ).order_by("sequence")
    assert list(attempts_audited.values_list("action", flat=True)) == [
        AuditAction.NOTIFY_DELIVERY_RETRYING,
        AuditAction.NOTIFY_DELIVERED,
    ]
    assert {event.escalation_id for event in attempts_audited} == {escalation.pk}


def test_a_receiver_that_hangs_times_out_and_is_retried(
    escalate, run_due, war_room, receiver, settings
):
    settings.WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.script = ["hang", 200]
    escalation = escalate(0)
    run_due()
    notification = war_room_notification(escalation)
    first = notification.attempts.get()
    assert first.outcome == AttemptOutcome.TIMEOUT
    assert first.error.startswith("no answer within 0.3 s")
    assert first.status_code is None and 250 <= first.duration_ms < 1000
    clock.advance(timedelta(minutes=1))
    run_due()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED


def test_after_the_last_attempt_it_gives_up_visibly_and_can_be_retried_by_hand(
    escalate, run_due, war_room, receiver, lead, committed
):
    from watchfloor.notify.delivery import retry_notification

    war_room.max_attempts = 3
    war_room.save(update_fields=["max_attempts"])
    receiver.script = [503, 503, 503]
    escalation = escalate(0)
    for _ in range(3):
        run_due()
        clock.advance(timedelta(minutes=5))
    notification = war_room_notification(escalation)
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempt_count == 3 and notification.last_error.startswith("HTTP 503")
    assert [a.next_retry_at is None for a in notification.attempts.all()] == [False, False, True]
    gave_up = AuditEvent.objects.get(action=AuditAction.NOTIFY_DELIVERY_FAILED)
    assert gave_up.escalation_id == escalation.pk
    assert gave_up.data["attempt"] == 3 and gave_up.data["status_code"] == 503

    with committed():
        retry_notification(notification=notification, actor=lead)
    run_due()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    assert notification.attempt_count == 4
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFY_RETRY_REQUESTED).exists()


def test_a_client_error_is_not_retried(escalate, run_due, war_room, receiver):
    receiver.script = [404]
    escalation = escalate(0)
    run_due()
    notification = war_room_notification(escalation)
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempts.get().outcome == AttemptOutcome.REJECTED


def test_rate_limiting_is_retried_no_sooner_than_retry_after(escalate, run_due, war_room, receiver):
    receiver.script = [429]
    escalation = escalate(0)
    run_due()
    attempt = war_room_notification(escalation).attempts.get()
    assert attempt.next_retry_at - attempt.finished_at >= timedelta(seconds=120)


def test_a_receiver_that_is_down_is_retried(escalate, run_due, war_room, committed):
    war_room.url = "http://127.0.0.1:9/nothing-listens-here"
    war_room.save(update_fields=["url"])
    escalation = escalate(0)
    run_due()
    notification = war_room_notification(escalation)
    assert notification.status == NotificationStatus.RETRYING
    assert notification.attempts.get().error.startswith("ConnectError")


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    base, cap = timedelta(seconds=30), timedelta(minutes=10)
    low = [retry_delay(n, base=base, cap=cap, draw=lambda a, b: a) for n in range(1, 8)]
    high = [retry_delay(n, base=base, cap=cap, draw=lambda a, b: b) for n in range(1, 8)]
    assert [d.total_seconds() for d in high] == [30, 60, 120, 240, 480, 600, 600]
    assert [d.total_seconds() for d in low] == [15, 30, 60, 120, 240, 300, 300]
    assert retry_delay(1, base=base, cap=cap, retry_after_seconds=90).total_seconds() >= 90
    assert retry_delay(1, base=base, cap=cap, retry_after_seconds=10_000) <= cap
    assert retry_delay(80, base=base, cap=cap) <= cap
