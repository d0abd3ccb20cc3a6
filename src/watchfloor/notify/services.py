"""Every change to notifications is one named action here: checked, written and audited
(with the escalation's id when there is one) in one transaction, with deliveries and
timers enqueued only once that transaction commits.

The escalation services call :func:`notify_escalation_event` inside their own
transaction when an escalation is created, changes severity, is closed, reopened or
merged. That starts, replaces or stops the escalation policy's run (an
:class:`Engagement`): stage by stage, until somebody acknowledges.

Delivery itself (one attempt, retries, recovery) is in :mod:`watchfloor.notify.delivery`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock, netpolicy
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.roles import can_work_escalations, is_admin
from watchfloor.core.validation import refuse_control_characters
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import business_time_zone, meet_acknowledge_clock
from watchfloor.escalations.models import Escalation, Status
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.notify import conf, content
from watchfloor.notify.direct import failed_without_address
from watchfloor.notify.models import (
    OUTSTANDING_STATUSES,
    Channel,
    ChannelKind,
    Engagement,
    EngagementStatus,
    Notification,
    NotificationPreference,
    NotificationStatus,
)
from watchfloor.notify.policy import (
    LoadedPolicies,
    PolicyFileError,
    Rule,
    Stage,
    Target,
    current_policies,
    severity_level,
)
from watchfloor.notify.quiet_hours import QuietHours
from watchfloor.notify.recipients import resolve
from watchfloor.notify.signing import new_secret
from watchfloor.notify.tasks import deliver_after_commit, stage_after_commit
from watchfloor.severity.rubric import parse_iso_duration

if TYPE_CHECKING:
    from watchfloor.people.models import User

logger = logging.getLogger(__name__)

ACK_SALT = "watchfloor.notify.acknowledge"


class EscalationEvent(StrEnum):
    CREATED = "created"
    SEVERITY_CHANGED = "severity_changed"
    REOPENED = "reopened"
    # Somebody working the escalation triaged it, took ownership or acted on it.
    ACKNOWLEDGED = "acknowledged"
    DECIDED = "decided"
    ACTIONED = "actioned"
    CLOSED = "closed"
    MERGED = "merged"


_STOPPING = {
    EscalationEvent.DECIDED: "the escalation was decided",
    EscalationEvent.ACTIONED: "the escalation was actioned",
    EscalationEvent.CLOSED: "the escalation was closed",
    EscalationEvent.MERGED: "the escalation was merged into another",
}
# Once the work is decided or done, nobody is paged for it until it is reopened.
_NOT_PAGED_IN = frozenset({Status.DECIDED, Status.ACTIONED, Status.CLOSED})


def is_drill(escalation: Escalation) -> bool:
    """Drills rehearse the chase without reaching anyone: an escalation opened by a crisis
    drill says so (``is_drill``)."""
    return escalation.is_drill


# ---------------------------------------------------------------- escalation events


@transaction.atomic
def notify_escalation_event(
    *, escalation: Escalation, event: str, actor: User | None, how: str = ""
) -> Engagement | None:
    """Start, replace or stop the escalation policy for ``escalation`` after ``event``.

    - ``created``, ``reopened``: start the first matching rule, unless one is running.
    - ``severity_changed``: a running rule that still matches carries on; otherwise it
      stops and the matching rule starts. With nothing running, a new rule starts only
      if the escalation became more severe than when it was last acknowledged.
    - ``acknowledged``: somebody working it triaged it, took ownership or acted
      (``how``: status, ownership, decision); the running rule is acknowledged by them.
    - ``decided``, ``actioned``, ``closed``, ``merged``: stop the running rule;
      undelivered messages are cancelled. A decided or actioned escalation starts no
      new rule until it is reopened.

    Returns the engagement that is running afterwards, if any. Never raises for an
    unusable policy file (filing an escalation must not fail because of it): that is
    recorded on the escalation's timeline instead.
    """
    try:
        event = EscalationEvent(event)
    except ValueError:
        raise InvalidInput(
            f"unknown escalation event '{event}'; use one of "
            + ", ".join(e.value for e in EscalationEvent),
            field="event",
        ) from None
    active = (
        Engagement.objects.select_for_update()
        .filter(escalation=escalation, status="active")
        .first()
    )
    if event in _STOPPING:
        if active is not None:
            _end(active, reason=_STOPPING[event], actor=actor)
        return None
    if event == EscalationEvent.ACKNOWLEDGED:
        if active is not None:
            _acknowledge(active, actor=actor, via=how or "ui", notification=None)
        return None
    # The stored status, not the caller's copy of it: a copy read before the escalation
    # was decided must not page people about finished work.
    status = Escalation.objects.values_list("status", flat=True).get(pk=escalation.pk)
    if escalation.merged_into_id is not None or status in _NOT_PAGED_IN:
        return None

    try:
        loaded = current_policies()
    except PolicyFileError as error:
        logger.error("escalation policies unusable: %s", error.message)
        record_event(
            action=AuditAction.NOTIFY_POLICY_UNAVAILABLE,
            actor=actor,
            target=escalation,
            escalation_id=escalation.pk,
            data={"event": event, "problems": [str(p) for p in error.problems]},
        )
        return active
    rule = loaded.policies.rule_for(
        severity=escalation.severity,
        type_code=escalation.type.code,
        market_codes=[m.code for m in escalation.markets.all()],
    )

    if active is not None:
        if event != EscalationEvent.SEVERITY_CHANGED:
            return active  # already running
        if rule is not None and rule.code == active.rule_code:
            return active
        _end(
            active,
            reason=f"severity changed from SEV{active.severity} to SEV{escalation.severity}",
            actor=actor,
        )
    elif event == EscalationEvent.SEVERITY_CHANGED:
        latest = Engagement.objects.filter(escalation=escalation).first()
        if (
            latest is not None
            and latest.status == EngagementStatus.ACKNOWLEDGED
            and escalation.severity >= latest.severity
        ):
            return None  # somebody already took it at this severity or a graver one
    if rule is None:
        return None
    return _start(escalation=escalation, rule=rule, loaded=loaded, trigger=event, actor=actor)


def _start(
    *,
    escalation: Escalation,
    rule: Rule,
    loaded: LoadedPolicies,
    trigger: str,
    actor: User | None,
) -> Engagement:
    now = clock.now()
    suppress = is_drill(escalation) or conf.suppress_all_delivery()
    engagement = Engagement.objects.create(
        escalation=escalation,
        rule_code=rule.code,
        rule_name=rule.name,
        plan={
            **rule.model_dump(mode="json"),
            "override_quiet_hours_from": loaded.policies.override_quiet_hours_from,
            "acknowledge_link_valid_for": loaded.policies.acknowledge_link_valid_for,
        },
        policy_digest=loaded.digest,
        severity=escalation.severity,
        trigger=trigger,
        suppress_delivery=suppress,
        started_at=now,
        started_by=actor,
    )
    record_event(
        action=AuditAction.NOTIFY_POLICY_STARTED,
        actor=actor,
        target=engagement,
        escalation_id=escalation.pk,
        data={
            "rule": rule.code,
            "name": rule.name,
            "severity": f"SEV{escalation.severity}",
            "trigger": trigger,
            "policy_version": loaded.policies.version,
            "policy_digest": loaded.digest[:12],
            "stages": [
                {"after": s.after, "name": s.name, "notify": [t.label for t in s.notify]}
                for s in rule.stages
            ],
            "delivery_suppressed": suppress,
        },
    )
    _schedule_stage(engagement, 0, actor=actor)
    return engagement


def _stage(engagement: Engagement, index: int) -> Stage:
    return Stage.model_validate(engagement.stages[index])


def _stage_due(engagement: Engagement, index: int) -> datetime:
    return engagement.started_at + _stage(engagement, index).offset


def _schedule_stage(engagement: Engagement, index: int, *, actor: User | None) -> None:
    """Notify stage ``index`` now if it is due, else set its timer."""
    due = _stage_due(engagement, index)
    engagement.next_stage_at = due
    engagement.save(update_fields=["next_stage_at"])
    if due <= clock.now():
        _notify_stage(engagement, index, actor=actor)
    else:
        stage_after_commit(engagement.pk, index, at=due)


def reach_stage(*, engagement_id: int, stage: int) -> str:
    """The timer's work: notify ``stage`` if it is due and nobody has acknowledged."""
    with transaction.atomic():
        engagement = (
            Engagement.objects.select_for_update(of=("self",))
            .select_related("escalation")
            .filter(pk=engagement_id)
            .first()
        )
        if engagement is None:
            return "no such engagement"
        if engagement.status != EngagementStatus.ACTIVE:
            return f"nothing to do: {engagement.get_status_display().lower()}"
        if engagement.current_stage >= stage:
            return f"stage {stage + 1} was already notified"
        if stage >= len(engagement.stages):
            return "no such stage"
        due = _stage_due(engagement, stage)
        if clock.now() < due:
            # Woken early (the application's clock is behind the worker's): wait again.
            stage_after_commit(engagement.pk, stage, at=due)
            return f"not due until {due.isoformat()}"
        escalation = engagement.escalation
        if escalation.status == Status.CLOSED or escalation.merged_into_id is not None:
            _end(engagement, reason="the escalation is no longer open", actor=None)
            return "stopped: the escalation is no longer open"
        _notify_stage(engagement, stage, actor=None)
        return f"stage {stage + 1} notified"


