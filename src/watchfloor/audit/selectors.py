"""Reading and checking the audit log."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from watchfloor.audit.services import compute_event_hash, crisis_id_of
from watchfloor.core.errors import StaleEdit


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


# ---------------------------------------------------------------- versions
#
# Every change is audited in its own transaction, and the chain head is locked while an
# event is appended, so the log's last sequence is a version of everything at once: a
# form carries the sequence it was read at, and what changed since is the events after it.


def log_position() -> int:
    """The version a page read now carries: the audit log's last sequence."""
    return AuditChainHead.objects.filter(pk=1).values_list("last_sequence", flat=True).first() or 0


def refuse_if_changed_since(
    *,
    read_version: int | None,
    subject: str,
    actions: Collection[str],
    describe: Callable[[AuditEvent], str],
    escalation_id: int | None = None,
    crisis_id: int | None = None,
) -> None:
    """Raise :class:`StaleEdit` when ``actions`` were recorded on the escalation or crisis
    after ``read_version``, naming each change; nothing to check when no version was sent.
    Call it inside the edit's transaction, after locking the row being edited."""
    if read_version is None:
        return
    events = AuditEvent.objects.filter(sequence__gt=read_version, action__in=list(actions))
    if escalation_id is not None:
        events = events.filter(escalation_id=escalation_id)
    if crisis_id is not None:
        events = events.filter(crisis_id=crisis_id)
    changes = [
        f"{describe(event)} (by {event.actor_label}, {event.occurred_at:%Y-%m-%d %H:%M} UTC)"
        for event in events.order_by("sequence")
    ]
    if changes:
        raise StaleEdit(
            f"{subject} changed since you opened it — here is what changed: "
            + "; ".join(changes)
            + ". Nothing of yours was saved: check the change, then try again.",
            field="read_version",
            current_version=log_position(),
        )
