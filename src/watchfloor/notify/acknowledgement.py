"""Acknowledging an escalation stops its policy before the next stage: in the pages, or
through the signed one-time link a notification carries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core import signing
from django.db import transaction

from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import meet_acknowledge_clock
from watchfloor.escalations.models import Escalation
from watchfloor.notify import content
from watchfloor.notify.models import Engagement, EngagementStatus, Notification
from watchfloor.notify.permissions import may_acknowledge
from watchfloor.notify.services import record_acknowledgement
from watchfloor.notify.stage_notifications import ACK_SALT, hash_nonce, person_zone

if TYPE_CHECKING:
    from watchfloor.people.models import User

INVALID_LINK = (
    "This acknowledgement link is not valid. Open the escalation in Watchfloor and "
    "acknowledge it there."
)


@transaction.atomic
def acknowledge_escalation(*, escalation: Escalation, actor: User) -> Engagement:
    """Acknowledge in the UI: the running policy stops before its next stage."""
    engagement = (
        Engagement.objects.select_for_update()
        .filter(escalation=escalation, status=EngagementStatus.ACTIVE)
        .first()
    )
    if engagement is None:
        latest = (
            Engagement.objects.select_related("acknowledged_by")
            .filter(escalation=escalation)
            .first()
        )
        if latest is not None and latest.status == EngagementStatus.ACKNOWLEDGED:
            who = latest.acknowledged_by.display_name if latest.acknowledged_by else "someone"
            raise Conflict(
                f"already acknowledged by {who}", field="acknowledge", code="already_acknowledged"
            )
        raise Conflict(
            "nothing to acknowledge: no escalation policy is waiting on this escalation",
            field="acknowledge",
        )
    _require(
        may_acknowledge(actor=actor, engagement=engagement),
        "only people who work escalations, or who were notified about this one, may acknowledge it",
    )
    meet_acknowledge_clock(escalation=escalation, actor=actor)
    return record_acknowledgement(engagement, actor=actor, via="ui", notification=None)


@dataclass(frozen=True)
class AckLink:
    """What an acknowledgement link refers to, before anything is done with it."""

    notification: Notification
    state: str  # valid | expired | used | settled
    message: str

    @property
    def usable(self) -> bool:
        return self.state == "valid"


def _notification_for_token(token: str, *, lock: bool) -> Notification:
    try:
        value = signing.Signer(salt=ACK_SALT).unsign(token)
        notification_id, nonce = value.split(".", 1)
        pk = int(notification_id)
    except (signing.BadSignature, ValueError):
        raise NotFound(INVALID_LINK, field="token", code="invalid_link") from None
    notifications = Notification.objects.filter(recipient__is_active=True)
    if lock:
        notifications = notifications.select_for_update(of=("self",))
    notification = notifications.filter(pk=pk).first()
    if (
        notification is None
        or notification.engagement_id is None
        or not notification.ack_nonce_hash
        or not secrets.compare_digest(notification.ack_nonce_hash, hash_nonce(nonce))
    ):
        raise NotFound(INVALID_LINK, field="token", code="invalid_link")
    return notification


def _describe_link(notification: Notification, engagement: Engagement) -> AckLink:
    zone = person_zone(
        notification.recipient.time_zone if notification.recipient is not None else "UTC"
    )
    if notification.ack_used_at is not None:
        return AckLink(
            notification,
            "used",
            "This link was already used, at "
            f"{content.format_time(notification.ack_used_at, zone)}.",
        )
    if engagement.status == EngagementStatus.ACKNOWLEDGED:
        assert engagement.acknowledged_at is not None, "an acknowledged engagement has its time"
        who = engagement.acknowledged_by.display_name if engagement.acknowledged_by else "someone"
        return AckLink(
            notification,
            "settled",
            f"Already acknowledged by {who} at "
            f"{content.format_time(engagement.acknowledged_at, zone)}. Nothing more to do.",
        )
    if engagement.status == EngagementStatus.ENDED:
        return AckLink(
            notification,
            "settled",
            f"No acknowledgement is needed any more: {engagement.end_reason}.",
        )
    if notification.ack_expires_at is None or clock.now() >= notification.ack_expires_at:
        expired = (
            content.format_time(notification.ack_expires_at, zone)
            if notification.ack_expires_at
            else "its creation"
        )
        return AckLink(
            notification,
            "expired",
            f"This link expired at {expired}. Sign in and acknowledge on the escalation page.",
        )
    return AckLink(notification, "valid", "")


def inspect_ack_link(token: str) -> AckLink:
    """Read-only: what the link would do. Raises NotFound for a forged or unknown link."""
    notification = _notification_for_token(token, lock=False)
    assert notification.engagement_id is not None, "_notification_for_token refuses others"
    engagement = Engagement.objects.select_related("acknowledged_by", "escalation").get(
        pk=notification.engagement_id
    )
    return _describe_link(notification, engagement)


@transaction.atomic
def acknowledge_by_link(*, token: str) -> Engagement:
    """Acknowledge as the person the link was sent to; the link then cannot be used again.

    Raises NotFound for a forged or unknown link, Conflict (``link_used``,
    ``link_expired``, ``link_settled``) when it can no longer be used.
    """
    notification = _notification_for_token(token, lock=True)
    assert notification.engagement_id is not None, "_notification_for_token refuses others"
    engagement = Engagement.objects.select_for_update().get(pk=notification.engagement_id)
    link = _describe_link(notification, engagement)
    if not link.usable:
        raise Conflict(link.message, field="token", code=f"link_{link.state}")
    notification.ack_used_at = clock.now()
    notification.save(update_fields=["ack_used_at"])
    meet_acknowledge_clock(escalation=engagement.escalation, actor=notification.recipient)
    return record_acknowledgement(
        engagement, actor=notification.recipient, via="link", notification=notification
    )
