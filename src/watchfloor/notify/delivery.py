"""Delivering notifications: one attempt at a time, each one recorded and audited.

An attempt has three steps so that no network call happens inside a transaction:

1. under a row lock, check that the notification still wants sending and mark it
   ``sending`` (a second worker holding a duplicate task then finds nothing to do);
2. send, with a short timeout;
3. under the lock again, record the :class:`DeliveryAttempt` and decide: delivered,
   retry later (exponential backoff with jitter, enqueued after commit), or give up.

A worker that dies between 1 and 3 leaves the notification ``sending``;
:func:`resume_overdue_work` (run when a worker starts) records that attempt as
interrupted and tries again, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.notify import conf, transports
from watchfloor.notify.backoff import retry_delay
from watchfloor.notify.models import (
    OUTSTANDING_STATUSES,
    AttemptOutcome,
    ChannelKind,
    DeliveryAttempt,
    Engagement,
    EngagementStatus,
    Notification,
    NotificationStatus,
)
from watchfloor.notify.permissions import may_manage_deliveries
from watchfloor.notify.tasks import deliver_after_commit, stage_after_commit

if TYPE_CHECKING:
    from watchfloor.people.models import User


@dataclass(frozen=True)
class _Prepared:
    """What step 2 needs, read while the row was locked."""

    notification_id: int
    number: int
    kind: str
    address: str
    url: str
    secret: str
    subject: str
    body: str
    payload: dict[str, Any]
    started_at: datetime


def _audit_attempt(
    notification: Notification, attempt: DeliveryAttempt, action: AuditAction
) -> None:
    record_event(
        action=action,
        actor=None,
        target=notification,
        escalation_id=notification.escalation_id,
        data={
            "notification": notification.pk,
            "to": notification.recipient.username
            if notification.recipient is not None
            else notification.target,
            "kind": notification.kind,
            "attempt": attempt.number,
            "of": notification.max_attempts,
            "outcome": attempt.outcome,
            "status_code": attempt.status_code,
            "error": attempt.error,
            "duration_ms": attempt.duration_ms,
            "next_retry_at": attempt.next_retry_at,
        },
    )


def attempt_delivery(*, notification_id: int) -> str:
    """Make one delivery attempt for the notification, if it still wants one."""
    prepared = _begin(notification_id)
    if isinstance(prepared, str):
        return prepared
    result = _send(prepared)
    return _finish(prepared, result)


def _begin(notification_id: int) -> _Prepared | str:
    now = clock.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("channel", "recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "no such notification"
        if notification.status not in OUTSTANDING_STATUSES:
            return f"nothing to do: {notification.get_status_display().lower()}"
        if notification.next_attempt_at is not None and notification.next_attempt_at > now:
            # Woken early (a duplicate task, or the application's clock is behind).
            deliver_after_commit(notification.pk, at=notification.next_attempt_at)
            return f"not due until {notification.next_attempt_at.isoformat()}"
        number = notification.attempt_count + 1
        if notification.suppress_delivery:
            attempt = DeliveryAttempt.objects.create(
                notification=notification,
                number=number,
                started_at=now,
                finished_at=now,
                outcome=AttemptOutcome.DELIVERY_SUPPRESSED,
                error="drill: recorded, not sent",
            )
            notification.attempt_count = number
            notification.status = NotificationStatus.SUPPRESSED
            notification.finished_at = now
            notification.next_attempt_at = None
            notification.save(
                update_fields=["attempt_count", "status", "finished_at", "next_attempt_at"]
            )
            _audit_attempt(notification, attempt, AuditAction.NOTIFY_DELIVERY_SUPPRESSED)
            return "delivery suppressed"
        channel = notification.channel
        if channel is not None and not channel.is_active:
            attempt = DeliveryAttempt.objects.create(
                notification=notification,
                number=number,
                started_at=now,
                finished_at=now,
                outcome=AttemptOutcome.REJECTED,
                error=f"the channel {channel.code} was switched off",
            )
            _give_up(notification, attempt, now=now)
            return "gave up: channel switched off"
        notification.status = NotificationStatus.SENDING
        notification.sending_since = now
        notification.attempt_count = number
        notification.save(update_fields=["status", "sending_since", "attempt_count"])
        return _Prepared(
            notification_id=notification.pk,
            number=number,
            kind=notification.kind,
            address=notification.address,
            url=channel.url if channel is not None else "",
            secret=channel.secret if channel is not None else "",
            subject=notification.subject,
            body=notification.body,
            payload=notification.payload,
            started_at=now,
        )


def _send(prepared: _Prepared) -> transports.SendResult:
    headers = {
        "X-Watchfloor-Notification": str(prepared.notification_id),
        "X-Watchfloor-Attempt": str(prepared.number),
    }
    if prepared.kind == ChannelKind.EMAIL:
        return transports.send_email(
            to=prepared.address, subject=prepared.subject, body=prepared.body, headers=headers
        )
    payload = prepared.payload
    if prepared.kind == ChannelKind.WEBHOOK:
        # The id lets a receiver drop a retry of something it already handled.
        payload = {
            "id": prepared.notification_id,
            "attempt": prepared.number,
            "sent_at": prepared.started_at.astimezone(UTC).isoformat(),
            **payload,
        }
    return transports.post_webhook(
        url=prepared.url,
        body=transports.encode_body(payload),
        secret=prepared.secret,
        timestamp=int(clock.now().timestamp()),
        headers=headers,
    )


def _finish(prepared: _Prepared, result: transports.SendResult) -> str:
    finished = clock.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .get(pk=prepared.notification_id)
        )
        attempt = DeliveryAttempt(
            notification=notification,
            number=prepared.number,
            started_at=prepared.started_at,
            finished_at=finished,
            duration_ms=result.duration_ms,
            outcome=result.outcome,
            status_code=result.status_code,
            error=result.error,
            response_excerpt=result.response_excerpt[:200],
        )
        if notification.status != NotificationStatus.SENDING:
            # Recovered as interrupted meanwhile; keep what really happened, change nothing.
            attempt.number = notification.attempts.count() + 1
            attempt.save()
            return f"late result recorded: {result.outcome}"
        notification.sending_since = None
        if result.delivered:
            attempt.save()
            notification.status = NotificationStatus.DELIVERED
            notification.delivered_at = finished
            notification.finished_at = finished
            notification.next_attempt_at = None
            notification.last_error = ""
            notification.save(
                update_fields=[
                    "status",
                    "delivered_at",
                    "finished_at",
                    "next_attempt_at",
                    "last_error",
                    "sending_since",
                ]
            )
            _audit_attempt(notification, attempt, AuditAction.NOTIFY_DELIVERED)
            return "delivered"
        if result.retryable and prepared.number < notification.max_attempts:
            attempt.next_retry_at = finished + retry_delay(
                prepared.number, retry_after_seconds=result.retry_after_seconds
            )
            attempt.save()
            _retry_later(notification, attempt)
            return f"retrying at {attempt.next_retry_at.isoformat()}"
        attempt.save()
        _give_up(notification, attempt, now=finished)
        return f"gave up: {result.error}"


def _retry_later(notification: Notification, attempt: DeliveryAttempt) -> None:
    notification.status = NotificationStatus.RETRYING
    notification.next_attempt_at = attempt.next_retry_at
    notification.last_error = attempt.error
    notification.sending_since = None
    notification.save(update_fields=["status", "next_attempt_at", "last_error", "sending_since"])
    _audit_attempt(notification, attempt, AuditAction.NOTIFY_DELIVERY_RETRYING)
    deliver_after_commit(notification.pk, at=attempt.next_retry_at)


def _give_up(notification: Notification, attempt: DeliveryAttempt, *, now: datetime) -> None:
    notification.status = NotificationStatus.FAILED
    notification.finished_at = now
    notification.next_attempt_at = None
    notification.last_error = attempt.error
    notification.sending_since = None
    notification.attempt_count = max(notification.attempt_count, attempt.number)
    notification.save(
        update_fields=[
            "status",
            "finished_at",
            "next_attempt_at",
            "last_error",
            "sending_since",
            "attempt_count",
        ]
    )
    _audit_attempt(notification, attempt, AuditAction.NOTIFY_DELIVERY_FAILED)


@transaction.atomic
def retry_notification(*, notification: Notification, actor: User) -> Notification:
    """Try a failed delivery again by hand (after fixing a channel, say): it gets a
    fresh set of attempts."""
    if not may_manage_deliveries(actor):
        raise PermissionDenied("only leads and administrators may retry deliveries")
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status != NotificationStatus.FAILED:
        raise Conflict(
            f"only failed deliveries can be retried; this one is "
            f"{notification.get_status_display().lower()}",
            field="notification",
        )
    if notification.recipient_id is None and notification.channel_id is None:
        raise Conflict(
            "this notification never had a recipient (its target could not be resolved); "
            "fix the policy or the account instead",
            field="notification",
        )
    now = clock.now()
    notification.status = NotificationStatus.PENDING
    notification.max_attempts = notification.attempt_count + conf.max_attempts()
    notification.next_attempt_at = now
    notification.finished_at = None
    notification.save(update_fields=["status", "max_attempts", "next_attempt_at", "finished_at"])
    record_event(
        action=AuditAction.NOTIFY_RETRY_REQUESTED,
        actor=actor,
        target=notification,
        escalation_id=notification.escalation_id,
        data={
            "notification": notification.pk,
            "previous_error": notification.last_error,
            "attempts_so_far": notification.attempt_count,
        },
    )
    deliver_after_commit(notification.pk)
    return notification


# ---------------------------------------------------------------- recovery


@dataclass
class ResumeReport:
    interrupted: list[int] = field(default_factory=list)
    deliveries_requeued: list[int] = field(default_factory=list)
    stages_requeued: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.interrupted)} interrupted deliveries resumed, "
            f"{len(self.deliveries_requeued)} overdue deliveries and "
            f"{len(self.stages_requeued)} overdue policy stages queued again"
        )


def resume_overdue_work() -> ResumeReport:
    """Make sure nothing waits forever: run when a worker starts.

    Deliveries cut off mid-send are recorded as interrupted and retried. Deliveries and
    policy stages well past due are enqueued again (their task row may have been lost
    or have failed); the tasks re-check everything under a lock, so a duplicate is
    harmless.
    """
    report = ResumeReport()
    now = clock.now()
    stale = Notification.objects.filter(
        status=NotificationStatus.SENDING, sending_since__lt=now - conf.SENDING_STALE_AFTER
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(of=("self",))
                .select_related("recipient")
                .get(pk=pk)
            )
            if notification.status != NotificationStatus.SENDING:
                continue
            attempt = DeliveryAttempt(
                notification=notification,
                number=notification.attempt_count,
                started_at=notification.sending_since or now,
                finished_at=now,
                outcome=AttemptOutcome.INTERRUPTED,
                error="the worker stopped during this attempt; whether it arrived is unknown",
            )
            if notification.attempt_count < notification.max_attempts:
                attempt.next_retry_at = now
                attempt.save()
                _retry_later(notification, attempt)
            else:
                attempt.save()
                _give_up(notification, attempt, now=now)
            report.interrupted.append(pk)
    overdue = now - conf.OVERDUE_GRACE
    for pk in Notification.objects.filter(
        status__in=OUTSTANDING_STATUSES, next_attempt_at__lt=overdue
    ).values_list("pk", flat=True):
        if pk not in report.interrupted:
            deliver_after_commit(pk)
            report.deliveries_requeued.append(pk)
    for pk, current in Engagement.objects.filter(
        status=EngagementStatus.ACTIVE, next_stage_at__lt=overdue
    ).values_list("pk", "current_stage"):
        stage_after_commit(pk, current + 1, at=now)
        report.stages_requeued.append(pk)
    return report
