"""The escalation policy's runs, one named action each: checked, written and audited
(with the escalation's id when there is one) in one transaction, with deliveries and
timers enqueued only once that transaction commits.

The escalation services call :func:`notify_escalation_event` inside their own
transaction when an escalation is created, changes severity, is closed, reopened or
merged. That starts, replaces or stops the escalation policy's run (an
:class:`Engagement`): stage by stage, until somebody acknowledges.

This is one concept, a policy run from start to end (starting, staging, ending,
cancelling what is left), kept in one module because every step shares the run's
locking and cancellation rules. What one stage writes for each person and channel (quiet
hours, the acknowledgement link) is :mod:`watchfloor.notify.stage_notifications`;
acknowledging in the pages or by link is :mod:`watchfloor.notify.acknowledgement`,
channels and quiet hours :mod:`watchfloor.notify.channels`, delivery itself (one
attempt, retries, recovery) :mod:`watchfloor.notify.delivery`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.escalations.hooks import filed_with
from watchfloor.escalations.models import Escalation, Status
from watchfloor.notify import conf, content
from watchfloor.notify.models import (
    OUTSTANDING_STATUSES,
    Engagement,
    EngagementStatus,
    Notification,
    NotificationStatus,
)
from watchfloor.notify.policy import (
    LoadedPolicies,
    PolicyFileError,
    Rule,
    Stage,
    current_policies,
)
from watchfloor.notify.recipients import resolve
from watchfloor.notify.stage_notifications import (
    is_drill,
    notification_to_channel,
    notification_to_person,
    unresolved_notification,
)
from watchfloor.notify.tasks import deliver_after_commit, stage_after_commit

if TYPE_CHECKING:
    from watchfloor.people.models import User

logger = logging.getLogger(__name__)


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
            record_acknowledgement(active, actor=actor, via=how or "ui", notification=None)
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
    filed = filed_with(escalation, event)
    rule = loaded.policies.rule_for(
        severity=escalation.severity,
        type_code=escalation.type.code,
        market_codes=list(filed.market_codes)
        if filed
        else [m.code for m in escalation.markets.all()],
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
                unresolved_notification(
                    engagement=engagement, index=index, target=target, problem=resolution.problem
                )
            )
        for person in resolution.people:
            if person.user.pk in seen_people:
                continue
            seen_people.add(person.user.pk)
            created.append(
                notification_to_person(
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
                notification_to_channel(
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


def record_acknowledgement(
    engagement: Engagement, *, actor: User | None, via: str, notification: Notification | None
) -> Engagement:
    """Stop the locked, active ``engagement`` because ``actor`` acknowledged it (``via``
    the pages, a link or a working action), cancelling what it had not yet sent."""
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
