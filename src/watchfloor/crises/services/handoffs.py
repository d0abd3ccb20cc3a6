"""Follow-the-sun handoffs: confirming the outgoing packet and acknowledging it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict
from watchfloor.core.roles import is_admin
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises import selectors
from watchfloor.crises.config import crisis_config
from watchfloor.crises.handoffs import build_packet
from watchfloor.crises.models import (
    Crisis,
    Handoff,
    RoleKind,
)
from watchfloor.crises.shifts import HandoffTime
from watchfloor.people.models import User

if TYPE_CHECKING:
    pass
from watchfloor.crises.services.common import (
    NOTE_MAX,
    REASON_MAX,
    lock_crisis,
    record_crisis_event,
    refuse_if_closed,
)
from watchfloor.crises.services.roles import check_holder, hand_over

# ---------------------------------------------------------------- follow the sun


def next_handoff(crisis: Crisis, now: datetime | None = None) -> HandoffTime | None:
    """When the crisis next changes hands between regions (None when closed). Worked out
    in each region's wall time, from ``core.clock`` unless ``now`` is given."""
    return selectors.next_handoff(crisis, now or clock.now())


@transaction.atomic
def confirm_handoff(
    *,
    crisis: Crisis,
    actor: User,
    incoming_commander: User,
    risks: str = "",
    handoff_at: datetime | None = None,
) -> Handoff:
    """The outgoing commander confirms the packet for the handoff in play and names who
    takes command. ``handoff_at`` (from the form) guards against confirming a handoff that
    has moved on since the page was read."""
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "it is not handed over any more")
    config = crisis_config()
    outgoing = selectors.commander_of(crisis)
    _require(
        outgoing is not None and (outgoing.pk == actor.pk or is_admin(actor)),
        "only the outgoing incident commander confirms the handoff",
    )
    assert outgoing is not None
    now = clock.now()
    recorded = list(Handoff.objects.filter(crisis=crisis))
    in_play = selectors.handoff_in_play(crisis, now, config=config, recorded=recorded)
    if in_play is None:
        raise Conflict(f"{crisis.reference} is not handed over at its level", field="handoff")
    if handoff_at is not None and handoff_at != in_play.at:
        raise Conflict(
            f"the handoff in play is now {in_play.label} at {in_play.at:%Y-%m-%d %H:%M} UTC; "
            "reload and confirm that one",
            field="handoff",
        )
    if any(h.handoff_at == in_play.at for h in recorded):
        raise Conflict(f"the {in_play.label} handoff is already confirmed", field="handoff")
    check_holder(crisis, RoleKind.INCIDENT_COMMANDER, incoming_commander)
    risks = _text(risks, field="risks", max_length=NOTE_MAX, required=False)
    packet = build_packet(
        crisis=crisis,
        handoff=in_play,
        viewer=actor,
        now=now,
        config=config,
        outgoing=outgoing,
        incoming=incoming_commander,
        risks=risks,
    )
    handoff = Handoff.objects.create(
        crisis=crisis,
        from_region=in_play.from_region.code,
        to_region=in_play.to_region.code,
        handoff_at=in_play.at,
        packet=packet,
        risks=risks,
        outgoing_commander=outgoing,
        incoming_commander=incoming_commander,
        confirmed_at=now,
    )
    record_crisis_event(
        AuditAction.CRISIS_HANDOFF_CONFIRMED,
        crisis=crisis,
        actor=actor,
        target=handoff,
        data={
            "handoff_id": handoff.pk,
            "handoff_at": in_play.at,
            "from_region": in_play.from_region.code,
            "to_region": in_play.to_region.code,
            "outgoing": outgoing.username,
            "incoming": incoming_commander.username,
            "risks": risks,
            "deadlines": len(packet.get("deadlines", [])),
            "open_decisions": len(packet.get("open_decisions", [])),
        },
    )
    return handoff


@transaction.atomic
def acknowledge_handoff(*, handoff: Handoff, actor: User, note: str = "") -> Handoff:
    """The incoming commander acknowledges the packet and so takes command."""
    handoff = Handoff.objects.select_for_update().select_related("crisis").get(pk=handoff.pk)
    crisis = lock_crisis(handoff.crisis)
    _require(
        handoff.incoming_commander_id == actor.pk,
        "only the incoming incident commander named in the handoff acknowledges it",
    )
    refuse_if_closed(crisis, "it is not handed over any more")
    if handoff.status != Handoff.Status.CONFIRMED:
        raise Conflict("this handoff is already acknowledged", field="handoff")
    note = _text(note, field="note", max_length=REASON_MAX, required=False)
    now = clock.now()
    handoff.status = Handoff.Status.ACKNOWLEDGED
    handoff.acknowledged_at = now
    handoff.acknowledgement_note = note
    handoff.save(update_fields=["status", "acknowledged_at", "acknowledgement_note"])
    current = selectors.commander_of(crisis)
    if current is None or current.pk != actor.pk:
        check_holder(crisis, RoleKind.INCIDENT_COMMANDER, actor)
        hand_over(
            crisis=crisis,
            role=RoleKind.INCIDENT_COMMANDER,
            market="",
            to_user=actor,
            actor=actor,
            note=f"follow-the-sun handoff {handoff.from_region} → {handoff.to_region}"
            + (f": {note}" if note else ""),
        )
    record_crisis_event(
        AuditAction.CRISIS_HANDOFF_ACKNOWLEDGED,
        crisis=crisis,
        actor=actor,
        target=handoff,
        data={
            "handoff_id": handoff.pk,
            "handoff_at": handoff.handoff_at,
            "from_region": handoff.from_region,
            "to_region": handoff.to_region,
            "outgoing": handoff.outgoing_commander.username,
            "incoming": actor.username,
            "note": note,
        },
    )
    return handoff
