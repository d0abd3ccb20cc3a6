"""Fixtures for the keyed chain: keys, a log written before keying, tampering as a
database writer would do it, and a real HTTP receiver for published heads."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import compute_event_hash, hash_of_event
from watchfloor.audit.keys import AuditKey, AuditKeyring, keyring_from_text
from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from watchfloor.audit.services import record_event
from watchfloor.core import clock

KEY_A = "a" * 24 + "-first-audit-key-of-this-test"
KEY_B = "b" * 24 + "-second-audit-key-of-this-test"


def keyring(*secrets: str) -> AuditKeyring:
    return keyring_from_text(" ".join(secrets), source="the test's keys")


@pytest.fixture
def use_keys(settings):
    """Configure the audit keys for the rest of the test: ``use_keys(KEY_B, KEY_A)``."""

    def configure(*secrets: str) -> AuditKeyring:
        settings.WATCHFLOOR_AUDIT_KEYRING = keyring(*secrets)
        return settings.WATCHFLOOR_AUDIT_KEYRING

    configure(KEY_A)
    return configure


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


@pytest.fixture
def legacy_log(db, use_keys, frozen_clock) -> list[AuditEvent]:
    """Six events written the way releases before the keyed chain wrote them (plain
    SHA-256, no key id), then upgraded by the migration."""
    AuditChainHead.objects.get_or_create(pk=1)
    previous, events = GENESIS_HASH, []
    for sequence in range(1, 7):
        clock.advance(timedelta(minutes=1))
        fields = {
            "sequence": sequence,
            "occurred_at": clock.now(),
            "actor_id": None,
            "actor_label": "system",
            "action": str(AuditAction.ESCALATION_NOTE_ADDED),
            "object_type": "",
            "object_id": "",
            "escalation_id": 7,
            "data": {"note": f"before keying {sequence}"},
        }
        digest = compute_event_hash(previous_hash=previous, key=None, **fields)
        event = AuditEvent(**fields, previous_hash=previous, hash=digest)
        event.save()
        events.append(event)
        previous = digest
    AuditChainHead.objects.filter(pk=1).update(last_sequence=6, last_hash=previous)
    seal_the_unkeyed_events()
    return events


# ---------------------------------------------------------------- a real receiver


@dataclass
class HeadReceiver:
    url: str = ""
    status: int = 204
    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)


@pytest.fixture
def head_receiver() -> Iterator[HeadReceiver]:
    """An HTTP server on a free local port that keeps every body POSTed to it."""
    state = HeadReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.bodies.append(self.rfile.read(length))
            state.content_types.append(self.headers.get("Content-Type", ""))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/audit-heads"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
