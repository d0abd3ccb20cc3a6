"""The platform side of enforcement in tests: a real HTTP server on 127.0.0.1 that checks
the signature as docs/banks.md tells a platform to, answers as each test scripts it, and
calls back (signed) to confirm or refuse; with the connector that points at it. The
fixtures are offered to every bank test by tests/banks/conftest.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.notify.conftest import DueTasks
from watchfloor.banks.actioner import save_connector
from watchfloor.banks.models import EnforcementConnector
from watchfloor.core import clock
from watchfloor.notify.signing import signature_header


@dataclass
class Platform:
    """Answers POSTs from ``script`` (status codes; past it, 202) and remembers each
    request with whether its signature held. ``callback_base``: call back there after a
    2xx, with ``verdict`` filling in the callback."""

    secret: str = ""
    url: str = ""
    script: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    callback_base: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)
    callbacks: list[int] = field(default_factory=list)
    called_back: threading.Event = field(default_factory=threading.Event)

    def verifies(self, headers: dict[str, str], body: bytes) -> bool:
        """What a platform does, written from docs/banks.md alone."""
        parts = dict(p.split("=", 1) for p in headers.get("X-Watchfloor-Signature", "").split(","))
        if "t" not in parts or "v1" not in parts:
            return False
        signed = parts["t"].encode() + b"." + body
        expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])

    def callback_body(self, payload: dict[str, Any]) -> bytes:
        return json.dumps({"idempotency_key": payload["idempotency_key"], **self.verdict}).encode()

    def signed(self, body: bytes) -> str:
        return signature_header(
            secret=self.secret, timestamp=int(clock.now().timestamp()), body=body
        )


@pytest.fixture
def platform(settings) -> Iterator[Platform]:
    settings.WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS = 5
    settings.WATCHFLOOR_NOTIFY_BACKOFF_BASE_SECONDS = 30
    # The outbound policy refuses loopback unless allowed (core.netpolicy).
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    state = Platform()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = dict(self.headers.items())
            payload = json.loads(body)
            state.requests.append(
                {"headers": headers, "payload": payload, "verified": state.verifies(headers, body)}
            )
            status = state.script.pop(0) if state.script else 202
            if not state.verifies(headers, body):
                status = 401
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if status < 300 and state.callback_base:
                threading.Thread(target=self.call_back, args=(payload,), daemon=True).start()

        def call_back(self, payload: dict[str, Any]) -> None:
            body = state.callback_body(payload)
            response = httpx.post(
                state.callback_base + payload["callback_path"],
                content=body,
                headers={"X-Watchfloor-Signature": state.signed(body)},
                timeout=10,
            )
            state.callbacks.append(response.status_code)
            state.called_back.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/enforce"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def connector(catalog, platform) -> EnforcementConnector:
    saved = save_connector(
        connector=EnforcementConnector(
            code="platform", name="Platform enforcement", url=platform.url
        ),
        actor=None,
    )
    platform.secret = saved.secret
    return saved


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def run_due(committed) -> DueTasks:
    return DueTasks(committed)
