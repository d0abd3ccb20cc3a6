"""The demo's platform: a small enforcement system on 127.0.0.1 that answers the demo
connector as a real platform would, so the actioner can be shown end to end. Not for
production: it carries nothing out, keeps what it saw in memory, and only ever listens
on the loopback interface.

It does what docs/banks.md asks of a platform: it verifies each request's signature
(``X-Watchfloor-Signature``, HMAC-SHA256 with the connector's secret) and refuses a bad
one with 401, refuses bodies over :data:`MAX_REQUEST_BYTES` (413) and malformed ones
(400), takes a request with 202, acts on each idempotency key once, and then calls
Watchfloor back, signed, saying which items it carried out and which it refused. Its
verdicts (:func:`verdict_for`) are simple and stable, so a demo shows both outcomes:
an item whose reference contains ``refuse`` is refused, as is an account named in a
content action (an account is suspended, not removed) and a post named in a suspension.

:func:`ensure_demo_connector` creates (or points at a new address) the one connector the
demo uses, ``demo-platform``; ``watchfloor demo`` starts the platform beside the server.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from watchfloor.banks.actioner import save_connector
from watchfloor.banks.models import EnforcementConnector
from watchfloor.core import clock
from watchfloor.notify.signing import (
    SIGNATURE_HEADER,
    SignatureError,
    signature_header,
    verify_signature,
)

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
PATH = "/enforce"
CONNECTOR_CODE = "demo-platform"
CONNECTOR_NAME = "Demo platform — Trust & Safety enforcement"
# The largest request the actioner makes is 10,000 items; typical references are far
# shorter than their 2,000-character limit, so 16 MiB leaves room for any real one.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
# Idempotency keys remembered, so a retried request is acted on once.
KEYS_REMEMBERED = 10_000
CALLBACK_ATTEMPTS = 4
CALLBACK_TIMEOUT_SECONDS = 10.0
PLATFORM_OPERATOR = "demo-platform:enforcement-bot"

CONTENT_ACTIONS = frozenset(
    {"remove_content", "label_interstitial", "reduce_reach", "withhold_in_countries"}
)
ACCOUNT_ACTIONS = frozenset({"suspend_account"})


def is_account(reference: str) -> bool:
    return reference.startswith(("@", "account:", "account/", "user:", "user/"))


def verdict_for(action: str, reference: str) -> tuple[str, str]:
    """What the demo platform does with one item: ``("done", "")`` or ``("refused",
    why)``."""
    if "refuse" in reference.lower():
        return "refused", "kept up after the platform's own review (demo: its id says refuse)"
    if action in CONTENT_ACTIONS and is_account(reference):
        return "refused", "an account is not content: suspend it, or name its posts"
    if action in ACCOUNT_ACTIONS and not is_account(reference):
        return "refused", "not an account: only accounts are suspended"
    return "done", ""


@dataclass(frozen=True)
class Callback:
    """One call back to Watchfloor: the request's key and the HTTP status it answered
    (None when it could not be reached)."""

    idempotency_key: str
    status_code: int | None
    error: str = ""


class DemoPlatform:
    """The platform's HTTP server. :meth:`bind` takes a free port on 127.0.0.1 (so its
    address can go into the connector), :meth:`start` serves on a daemon thread with the
    connector's secret, :meth:`stop` closes the port and ends every thread it started.

    ``callback_base``: where Watchfloor listens (``http://127.0.0.1:8000``); the request
    names the path."""

    def __init__(self, *, callback_base: str, port: int = 0) -> None:
        self.callback_base = callback_base.rstrip("/")
        self.secret = ""
        self.requests_taken = 0
        self.refusals: list[tuple[int, str]] = []  # (status, reason) of requests refused
        self.callbacks: list[Callback] = []
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._numbers = itertools.count(1)
        self.called_back = threading.Condition(self._lock)

    # ---------------------------------------------------------------- life cycle

    def bind(self) -> DemoPlatform:
        self._server = ThreadingHTTPServer((HOST, self._port), _handler_for(self))
        self._server.daemon_threads = True
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the demo platform is not bound to a port yet")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, secret: str) -> DemoPlatform:
        if not secret:
            raise ValueError("the demo platform needs the connector's secret to verify requests")
        if self._server is None:
            self.bind()
        self.secret = secret
        server = self._server
        assert server is not None
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="watchfloor-demo-platform",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and end the server's and the callbacks' threads."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:
                server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for worker in list(self._workers):
            worker.join(timeout=CALLBACK_TIMEOUT_SECONDS * 2)
        self._workers.clear()

    def __enter__(self) -> DemoPlatform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- requests

    def first_time(self, idempotency_key: str) -> bool:
        """Whether the key is new (a retry of a request taken already is not)."""
        with self._lock:
            if idempotency_key in self._seen:
                return False
            self._seen[idempotency_key] = None
            if len(self._seen) > KEYS_REMEMBERED:
                self._seen.popitem(last=False)
            return True

    def note_taken(self) -> None:
        with self._lock:
            self.requests_taken += 1

    def note_refusal(self, status: int, reason: str) -> None:
        with self._lock:
            self.refusals.append((status, reason))

    def answer_for(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The callback body: per item, carried out or refused by :func:`verdict_for`."""
        action = str(payload.get("action", ""))
        results = [(str(item), *verdict_for(action, str(item))) for item in payload["items"]]
        refused = [(reference, detail) for reference, status, detail in results if status != "done"]
        return {
            "idempotency_key": payload["idempotency_key"],
            "status": "refused" if len(refused) == len(results) else "carried_out",
            "carried_out_at": clock.now().isoformat(),
            "by": PLATFORM_OPERATOR,
            "reference": f"DEMO-ENF-{next(self._numbers):04d}",
            "reason": refused[0][1] if len(refused) == len(results) else "",
            "items": [
                {"reference": reference, "status": "refused", "detail": detail}
                for reference, detail in refused
            ],
        }

    def call_back_later(self, payload: dict[str, Any]) -> None:
        worker = threading.Thread(
            target=self._call_back,
            args=(payload,),
            name="watchfloor-demo-platform-callback",
            daemon=True,
        )
        with self._lock:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def _call_back(self, payload: dict[str, Any]) -> None:
        import httpx

        body = json.dumps(self.answer_for(payload)).encode()
        url = self.callback_base + str(payload["callback_path"])
        outcome = Callback(payload["idempotency_key"], None, "not attempted")
        for attempt in range(CALLBACK_ATTEMPTS):
            # Watchfloor may still be starting (a request resumed by the worker).
            if attempt and self._stopping.wait(2.0**attempt):
                break
            header = signature_header(
                secret=self.secret, timestamp=int(clock.now().timestamp()), body=body
            )
            try:
                # trust_env=False: a proxy from the environment never sees the loopback call.
                response = httpx.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: header},
                    timeout=CALLBACK_TIMEOUT_SECONDS,
                    trust_env=False,
                )
            except httpx.HTTPError as error:
                reason = str(error) or type(error).__name__
                outcome = Callback(payload["idempotency_key"], None, reason)
                continue
            outcome = Callback(payload["idempotency_key"], response.status_code)
            if response.status_code < 500:
                break
        if outcome.status_code != 200:
            logger.warning(
                "the demo platform could not confirm request %s at %s: %s",
                payload["idempotency_key"],
                url,
                outcome.error or f"HTTP {outcome.status_code}",
            )
        with self.called_back:
            self.callbacks.append(outcome)
            self.called_back.notify_all()

    def wait_for_callbacks(self, count: int, *, timeout: float) -> list[Callback]:
        """The callbacks made, once there are ``count`` of them (or ``timeout`` passed)."""
        with self.called_back:
            self.called_back.wait_for(lambda: len(self.callbacks) >= count, timeout=timeout)
            return list(self.callbacks)


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _read_request(handler: BaseHTTPRequestHandler, platform: DemoPlatform) -> dict[str, Any]:
    """The request's payload, or a refusal saying what is wrong with it."""
    if handler.path.split("?", 1)[0] != PATH:
        raise _Refusal(404, f"requests are POSTed to {PATH}")
    length_header = handler.headers.get("Content-Length")
    if length_header is None:
        raise _Refusal(411, "a Content-Length header is required")
    try:
        length = int(length_header)
    except ValueError:
        raise _Refusal(400, "Content-Length is not a number") from None
    if length < 0:
        raise _Refusal(400, "Content-Length is negative")
    if length > MAX_REQUEST_BYTES:
        raise _Refusal(
            413, f"a request is at most {MAX_REQUEST_BYTES:,} bytes, this one {length:,}"
        )
    body = handler.rfile.read(length)
    try:
        verify_signature(
            secret=platform.secret,
            header=handler.headers.get(SIGNATURE_HEADER),
            body=body,
            now=int(clock.now().timestamp()),
        )
    except SignatureError as error:
        raise _Refusal(401, f"{SIGNATURE_HEADER}: {error}") from None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Refusal(400, "the body is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "enforcement.request":
        raise _Refusal(400, "the body is not an enforcement.request object")
    for name in ("idempotency_key", "action", "callback_path"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            raise _Refusal(400, f"{name} is missing")
    if not str(payload["callback_path"]).startswith("/api/v1/enforcement/callback/"):
        raise _Refusal(400, "callback_path is not Watchfloor's callback")
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise _Refusal(400, "items is a non-empty list of references")
    return payload


def _handler_for(platform: DemoPlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "WatchfloorDemoPlatform/1"

        def do_POST(self) -> None:
            try:
                payload = _read_request(self, platform)
            except _Refusal as refusal:
                platform.note_refusal(refusal.status, refusal.reason)
                # What was not read stays unread: the connection is not reused.
                self.close_connection = True
                self._answer(refusal.status, {"error": refusal.reason})
                return
            if not platform.first_time(payload["idempotency_key"]):
                self._answer(200, {"status": "already taken"})
                return
            platform.note_taken()
            self._answer(202, {"status": "taken", "items": len(payload["items"])})
            platform.call_back_later(payload)

        def do_GET(self) -> None:
            self._answer(405, {"error": f"POST enforcement requests to {PATH}"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("demo platform: " + format, *args)

    return Handler


# ---------------------------------------------------------------- the demo's connector


def ensure_demo_connector(*, url: str | None) -> tuple[EnforcementConnector, bool]:
    """The demo's one connector, created on first use (sending final decisions on its
    own, with a secret of its own, kept in the database) or pointed at ``url``; an
    administrator's other changes to it (its name, switching it off) are kept.
    ``url=None`` keeps its address (or, for a new one, a loopback address where the
    platform is not running yet). Returns it and whether it was created."""
    existing = EnforcementConnector.objects.filter(code=CONNECTOR_CODE).first()
    if existing is not None:
        if url is None or existing.url == url:
            return existing, False
        existing.url = url
        return save_connector(connector=existing, actor=None), False
    connector = EnforcementConnector(
        code=CONNECTOR_CODE,
        name=CONNECTOR_NAME,
        url=url or _unused_loopback_url(),
        sends_final_decisions=True,
    )
    return save_connector(connector=connector, actor=None), True


def _unused_loopback_url() -> str:
    """An address on 127.0.0.1 where nothing listens now: requests to it retry until
    ``watchfloor demo`` starts the platform and points the connector at it."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    return f"http://{HOST}:{port}{PATH}"


def secret_hint(secret: str) -> str:
    """Enough of a secret to tell two apart, never the secret."""
    return secret[:10] + "…"
