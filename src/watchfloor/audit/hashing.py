"""The chain's arithmetic: how an event is serialised and hashed (pure functions).

Kept apart from the services that write events and the selectors that check them, so
both, and the published heads, share one definition.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models

from watchfloor.audit.keys import AuditKey


def json_default(value: Any) -> Any:
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
    key: AuditKey | None,
) -> str:
    """The event's hash: an HMAC with the audit key, or for the events recorded before
    the chain was keyed (``key=None``), the plain SHA-256 they were written with."""
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
    message = (previous_hash + payload).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def crisis_id_of(data: Any) -> int | None:
    """The crisis an event's data names (``crisis_id``), if any."""
    value = data.get("crisis_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def hash_of_event(event: Any, *, previous_hash: str, key: AuditKey | None) -> str:
    """:func:`compute_event_hash` over a stored event's own columns."""
    return compute_event_hash(
        previous_hash=previous_hash,
        sequence=event.sequence,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        escalation_id=event.escalation_id,
        data=event.data,
        key=key,
    )
