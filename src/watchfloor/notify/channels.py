"""Delivery channels (email, webhooks) and each person's quiet hours: checked, saved and
audited, with a test message to prove a channel works."""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock, netpolicy
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.roles import is_admin
from watchfloor.core.validation import refuse_control_characters
from watchfloor.core.validation import require as _require
from watchfloor.notify import conf, content
from watchfloor.notify.models import Channel, ChannelKind, Notification, NotificationPreference
from watchfloor.notify.signing import new_secret
from watchfloor.notify.tasks import deliver_after_commit

if TYPE_CHECKING:
    from watchfloor.people.models import User


def validate_webhook_url(
    url: str,
    *,
    what: str = "a webhook",
    example: str = "https://hooks.example.com/watchfloor",
    carries: str = "the messages carry escalation details",
) -> str:
    """The one check of an address Watchfloor POSTs signed requests to (webhook channels,
    enforcement connectors): an absolute http(s) URL, https in production."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"{what} needs the full http(s) address it is POSTed to, e.g. {example}",
            field="url",
        )
    # Resolved and checked now, for a clear error, and again before every request.
    netpolicy.check_outbound_url(url, field="url")
    if getattr(settings, "PRODUCTION", False) and parts.scheme != "https":
        raise InvalidInput(f"in production, {what} must use https: {carries}", field="url")
    return url


def validate_channel(channel: Channel) -> None:
    """The checks every channel write makes; raises InvalidInput naming the field."""
    from watchfloor.notify.policy import CHANNEL_CODE

    if not CHANNEL_CODE.match(channel.code or ""):
        raise InvalidInput(
            f"'{channel.code}' is not a channel code: use lower-case letters, digits, hyphens "
            "and underscores (for example crisis-room)",
            field="code",
        )
    if not (channel.name or "").strip():
        raise InvalidInput("a channel needs a name people recognise", field="name")
    refuse_control_characters(channel.name, field="name")
    if channel.kind not in ChannelKind.values:
        raise InvalidInput(
            f"unknown kind '{channel.kind}'; use one of {', '.join(ChannelKind.values)}",
            field="kind",
        )
    if channel.kind == ChannelKind.EMAIL:
        if not channel.email_address:
            raise InvalidInput("an email channel needs an email address", field="email_address")
        if channel.url:
            raise InvalidInput("an email channel has no URL; clear it", field="url")
        return
    validate_webhook_url(channel.url)
    if channel.email_address:
        raise InvalidInput(
            "a webhook channel has no email address; clear it", field="email_address"
        )


@transaction.atomic
def save_channel(*, channel: Channel, actor: User | None, changed_fields: list[str]) -> Channel:
    """Create or change a channel (the admin's way in, and the API's when there is one).

    A webhook saved without a secret gets a new one. The audit event names the fields
    that changed, never the secret or a URL (a Slack webhook URL is itself a credential).
    """
    if actor is not None:
        _require(is_admin(actor), "only administrators may set up notification channels")
    validate_channel(channel)
    now = clock.now()
    is_new = channel.pk is None
    if channel.is_webhook and not channel.secret:
        channel.secret = new_secret()
    if not channel.is_webhook:
        channel.secret = ""
    if is_new:
        channel.created_at = now
    channel.updated_at = now
    channel.save()
    record_event(
        action=AuditAction.NOTIFY_CHANNEL_CREATED if is_new else AuditAction.NOTIFY_CHANNEL_CHANGED,
        actor=actor,
        target=channel,
        data={
            "code": channel.code,
            "kind": channel.kind,
            "active": channel.is_active,
            "host": urlsplit(channel.url).hostname if channel.url else None,
            "changed": sorted(changed_fields),
        },
    )
    return channel


@transaction.atomic
def rotate_channel_secret(*, channel: Channel, actor: User) -> Channel:
    _require(is_admin(actor), "only administrators may rotate webhook secrets")
    if not channel.is_webhook:
        raise InvalidInput("only webhook channels have a signing secret", field="kind")
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    channel.secret = new_secret()
    channel.updated_at = clock.now()
    channel.save(update_fields=["secret", "updated_at"])
    record_event(
        action=AuditAction.NOTIFY_CHANNEL_SECRET_ROTATED,
        actor=actor,
        target=channel,
        data={"code": channel.code},
    )
    return channel


@transaction.atomic
def send_test_message(*, channel: Channel, actor: User) -> Notification:
    """Queue a harmless message to ``channel`` so an administrator can see it arrive."""
    _require(is_admin(actor), "only administrators may send test messages")
    if not channel.is_active:
        raise Conflict("the channel is switched off; switch it on first", field="is_active")
    now = clock.now()
    payload = content.render_test_message(
        channel_name=channel.name, kind=channel.kind, actor_label=actor.get_username()
    )
    notification = Notification.objects.create(
        target=f"channel: {channel.code}",
        reason=f"test requested by {actor.get_username()}",
        event="test",
        kind=channel.kind,
        channel=channel,
        address=channel.email_address,
        subject="Watchfloor test message" if channel.kind == ChannelKind.EMAIL else "",
        body=payload["text"] + "\n" if channel.kind == ChannelKind.EMAIL else "",
        payload={} if channel.kind == ChannelKind.EMAIL else payload,
        suppress_delivery=conf.suppress_all_delivery(),
        max_attempts=channel.max_attempts or conf.max_attempts(),
        created_at=now,
        next_attempt_at=now,
    )
    record_event(
        action=AuditAction.NOTIFY_TEST_QUEUED,
        actor=actor,
        target=notification,
        data={"channel": channel.code},
    )
    deliver_after_commit(notification.pk)
    return notification


def _describe_quiet(start: time | None, end: time | None) -> str | None:
    return f"{start:%H:%M}–{end:%H:%M}" if start is not None and end is not None else None


def validate_quiet_hours(start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise InvalidInput(
            "give both the start and the end of the quiet hours, or neither",
            field="quiet_hours_end" if end is None else "quiet_hours_start",
        )
    if (
        start is not None
        and end is not None
        and start.replace(second=0, microsecond=0) == end.replace(second=0, microsecond=0)
    ):
        raise InvalidInput(
            "quiet hours that start and end at the same time cover nothing (or everything); "
            "pick two different times",
            field="quiet_hours_end",
        )


@transaction.atomic
def set_quiet_hours(
    *, user: User, start: time | None, end: time | None, actor: User
) -> NotificationPreference:
    """Set (or, with both empty, clear) ``user``'s quiet hours, read in their time zone."""
    _require(
        actor.pk == user.pk or is_admin(actor),
        "you may change only your own quiet hours",
    )
    validate_quiet_hours(start, end)
    start = start.replace(second=0, microsecond=0) if start else None
    end = end.replace(second=0, microsecond=0) if end else None
    preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
    before = (
        _describe_quiet(preference.quiet_hours_start, preference.quiet_hours_end)
        if preference
        else None
    )
    if preference is None:
        preference = NotificationPreference(user=user)
    preference.quiet_hours_start = start
    preference.quiet_hours_end = end
    preference.updated_at = clock.now()
    preference.save()
    record_event(
        action=AuditAction.NOTIFY_PREFERENCES_CHANGED,
        actor=actor,
        target=preference,
        data={
            "user": user.username,
            "from": before,
            "to": _describe_quiet(start, end),
            "time_zone": user.time_zone,
        },
    )
    return preference
