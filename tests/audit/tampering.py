"""What a database writer does to the audit log, and the keys the audit tests use."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db import connection, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import hash_of_event
from watchfloor.audit.keys import AuditKey, AuditKeyring, keyring_from_text
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.services import record_event
from watchfloor.core import clock

KEY_A = "a" * 24 + "-first-audit-key-of-this-test"
KEY_B = "b" * 24 + "-second-audit-key-of-this-test"


def keyring(*secrets: str) -> AuditKeyring:
    return keyring_from_text(" ".join(secrets), source="the test's keys")


def record(count: int, *, note: str = "event") -> list[AuditEvent]:
    """Append ``count`` events as any service would, a minute apart."""
    events = []
    with transaction.atomic():
        for number in range(count):
            clock.advance(timedelta(minutes=1))
            events.append(
                record_event(
                    action=AuditAction.ESCALATION_NOTE_ADDED,
                    actor=None,
                    escalation_id=7,
                    data={"note": f"{note} {number}"},
                )
            )
    return events


def run_sql(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rewrite_from(
    sequence: int,
    *,
    data: dict[str, Any],
    key: AuditKey | None,
    key_id: str | None = None,
    keep_key_ids: bool = True,
) -> None:
    """What a database writer does to hide a change: alter event ``sequence``, then
    recompute the hash of it and of every event after it (with ``key``, None for plain
    SHA-256) and move the chain head to match."""
    events = list(AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"))
    previous = events[0].previous_hash
    for event in events:
        if event.sequence == sequence:
            event.data = data
        recorded_key_id = key_id if key_id is not None else (event.key_id if keep_key_ids else "")
        digest = hash_of_event(event, previous_hash=previous, key=key)
        run_sql(
            "UPDATE audit_auditevent SET data = %s, previous_hash = %s, hash = %s, key_id = %s "
            "WHERE sequence = %s",
            [json.dumps(event.data), previous, digest, recorded_key_id, event.sequence],
        )
        previous = digest
    run_sql(
        "UPDATE audit_auditchainhead SET last_hash = %s WHERE id = 1",
        [previous],
    )


def truncate_after(sequence: int) -> None:
    """Remove every event after ``sequence`` and point the head at the new end."""
    last = AuditEvent.objects.get(sequence=sequence)
    run_sql("DELETE FROM audit_auditevent WHERE sequence > %s", [sequence])
    run_sql(
        "UPDATE audit_auditchainhead SET last_sequence = %s, last_hash = %s WHERE id = 1",
        [sequence, last.hash],
    )


def seal_the_unkeyed_events() -> None:
    """What migration audit.0006 does to a database that already has events."""
    migration = importlib.import_module("watchfloor.audit.migrations.0006_keyed_chain")
    migration.seal_the_unkeyed_events(apps, None)
