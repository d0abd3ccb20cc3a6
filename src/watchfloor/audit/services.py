"""Writing to the audit log. Called by every other app's services, inside their transaction."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import models, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import compute_event_hash, crisis_id_of, json_default
from watchfloor.audit.heads import current_signed_head
from watchfloor.audit.keys import configured_keyring
from watchfloor.audit.models import AuditChainHead, AuditEvent, AuditHeadExport, HeadDestination
from watchfloor.audit.selectors import last_published_head_lost
from watchfloor.core import clock

if TYPE_CHECKING:
    # Any user model: the audit log sits below the people app and records only the
    # actor's key and name.
    from django.contrib.auth.base_user import AbstractBaseUser as User

logger = logging.getLogger(__name__)


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
    clean_data = json.loads(json.dumps(data or {}, default=json_default))
    key = configured_keyring().signing_key
    # The event's columns that its hash covers. Stored timestamps keep microseconds;
    # strip nothing so the hash is reproducible.
    hashed: dict[str, Any] = {
        "occurred_at": clock.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": actor.get_username() if actor is not None else "system",
        "action": str(action),
        "object_type": target._meta.label_lower if target is not None else "",
        "object_id": str(target.pk) if target is not None else "",
        "escalation_id": escalation_id,
        "data": clean_data,
    }

    def hash_after(previous_hash: str, sequence: int) -> str:
        return compute_event_hash(previous_hash=previous_hash, sequence=sequence, key=key, **hashed)

    sequence, previous_hash, event_hash = _advance_head(connection, hash_after)
    event = AuditEvent.objects.create(
        sequence=sequence,
        crisis_id=crisis_id_of(clean_data),
        previous_hash=previous_hash,
        hash=event_hash,
        key_id=key.key_id,
        **hashed,
    )
    _last_appended[connection] = (sequence, event_hash)
    return event


# Where each connection (one per thread and database) last moved the chain head to:
# (sequence, hash). A hint only: ``_advance_head`` checks it against the stored head.
_last_appended: WeakKeyDictionary[Any, tuple[int, str]] = WeakKeyDictionary()


def _advance_head(connection: Any, hash_after: Callable[[str, int], str]) -> tuple[int, str, str]:
    """Move the chain head one event on, holding its row's lock to the end of the
    transaction; returns (sequence, previous hash, new hash).

    Most appends follow this process's own last one (a transaction writes several
    events; a worker writes many in a row), so the head is first moved on from where
    this process last left it, by an update that matches only if the head is still
    exactly there. Anything else (another process appended since, or the transaction
    that wrote our last event was rolled back) matches no row, and the head is read
    under its lock as before. Either way the new event follows the head as stored.
    """
    known = _last_appended.get(connection)
    if known is not None:
        last_sequence, last_hash = known
        event_hash = hash_after(last_hash, last_sequence + 1)
        moved = AuditChainHead.objects.filter(
            pk=1, last_sequence=last_sequence, last_hash=last_hash
        ).update(last_sequence=last_sequence + 1, last_hash=event_hash)
        if moved:
            return last_sequence + 1, last_hash, event_hash
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The migration creates the head; a database flushed by tests needs it back
        # (keyed from the first event, the model's default). Looked for only when missing.
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    sequence = head.last_sequence + 1
    event_hash = hash_after(head.last_hash, sequence)
    AuditChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=event_hash)
    return sequence, head.last_hash, event_hash


# ---------------------------------------------------------------- publishing the head

# A failed export is tried again on a later sweep, but not more often than this.
RETRY_FAILED_EXPORT_AFTER = timedelta(minutes=5)
EXPORT_TIMEOUT_SECONDS = 10.0
ERROR_MAX = 500


def head_destinations() -> list[tuple[HeadDestination, str]]:
    """Where the settings say to publish heads (none when neither is set)."""
    places = []
    if settings.WATCHFLOOR_AUDIT_HEAD_FILE:
        places.append((HeadDestination.FILE, settings.WATCHFLOOR_AUDIT_HEAD_FILE))
    if settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL:
        places.append((HeadDestination.WEBHOOK, settings.WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL))
    return places


def _is_due(destination: HeadDestination, target: str, *, now: datetime) -> bool:
    attempts = AuditHeadExport.objects.filter(destination=destination, target=target)
    published_lately = attempts.filter(
        succeeded=True, attempted_at__gt=now - settings.WATCHFLOOR_AUDIT_HEAD_EVERY
    ).exists()
    retry_after = min(RETRY_FAILED_EXPORT_AFTER, settings.WATCHFLOOR_AUDIT_HEAD_EVERY)
    tried_lately = attempts.filter(attempted_at__gt=now - retry_after).exists()
    return not published_lately and not tried_lately


def _append_to_file(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _post_to_webhook(url: str, body: str) -> None:
    # The URL comes from the operator's settings, not from users. The receiver's answer
    # is not kept: only whether it took the head.
    import httpx  # here, not at the top: every command's start-up imports this module

    response = httpx.post(
        url,
        content=body.encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Watchfloor-Audit/1"},
        timeout=EXPORT_TIMEOUT_SECONDS,
        follow_redirects=False,
    )
    if not response.is_success:
        raise OSError(f"the receiver answered HTTP {response.status_code}")


def _publish(destination: HeadDestination, target: str, body: str) -> str:
    """Send one head to one place; the error, or "" when it got there."""
    import httpx

    try:
        if destination == HeadDestination.FILE:
            _append_to_file(target, body)
        else:
            _post_to_webhook(target, body)
    except (OSError, httpx.HTTPError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        logger.warning("audit head not published to %s %s: %s", destination, target, error)
        return error
    return ""


def export_head(*, now: datetime, only_due: bool = True) -> list[AuditHeadExport]:
    """Publish the signed head to each configured place where one is due (or to every
    place, ``only_due=False``); one row per attempt says what happened.

    Called by the worker's housekeeping every minute and by ``watchfloor audit
    export-head``. Not an audited action: an event would move the head it publishes.
    One place failing never stops the other. A scheduled export refuses, loudly, when
    the chain no longer holds the head it last published (the command publishes anyway,
    after saying so): a forged head should not reach the places meant to catch it.
    """
    places = [
        (destination, target)
        for destination, target in head_destinations()
        if not only_due or _is_due(destination, target, now=now)
    ]
    if not places:
        return []
    head = current_signed_head(keyring=configured_keyring(), now=now)
    body = head.as_json()
    lost = last_published_head_lost() if only_due else ""
    if lost:
        logger.error("audit head not published: %s", lost)
    attempts = []
    for destination, target in places:
        error = lost[:ERROR_MAX] or _publish(destination, target, body)
        attempts.append(
            AuditHeadExport.objects.create(
                destination=destination,
                target=target[:500],
                attempted_at=now,
                sequence=head.sequence,
                hash=head.hash,
                succeeded=not error,
                error=error,
            )
        )
    return attempts
