"""The escalation policy's runs, one named action each: checked, written and audited
(with the escalation's id when there is one) in one transaction, with deliveries and
timers enqueued only once that transaction commits.

The escalation services call :func:`notify_escalation_event` inside their own
transaction when an escalation is created, changes severity, is closed, reopened or
merged. That starts, replaces or stops the escalation policy's run (an
:class:`Engagement`): stage by stage, until somebody acknowledges.

This is one concept, a policy run from start to end (staging, whom each stage reaches
and when, the acknowledgement link it carries, cancelling what is left), and it stays
in one module because every step shares the run's locking and cancellation rules.
Acknowledging in the pages or by link is in :mod:`watchfloor.notify.acknowledgement`,
channels and quiet hours in :mod:`watchfloor.notify.channels`, delivery itself (one
attempt, retries, recovery) in :mod:`watchfloor.notify.delivery`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.escalations.clocks import business_time_zone
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
    market = escalation.primary_market.code if escalation.primary_market is not None else None
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
                    "to": n.recipient.username if n.recipient is not None else n.target,
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
    if next_index is not None and next_at is not None:
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
    if (
        preference is None
        or preference.quiet_hours_start is None
        or preference.quiet_hours_end is None  # both or neither (validate_quiet_hours)
    ):
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


def _hash_nonce(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _issue_ack_token(
    notification: Notification, *, valid_from: datetime, lifetime: timedelta
) -> str:
    nonce = secrets.token_urlsafe(18)
    notification.ack_nonce_hash = _hash_nonce(nonce)
    notification.ack_expires_at = valid_from + lifetime
    return signing.Signer(salt=ACK_SALT).sign(f"{notification.pk}.{nonce}")


INVALID_LINK = (
    "This acknowledgement link is not valid. Open the escalation in Watchfloor and "
    "acknowledge it there."
)


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
