"""Reading and checking the audit log."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchfloor.audit.hashing import crisis_id_of, hash_of_event
from watchfloor.audit.keys import (
    AuditKey,
    AuditKeyring,
    UnknownAuditKey,
    configured_keyring,
    keyed_start_message,
    same_digest,
)
from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, AuditHeadExport
from watchfloor.core.errors import StaleEdit


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    ok: bool
    broken_at_sequence: int | None = None
    problem: str = ""
    # The chain could not be checked from here on because a key it needs is not
    # configured (a wrong or missing audit key), which is not evidence of tampering.
    missing_key: bool = False


def verify_chain(*, chunk_size: int = 2000) -> ChainReport:
    """Recompute every hash in order; report the first event where the chain breaks.

    Events before the head's ``keyed_from_sequence`` carry plain SHA-256 hashes (written
    before the chain was keyed); from it on, each hash is an HMAC with the audit key its
    event names. A key that is not configured here is reported as such, not as an
    altered event.
    """
    keyring = configured_keyring()
    head = AuditChainHead.objects.filter(pk=1).first()
    # No head row: the strictest reading, every event must be keyed.
    keyed_from = head.keyed_from_sequence if head is not None else 1
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
        if event.sequence == keyed_from and (
            broken := _check_keyed_start(head, keyring, expected_previous, checked)
        ):
            return broken
        if event.previous_hash != expected_previous:
            return ChainReport(
                checked,
                False,
                event.sequence,
                "previous_hash does not match the hash of the event before it",
            )
        try:
            key = _key_for(event, keyed_from=keyed_from, keyring=keyring)
        except _UnkeyedEvent as problem:
            return ChainReport(checked, False, event.sequence, str(problem))
        except UnknownAuditKey as unknown:
            return ChainReport(
                checked, False, event.sequence, f"the event was {unknown}", missing_key=True
            )
        recomputed = hash_of_event(event, previous_hash=event.previous_hash, key=key)
        if not same_digest(recomputed, event.hash):
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
    if head is None:
        if checked:
            return ChainReport(
                checked, False, checked + 1, "the chain head row is missing (it was deleted)"
            )
        return ChainReport(checked, True)
    if head.last_sequence != checked:
        return ChainReport(
            checked,
            False,
            checked + 1,
            f"the chain head records {head.last_sequence} events but {checked} were found "
            "(events were removed from the end)",
        )
    if keyed_from == checked + 1 and (
        broken := _check_keyed_start(head, keyring, expected_previous, checked)
    ):
        return broken
    if keyed_from > checked + 1:
        return ChainReport(
            checked,
            False,
            checked + 1,
            f"the keyed chain is recorded to start at #{keyed_from}, after the last event "
            f"#{checked} (the start was moved, or events were removed from the end)",
        )
    return ChainReport(checked, True)


class _UnkeyedEvent(ValueError):
    pass


def _key_for(event: AuditEvent, *, keyed_from: int, keyring: AuditKeyring) -> AuditKey | None:
    """The key that must have made this event's hash; None for the unkeyed part."""
    if event.sequence < keyed_from:
        if event.key_id:
            raise _UnkeyedEvent(
                f"the event names audit key {event.key_id!r} but the chain is keyed only from "
                f"#{keyed_from} (it was altered)"
            )
        return None
    if not event.key_id:
        raise _UnkeyedEvent(
            f"the event names no audit key but the chain is keyed from #{keyed_from} "
            "(it was altered, or its hash recomputed without the key)"
        )
    return keyring.find(event.key_id)


def _check_keyed_start(
    head: AuditChainHead | None, keyring: AuditKeyring, previous_hash: str, checked: int
) -> ChainReport | None:
    """Whether the recorded start of the keyed chain can be trusted (None when it can).

    From #1 there is nothing to trust: every event is keyed. A later start was sealed by
    the upgrade together with the hash of the last unkeyed event."""
    if head is None or head.keyed_from_sequence <= 1:
        return None
    start = head.keyed_from_sequence
    try:
        key = keyring.find(head.keyed_from_key_id)
    except UnknownAuditKey as unknown:
        return ChainReport(
            checked,
            False,
            start,
            f"the seal on the start of the keyed chain (#{start}) was {unknown}",
            missing_key=True,
        )
    expected = key.sign(keyed_start_message(sequence=start, previous_hash=previous_hash))
    if same_digest(expected, head.keyed_from_seal):
        return None
    return ChainReport(
        max(checked - 1, 0),
        False,
        start - 1,
        f"the seal on the start of the keyed chain (#{start}) does not match: an unkeyed "
        f"event at or before #{start - 1} was changed, or the start was moved",
    )


def last_published_head_lost() -> str:
    """Why the chain no longer holds the head last published from here ("" when it does).

    A cheap check made before each scheduled export (one query, not a walk of the
    chain): events removed from the end, or rewritten by someone holding the key, since
    the last export. It reads the export log, which lives in the database too, so it is
    an early alarm, not a proof: ``audit verify --expect-head`` against the published
    copies is."""
    last = AuditHeadExport.objects.filter(succeeded=True).order_by("-attempted_at", "-pk").first()
    if last is None or last.sequence == 0:
        return ""
    if AuditEvent.objects.filter(sequence=last.sequence, hash=last.hash).exists():
        return ""
    return (
        f"the audit chain no longer holds the head published at "
        f"{last.attempted_at.isoformat()} (#{last.sequence}): events were removed or "
        "rewritten since. Run `watchfloor audit verify --expect-head` against the published "
        "heads"
    )


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