def _notify_stage(engagement: Engagement, index: int, *, actor: User | None) -> None:
    escalation = engagement.escalation
    stage = _stage(engagement, index)
    stages_total = len(engagement.stages)
    now = clock.now()
    next_index = index + 1 if index + 1 < stages_total else None
    next_stage = _stage(engagement, next_index) if next_index is not None else None
    next_at = _stage_due(engagement, next_index) if next_index is not None else None
    facts = content.StageFacts(
        rule_code=engagement.rule_code,
        rule_name=engagement.rule_name,
        number=index + 1,
        total=stages_total,
        name=stage.name,
        next_stage_at=next_at,
        next_stage_targets=", ".join(t.label for t in next_stage.notify) if next_stage else "",
    )
    market = escalation.primary_market.code if escalation.primary_market_id else None
    created: list[Notification] = []
    seen_people: set[int] = set()
    for target in stage.notify:
        resolution = resolve(target, market=market, at=now)
        if resolution.problem:
            created.append(
                _unresolved(
                    engagement=engagement, index=index, target=target, problem=resolution.problem
                )
            )
        for person in resolution.people:
            if person.user.pk in seen_people:
                continue
            seen_people.add(person.user.pk)
            created.append(
                _to_person(
                    engagement=engagement,
                    index=index,
                    target=target,
                    user=person.user,
                    reason=person.reason,
                    stage_facts=facts,
                )
            )
        if resolution.channel is not None:
            created.append(
                _to_channel(
                    engagement=engagement,
                    index=index,
                    target=target,
                    channel=resolution.channel,
                    reason=resolution.channel_reason,
                    stage_facts=facts,
                )
            )
    engagement.current_stage = index
    engagement.next_stage_at = next_at
    engagement.save(update_fields=["current_stage", "next_stage_at"])
    record_event(
        action=AuditAction.NOTIFY_STAGE_REACHED,
        actor=actor,
        target=engagement,
        escalation_id=escalation.pk,
        data={
            "rule": engagement.rule_code,
            "stage": index + 1,
            "stages": stages_total,
            "name": stage.name,
            "notifications": [
                {
                    "id": n.pk,
                    "to": n.recipient.username if n.recipient_id else n.target,
                    "status": n.status,
                    "reason": n.reason,
                    **({"problem": n.last_error} if n.status == NotificationStatus.FAILED else {}),
                    **(
                        {"held_until": n.next_attempt_at}
                        if n.status == NotificationStatus.DEFERRED
                        else {}
                    ),
                }
                for n in created
            ],
            "next_stage_at": next_at,
            "delivery_suppressed": engagement.suppress_delivery,
        },
    )
    for notification in created:
        if notification.status in OUTSTANDING_STATUSES:
            deliver_after_commit(notification.pk, at=notification.next_attempt_at)
    if next_index is not None:
        stage_after_commit(engagement.pk, next_index, at=next_at)


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


