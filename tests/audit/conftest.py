"""Fixtures for the keyed chain: the keys, a log written before keying, and a real HTTP
receiver for published heads (tampering itself is in tests/audit/tampering.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.audit.tampering import KEY_A, keyring, seal_the_unkeyed_events
from watchfloor.audit.events import AuditAction
from watchfloor.audit.hashing import compute_event_hash
from watchfloor.audit.keys import AuditKeyring
from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from watchfloor.core import clock


@pytest.fixture
def use_keys(settings):
    """Configure the audit keys for the rest of the test: ``use_keys(KEY_B, KEY_A)``."""

    def configure(*secrets: str) -> AuditKeyring:
        settings.WATCHFLOOR_AUDIT_KEYRING = keyring(*secrets)
        return settings.WATCHFLOOR_AUDIT_KEYRING

    configure(KEY_A)
    return configure


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
