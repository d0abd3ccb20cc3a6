"""Writing to the audit log. Called by every other app's services, inside their transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditChainHead, AuditEvent
from watchfloor.core import clock

if TYPE_CHECKING:
    # Any user model: the audit log sits below the people app and records only the
    # actor's key and name.
    from django.contrib.auth.base_user import AbstractBaseUser as User


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} into an audit event")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_hash(
    *,
    previous_hash: str,
    sequence: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    escalation_id: int | None,
    data: Any,
) -> str:
    payload = canonical_json(
        {
            "sequence": sequence,
            "occurred_at": occurred_at.isoformat(),
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "escalation_id": escalation_id,
            "data": data,
        }
    )
    return hashlib.sha256((previous_hash + payload).encode()).hexdigest()


def crisis_id_of(data: Any) -> int | None:
    """The crisis an event's data names (``crisis_id``), if any."""
    value = data.get("crisis_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_event(
    *,
    action: AuditAction,
    actor: User | None,
    target: models.Model | None = None,
    escalation_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain.

    Must run inside the caller's transaction so the change and its record commit or
    roll back together; it refuses to run outside one.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it records")
    # Round-trip through JSON so what is hashed is exactly what is stored.
    clean_data = json.loads(json.dumps(data or {}, default=_json_default))
    # The migration creates the head; a database flushed by tests needs it back.
    AuditChainHead.objects.get_or_create(pk=1)
    head = AuditChainHead.objects.select_for_update().get(pk=1)
    occurred_at = clock.now()
    # Stored timestamps keep microseconds; strip nothing so the hash is reproducible.
    actor_id = actor.pk if actor is not None else None
    actor_label = actor.get_username() if actor is not None else "system"
    object_type = target._meta.label_lower if target is not None else ""
    object_id = str(target.pk) if target is not None else ""
    sequence = head.last_sequence + 1
    event_hash = compute_event_hash(
        previous_hash=head.last_hash,
        sequence=sequence,
        occurred_at=occurred_at,
        actor_id=actor_id,
        actor_label=actor_label,
        action=str(action),
        object_type=object_type,
        object_id=object_id,
        escalation_id=escalation_id,
        data=clean_data,
    )
    event = AuditEvent.objects.create(
        sequence=sequence,
        occurred_at=occurred_at,
        actor_id=actor_id,
        actor_label=actor_label,
        action=str(action),
        object_type=object_type,
        object_id=object_id,
        escalation_id=escalation_id,
        crisis_id=crisis_id_of(clean_data),
        data=clean_data,
        previous_hash=head.last_hash,
        hash=event_hash,
    )
    AuditChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=event_hash)
    return event
