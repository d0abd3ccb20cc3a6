"""Final decisions go out on their own.

A decision recorded final, or approved by a second person, is sent through every active
connector that sends final decisions (``EnforcementConnector.sends_final_decisions``)
as soon as its transaction commits: the escalations app calls
:func:`on_decision_final` through ``escalations.hooks.listen_to_final_decisions``
(registered in ``BanksConfig.ready()``), and the request is queued for the worker like
any other. Each decision goes out at most once per connector
(``EnforcementRequest.automatic``, unique per decision and connector). A decision whose
hook was lost (the process stopped between the commit and the hook) is caught up by the
worker's housekeeping (:func:`send_missed_decisions`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.banks.actioner import escalation_items, request_enforcement
from watchfloor.banks.models import EnforcementConnector, EnforcementRequest, RequestStatus
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.escalations.models import Decision
from watchfloor.people.models import User

if TYPE_CHECKING:
    from collections.abc import Sequence

# A decision of no action has nothing for a platform to carry out.
NO_ACTION = "no_action"
NOTHING_TO_ACT_ON = (
    "nothing to act on: the escalation has no subjects and no matched copies; "
    "add them, then carry the decision out by hand"
)
# The sweep leaves decisions this recent to the hook that is about to send them.
SWEEP_GRACE = timedelta(minutes=2)
SWEEP_BATCH = 100


def sending_connectors() -> list[EnforcementConnector]:
    return list(EnforcementConnector.objects.filter(is_active=True, sends_final_decisions=True))


def on_decision_final(*, decision_id: int, actor_id: int | None) -> list[EnforcementRequest]:
    """The escalations hook: send the decision through each connector that sends final
    decisions, as the person who made it final."""
    connectors = sending_connectors()
    if not connectors:
        return []
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    sent = (send_decision(decision_id=decision_id, connector=c, actor=actor) for c in connectors)
    return [request for request in sent if request is not None]


def send_decision(
    *, decision_id: int, connector: EnforcementConnector, actor: User | None
) -> EnforcementRequest | None:
    """Queue the decision's action through ``connector`` on the escalation's items, once:
    None when it is not final (any more), is "no action", or already went out. A request
    that cannot be made (no items, too many, the connector switched off) is recorded as
    failed with the reason, so the page says why nothing was carried out."""
    with transaction.atomic():
        decision = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("action", "escalation")
            .filter(pk=decision_id)
            .first()
        )
        if decision is None or decision.state != Decision.State.FINAL:
            return None
        if decision.action.code == NO_ACTION:
            return None
        if EnforcementRequest.objects.filter(
            decision=decision, connector=connector, automatic=True
        ).exists():
            return None
        items = escalation_items(decision.escalation)
        if not items:
            return _not_sent(decision, connector, actor, NOTHING_TO_ACT_ON)
        try:
            return request_enforcement(
                connector=connector,
                action_code=decision.action.code,
                countries=list(decision.countries),
                references=items,
                actor=actor,
                decision=decision,
                automatic=True,
            )
        except (InvalidInput, Conflict) as refused:
            return _not_sent(decision, connector, actor, refused.message)


def _not_sent(
    decision: Decision, connector: EnforcementConnector, actor: User | None, reason: str
) -> EnforcementRequest:
    now = clock.now()
    request = EnforcementRequest.objects.create(
        connector=connector,
        idempotency_key=f"unsent-{decision.pk}-{connector.pk}",
        action=decision.action,
        countries=list(decision.countries),
        decision=decision,
        escalation=decision.escalation,
        requested_by=actor,
        requested_at=now,
        automatic=True,
        status=RequestStatus.FAILED,
        item_count=0,
        last_error=reason,
    )
    record_event(
        action=AuditAction.BANK_ENFORCEMENT_FAILED,
        actor=actor,
        target=request,
        escalation_id=decision.escalation_id,
        data={"connector": connector.code, "decision": decision.pk, "error": reason},
    )
    return request


def decisions_missed(
    connector: EnforcementConnector, *, now: datetime, limit: int = SWEEP_BATCH
) -> Sequence[int]:
    """Final decisions made since the connector began sending them (and not in the last
    moments) that have no automatic request through it."""
    if not connector.sends_final_decisions or connector.sends_final_decisions_since is None:
        return []
    already = EnforcementRequest.objects.filter(
        decision=OuterRef("pk"), connector=connector, automatic=True
    )
    return list(
        Decision.objects.filter(state=Decision.State.FINAL)
        .exclude(action__code=NO_ACTION)
        .annotate(final_at=Coalesce("reviewed_at", "decided_at"))
        .filter(
            final_at__gte=connector.sends_final_decisions_since,
            final_at__lte=now - SWEEP_GRACE,
        )
        .exclude(Exists(already))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def send_missed_decisions(*, now: datetime | None = None) -> int:
    """The housekeeping's catch-up: send what the hook did not; returns how many."""
    now = now or clock.now()
    sent = 0
    for connector in sending_connectors():
        for decision_id in decisions_missed(connector, now=now):
            decision = Decision.objects.select_related("decided_by", "reviewed_by").get(
                pk=decision_id
            )
            actor = decision.reviewed_by or decision.decided_by
            if send_decision(decision_id=decision_id, connector=connector, actor=actor):
                sent += 1
    return sent