def _unresolved(
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
    if preference is None or preference.quiet_hours_start is None:
        return None
    return QuietHours(
        start=preference.quiet_hours_start,
        end=preference.quiet_hours_end,
        zone=_zone(user.time_zone),
    )


def _zone(name: str) -> ZoneInfo:
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


def _to_person(
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
        zone=_zone(user.time_zone),
        acknowledge_url=content.absolute_url(f"/notify/ack/{token}"),
        acknowledge_until=notification.ack_expires_at,
    )
    notification.subject, notification.body = content.render_email(facts)
    notification.save(
        update_fields=["subject", "body", "ack_nonce_hash", "ack_expires_at", "reason"]
    )
    return notification


def _to_channel(
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


def _cancel_outstanding(engagement: Engagement, *, why: str) -> list[int]:
    outstanding = list(
        Notification.objects.select_for_update()
        .filter(engagement=engagement, status__in=OUTSTANDING_STATUSES)
        .values_list("pk", flat=True)
    )
    if outstanding:
        Notification.objects.filter(pk__in=outstanding).update(
            status=NotificationStatus.CANCELLED,
            finished_at=clock.now(),
            next_attempt_at=None,
            last_error=why[:1000],
        )
    return outstanding


def _end(engagement: Engagement, *, reason: str, actor: User | None) -> None:
    engagement.status = EngagementStatus.ENDED
    engagement.ended_at = clock.now()
    engagement.end_reason = reason[:500]
    engagement.next_stage_at = None
    engagement.save(update_fields=["status", "ended_at", "end_reason", "next_stage_at"])
    cancelled = _cancel_outstanding(engagement, why=f"not sent: {reason}")
    record_event(
        action=AuditAction.NOTIFY_POLICY_ENDED,
        actor=actor,
        target=engagement,
        escalation_id=engagement.escalation_id,
        data={
            "rule": engagement.rule_code,
            "reason": reason,
            "stages_notified": engagement.current_stage + 1,
            "cancelled_notifications": cancelled,
        },
    )


# ---------------------------------------------------------------- acknowledgement


def _acknowledge(
    engagement: Engagement, *, actor: User | None, via: str, notification: Notification | None
) -> Engagement:
    now = clock.now()
    engagement.status = EngagementStatus.ACKNOWLEDGED
    engagement.acknowledged_at = now
    engagement.acknowledged_by = actor
    engagement.acknowledged_via = via
    engagement.next_stage_at = None
    engagement.save(
        update_fields=[
            "status",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledged_via",
            "next_stage_at",
        ]
    )
    who = actor.username if actor is not None else "someone"
    cancelled = _cancel_outstanding(engagement, why=f"not sent: acknowledged by {who} first")
    record_event(
        action=AuditAction.NOTIFY_ACKNOWLEDGED,
        actor=actor,
        target=engagement,
        escalation_id=engagement.escalation_id,
        data={
            "rule": engagement.rule_code,
            "via": via,
            "stage": engagement.current_stage + 1,
            "notification": notification.pk if notification else None,
            "minutes_after_start": round((now - engagement.started_at).total_seconds() / 60, 1),
            "cancelled_notifications": cancelled,
        },
    )
    return engagement


def may_acknowledge(*, actor: User, engagement: Engagement) -> bool:
    """Whoever works escalations, and anyone the policy notified about this one."""
    if not actor.is_authenticated or not actor.is_active:
        return False
    return can_work_escalations(actor) or engagement.notifications.filter(recipient=actor).exists()


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
    return _acknowledge(engagement, actor=actor, via="ui", notification=None)


def _hash_nonce(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _issue_ack_token(
    notification: Notification, *, valid_from: datetime, lifetime: timedelta
) -> str:
    nonce = secrets.token_urlsafe(18)
    notification.ack_nonce_hash = _hash_nonce(nonce)
    notification.ack_expires_at = valid_from + lifetime
    return signing.Signer(salt=ACK_SALT).sign(f"{notification.pk}.{nonce}")


@dataclass(frozen=True)
class AckLink:
    """What an acknowledgement link refers to, before anything is done with it."""

    notification: Notification
    state: str  # valid | expired | used | settled
    message: str

    @property
    def usable(self) -> bool:
        return self.state == "valid"


INVALID_LINK = (
    "This acknowledgement link is not valid. Open the escalation in Watchfloor and "
    "acknowledge it there."
)


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
        or not secrets.compare_digest(notification.ack_nonce_hash, _hash_nonce(nonce))
    ):
        raise NotFound(INVALID_LINK, field="token", code="invalid_link")
    return notification


def _describe_link(notification: Notification, engagement: Engagement) -> AckLink:
    zone = _zone(notification.recipient.time_zone if notification.recipient_id else "UTC")
    if notification.ack_used_at is not None:
        return AckLink(
            notification,
            "used",
            "This link was already used, at "
            f"{content.format_time(notification.ack_used_at, zone)}.",
        )
    if engagement.status == EngagementStatus.ACKNOWLEDGED:
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
    engagement = Engagement.objects.select_for_update().get(pk=notification.engagement_id)
    link = _describe_link(notification, engagement)
    if not link.usable:
        raise Conflict(link.message, field="token", code=f"link_{link.state}")
    notification.ack_used_at = clock.now()
    notification.save(update_fields=["ack_used_at"])
    meet_acknowledge_clock(escalation=engagement.escalation, actor=notification.recipient)
    return _acknowledge(
        engagement, actor=notification.recipient, via="link", notification=notification
    )


# ---------------------------------------------------------------- channels


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
    from watchfloor.notify.policy import _CHANNEL_CODE

    if not _CHANNEL_CODE.match(channel.code or ""):
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


# ---------------------------------------------------------------- preferences


def _describe_quiet(start: time | None, end: time | None) -> str | None:
    return f"{start:%H:%M}–{end:%H:%M}" if start is not None and end is not None else None


def validate_quiet_hours(start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise InvalidInput(
            "give both the start and the end of the quiet hours, or neither",
            field="quiet_hours_end" if end is None else "quiet_hours_start",
        )
    if start is not None and start.replace(second=0, microsecond=0) == end.replace(
        second=0, microsecond=0
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
