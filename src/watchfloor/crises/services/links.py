"""Linking escalations to a crisis and unlinking them: checked against the actor's need
to know, audited on the crisis and on the escalation (see the package docstring)."""

from __future__ import annotations

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises.models import Crisis, CrisisEscalation
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.services.common import (
    escalations_actor_sees,
    record_crisis_event,
    refuse_if_closed,
)
from watchfloor.escalations.models import Escalation
from watchfloor.people.models import User


@transaction.atomic
def link_escalation(
    *, crisis: Crisis, escalation: Escalation, actor: User, reason: str = ""
) -> CrisisEscalation:
    _require(may_work_crisis(actor), "your role cannot link escalations to a crisis")
    refuse_if_closed(crisis, "link the escalation to a new crisis instead")
    escalations_actor_sees(actor, [escalation])
    reason = _text(reason, field="reason", max_length=500, required=False)
    if CrisisEscalation.objects.filter(crisis=crisis, escalation=escalation).exists():
        raise Conflict(
            f"{escalation.reference} is already part of {crisis.reference}", field="escalation"
        )
    link = CrisisEscalation.objects.create(
        crisis=crisis, escalation=escalation, reason=reason, linked_at=clock.now(), linked_by=actor
    )
    record_crisis_event(
        AuditAction.CRISIS_ESCALATION_LINKED,
        crisis=crisis,
        actor=actor,
        target=link,
        escalation=escalation,
        data={"escalation_id": escalation.pk, "escalation": escalation.reference, "reason": reason},
    )
    return link


@transaction.atomic
def unlink_escalation(*, crisis: Crisis, escalation: Escalation, actor: User, reason: str) -> None:
    _require(may_work_crisis(actor), "your role cannot unlink escalations from a crisis")
    refuse_if_closed(crisis, "its escalations are kept as they were")
    reason = _text(reason, field="reason", max_length=500, required=True)
    link = CrisisEscalation.objects.filter(crisis=crisis, escalation=escalation).first()
    if link is None:
        raise NotFound(
            f"{escalation.reference} is not part of {crisis.reference}", field="escalation"
        )
    if link.is_origin:
        raise Conflict(
            f"{crisis.reference} was declared from {escalation.reference}; it stays linked",
            field="escalation",
        )
    link.delete()
    record_crisis_event(
        AuditAction.CRISIS_ESCALATION_UNLINKED,
        crisis=crisis,
        actor=actor,
        escalation=escalation,
        data={"escalation_id": escalation.pk, "escalation": escalation.reference, "reason": reason},
    )
