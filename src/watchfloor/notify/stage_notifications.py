"""The notifications one stage of an escalation policy writes: one per person it reaches
(held for their quiet hours unless the severity overrides them, with a signed one-time
acknowledge link) and one per channel, each rendered for what its reader may see.

:func:`watchfloor.notify.services.reach_stage` decides when a stage runs and records it;
this module builds what the stage sends. Delivery is :mod:`watchfloor.notify.delivery`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core import signing

from watchfloor.core import clock
from watchfloor.escalations.clocks import business_time_zone
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.notify import conf, content
from watchfloor.notify.direct import failed_without_address
from watchfloor.notify.models import (
    Channel,
    ChannelKind,
    Engagement,
    Notification,
    NotificationPreference,
    NotificationStatus,
)
from watchfloor.notify.policy import Target, severity_level
from watchfloor.notify.quiet_hours import QuietHours
from watchfloor.severity.rubric import parse_iso_duration

if TYPE_CHECKING:
    from watchfloor.people.models import User

ACK_SALT = "watchfloor.notify.acknowledge"


def is_drill(escalation: Escalation) -> bool:
    """Drills rehearse the chase without reaching anyone: an escalation opened by a crisis
    drill says so (``is_drill``)."""
    return escalation.is_drill


def _base_notification(
    *, engagement: Engagement, index: int, target: Target, reason: str, **fields: Any
) -> Notification:
    now = clock.now()
    fields.setdefault("next_attempt_at", now)
    return Notification(
        engagement=engagement,
        escalation=engagement.escalation,
        stage=index,
        event=engagement.trigger,
        target=target.label[:200],
        reason=reason[:500],
        suppress_delivery=engagement.suppress_delivery,
        created_at=now,
        **fields,
    )


def unresolved_notification(
    *, engagement: Engagement, index: int, target: Target, problem: str
) -> Notification:
    now = clock.now()
    notification = _base_notification(
        engagement=engagement,
        index=index,
        target=target,
        reason="could not be resolved",
        status=NotificationStatus.FAILED,
        max_attempts=0,
        last_error=problem[:1000],
        finished_at=now,
        next_attempt_at=None,
    )
    notification.save()
    return notification


def quiet_hours_of(user: User) -> QuietHours | None:
    preference = NotificationPreference.objects.filter(user=user).first()
    if (
        preference is None
        or preference.quiet_hours_start is None
        or preference.quiet_hours_end is None  # both or neither (validate_quiet_hours)
    ):
        return None
    return QuietHours(
        start=preference.quiet_hours_start,
        end=preference.quiet_hours_end,
        zone=person_zone(user.time_zone),
    )


def person_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, OSError):  # a name the services would have refused; be safe
        return ZoneInfo("UTC")


def _overrides_quiet_hours(engagement: Engagement) -> bool:
    return engagement.severity <= severity_level(
        engagement.plan.get("override_quiet_hours_from", "SEV1")
    )


def _can_see(user: User, escalation: Escalation) -> bool:
    return escalations_visible_to(user).filter(pk=escalation.pk).exists()


def notification_to_person(
    *,
    engagement: Engagement,
    index: int,
    target: Target,
    user: User,
    reason: str,
    stage_facts: content.StageFacts,
) -> Notification:
    now = clock.now()
    notification = _base_notification(
        engagement=engagement,
        index=index,
        target=target,
        reason=reason,
        kind=ChannelKind.EMAIL,
        recipient=user,
        address=user.email,
        max_attempts=conf.max_attempts(),
    )
    if failed_without_address(notification, user, now=now):
        notification.save()
        return notification
    quiet = quiet_hours_of(user)
    if quiet is not None and quiet.is_quiet(now):
        if _overrides_quiet_hours(engagement):
            notification.reason = (
                f"{reason}; sent during quiet hours ({quiet.describe()}) because it is "
                f"SEV{engagement.severity}"
            )[:500]
        else:
            notification.status = NotificationStatus.DEFERRED
            notification.next_attempt_at = quiet.ends_after(now)
            notification.reason = f"{reason}; held for quiet hours ({quiet.describe()})"[:500]
    notification.save()
    lifetime = parse_iso_duration(engagement.plan.get("acknowledge_link_valid_for") or "PT12H")
    token = _issue_ack_token(
        notification, valid_from=notification.next_attempt_at or now, lifetime=lifetime
    )
    facts = content.MessageFacts(
        escalation=engagement.escalation,
        event=engagement.trigger,
        stage=stage_facts,
        reason=notification.reason,
        show_details=_can_see(user, engagement.escalation),
        drill=engagement.suppress_delivery and is_drill(engagement.escalation),
        zone=person_zone(user.time_zone),
        acknowledge_url=content.absolute_url(f"/notify/ack/{token}"),
        acknowledge_until=notification.ack_expires_at,
    )
    notification.subject, notification.body = content.render_email(facts)
    notification.save(
        update_fields=["subject", "body", "ack_nonce_hash", "ack_expires_at", "reason"]
    )
    return notification


def notification_to_channel(
    *,
    engagement: Engagement,
    index: int,
    target: Target,
    channel: Channel,
    reason: str,
    stage_facts: content.StageFacts,
) -> Notification:
    escalation = engagement.escalation
    notification = _base_notification(
        engagement=engagement,
        index=index,
        target=target,
        reason=reason,
        kind=channel.kind,
        channel=channel,
        address=channel.email_address if channel.kind == ChannelKind.EMAIL else "",
        max_attempts=channel.max_attempts or conf.max_attempts(),
    )
    facts = content.MessageFacts(
        escalation=escalation,
        event=engagement.trigger,
        stage=stage_facts,
        reason=reason,
        # A channel's members are not known: a restricted escalation shows no details.
        show_details=not escalation.is_restricted,
        drill=engagement.suppress_delivery and is_drill(escalation),
        zone=business_time_zone(escalation),
    )
    if channel.kind == ChannelKind.EMAIL:
        notification.subject, notification.body = content.render_email(facts)
    elif channel.kind == ChannelKind.SLACK:
        notification.payload = content.render_slack_payload(facts)
    else:
        notification.payload = content.render_webhook_payload(facts)
    notification.save()
    return notification


def hash_nonce(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _issue_ack_token(
    notification: Notification, *, valid_from: datetime, lifetime: timedelta
) -> str:
    nonce = secrets.token_urlsafe(18)
    notification.ack_nonce_hash = hash_nonce(nonce)
    notification.ack_expires_at = valid_from + lifetime
    return signing.Signer(salt=ACK_SALT).sign(f"{notification.pk}.{nonce}")
