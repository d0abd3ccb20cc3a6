"""Reading and checking the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from watchfloor.audit.services import compute_event_hash, crisis_id_of


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    ok: bool
    broken_at_sequence: int | None = None
    problem: str = ""


def verify_chain(*, chunk_size: int = 2000) -> ChainReport:
    """Recompute every hash in order; report the first event where the chain breaks."""
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=chunk_size):
        if event.sequence != expected_sequence:
            return ChainReport(
                checked,
                False,
                expected_sequence,
                f"event #{expected_sequence} is missing (next found is #{event.sequence})",
            )
        if event.previous_hash != expected_previous:
            return ChainReport(
                checked,
                False,
                event.sequence,
                "previous_hash does not match the hash of the event before it",
            )
        recomputed = compute_event_hash(
            previous_hash=event.previous_hash,
            sequence=event.sequence,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            actor_label=event.actor_label,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            escalation_id=event.escalation_id,
            data=event.data,
        )
        if recomputed != event.hash:
            return ChainReport(
                checked,
                False,
                event.sequence,
                "the event's content does not match its hash (it was altered)",
            )
        if event.crisis_id != crisis_id_of(event.data):
            return ChainReport(
                checked,
                False,
                event.sequence,
                "the event's crisis does not match the crisis its data names (it was altered)",
            )
        expected_previous = event.hash
        expected_sequence += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_sequence != checked:
        return ChainReport(
            checked,
            False,
            checked + 1,
            f"the chain head records {head.last_sequence} events but {checked} were found "
            "(events were removed from the end)",
        )
    return ChainReport(checked, True)


def events_for_escalation(escalation_id: int):
    return AuditEvent.objects.filter(escalation_id=escalation_id).select_related("actor")


def escalation_event_data_since(
    *, escalation_id: int, action: str, since: datetime
) -> list[dict[str, Any]]:
    """The data of ``escalation_id``'s ``action`` events from ``since`` on, oldest first:
    what happened is read from the log, which nobody can quietly reset."""
    return list(
        AuditEvent.objects.filter(
            escalation_id=escalation_id, action=action, occurred_at__gte=since
        )
        .order_by("sequence")
        .values_list("data", flat=True)
    )
