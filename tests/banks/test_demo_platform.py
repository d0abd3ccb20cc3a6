"""The demo's platform (banks.demo_platform) against the real actioner: a decision made
final goes out through the worker to the platform on 127.0.0.1, which verifies it and
calls back; bad signatures and oversize bodies are refused; ``watchfloor demo`` keeps one
connector."""

from __future__ import annotations

import io
import json
import socket
import threading

import httpx
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils.html import escape

from tests.banks.test_actioner import final_decision
from tests.waiting import wait_until
from watchfloor.banks import demo_platform
from watchfloor.banks.demo_platform import (
    CONNECTOR_CODE,
    CONNECTOR_NAME,
    PLATFORM_OPERATOR,
    DemoPlatform,
    ensure_demo_connector,
    verdict_for,
)
from watchfloor.banks.models import EnforcementConnector, EnforcementRequest, RequestStatus
from watchfloor.bootstrap.demo import demo_platform_reachable
from watchfloor.bootstrap.server import start_demo_platform
from watchfloor.core import clock
from watchfloor.escalations.inputs import SubjectInput
from watchfloor.notify.signing import SIGNATURE_HEADER, signature_header

# No frozen clock: the platform's threads read the real one (core.clock is per thread),
# so both sides sign and verify with the time as it is.
SECRET = "whsec_demo-platform-tests"


@pytest.fixture
def reachable(settings):
    """The demo's allowance of 127.0.0.1, as ``watchfloor demo`` makes it."""
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = []
    settings.WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS = 10
    with demo_platform_reachable():
        assert settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS == ["127.0.0.1"]
        yield
    assert settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS == []


@pytest.fixture
def alone():
    """A platform with no Watchfloor to call back (callbacks fail at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with DemoPlatform(callback_base=nowhere).bind().start(secret=SECRET) as platform:
        yield platform


def enforcement_request(**overrides) -> dict:
    return {
        "type": "enforcement.request",
        "idempotency_key": "a" * 32,
        "action": "remove_content",
        "countries": [],
        "items": ["post:1"],
        "callback_path": f"/api/v1/enforcement/callback/{CONNECTOR_CODE}",
        **overrides,
    }


def post(platform: DemoPlatform, body: bytes, *, secret: str = SECRET) -> httpx.Response:
    header = signature_header(secret=secret, timestamp=int(clock.now().timestamp()), body=body)
    return httpx.post(
        platform.url, content=body, headers={SIGNATURE_HEADER: header}, trust_env=False
    )


@pytest.mark.django_db(transaction=True)
def test_a_final_decision_is_carried_out_by_the_demo_platform_end_to_end(
    reachable, live_server, analyst, make_escalation, committed, run_due
):
    out = io.StringIO()
    platform = start_demo_platform(stdout=out, host="localhost", port=live_server.thread.port)
    try:
        connector = EnforcementConnector.objects.get(code=CONNECTOR_CODE)
        assert connector.url == platform.url and connector.sends_final_decisions
        line = out.getvalue()
        assert f"'{CONNECTOR_NAME}' sends final decisions on their own" in line
        assert platform.url in line and "not for production" in line
        assert connector.secret not in line and connector.secret[:10] in line

        escalation = make_escalation(
            subjects=[SubjectInput("post", "post:attack-1"), SubjectInput("post", "post:refuse-2")]
        )
        with committed():
            decision = final_decision(escalation, analyst)
        assert run_due() == ["send_enforcement_request: sent"]
        [answered] = platform.wait_for_callbacks(1, timeout=30)
        assert answered.status_code == 200, answered.error
        request = wait_until(
            lambda: EnforcementRequest.objects.filter(
                decision=decision, status=RequestStatus.PARTLY_CARRIED_OUT
            ).first(),
            timeout=10,
            waiting_for="the platform's answer to be recorded",
        )
    finally:
        platform.stop()
    assert request.automatic and request.connector == connector
    assert request.completed_by == PLATFORM_OPERATOR
    assert request.platform_reference == "DEMO-ENF-0001"
    assert request.completed_at is not None
    assert dict(request.items.values_list("reference", "status")) == {
        "post:attack-1": "done",
        "post:refuse-2": "refused",
    }
    client = Client()
    client.force_login(analyst)
    page = client.get(f"/escalations/{escalation.pk}/").content.decode()
    assert f"Final decisions go out on their own through {escape(CONNECTOR_NAME)}." in page
    assert f"by {PLATFORM_OPERATOR} (DEMO-ENF-0001)" in page
    assert "1 done · 1 refused" in page or "1 refused · 1 done" in page


def test_a_request_signed_with_another_secret_is_refused_and_the_actioner_gives_up(
    reachable, analyst, make_escalation, committed, run_due
):
    with DemoPlatform(callback_base="http://127.0.0.1:1").bind() as platform:
        _connector, created = ensure_demo_connector(url=platform.url)
        assert created
        platform.start(secret=SECRET)  # not the connector's secret
        escalation = make_escalation(subjects=[SubjectInput("post", "post:attack-1")])
        with committed():
            decision = final_decision(escalation, analyst)
        [outcome] = run_due()
    assert outcome.startswith("send_enforcement_request: gave up") and "401" in outcome
    request = EnforcementRequest.objects.get(decision=decision)
    assert request.status == RequestStatus.FAILED and "401" in request.last_error
    assert platform.requests_taken == 0 and platform.callbacks == []
    [(status, reason)] = platform.refusals
    assert status == 401 and "does not match the body and the secret" in reason


def test_an_unsigned_or_badly_signed_request_is_refused_and_never_acted_on(alone):
    body = json.dumps(enforcement_request()).encode()
    unsigned = httpx.post(alone.url, content=body, trust_env=False)
    assert unsigned.status_code == 401
    assert unsigned.json()["error"] == f"{SIGNATURE_HEADER}: no {SIGNATURE_HEADER} header"
    assert post(alone, body, secret="whsec_someone-else").status_code == 401
    assert post(alone, body).status_code == 202  # signed with the secret it holds
    assert alone.requests_taken == 1 and len(alone.refusals) == 2


def test_an_oversize_body_is_refused_before_it_is_read(alone, monkeypatch):
    monkeypatch.setattr(demo_platform, "MAX_REQUEST_BYTES", 1024)
    items = [f"post:{n:06d}" for n in range(200)]
    body = json.dumps(enforcement_request(items=items)).encode()
    assert len(body) > 1024
    answer = post(alone, body)
    assert answer.status_code == 413
    assert answer.json()["error"] == f"a request is at most 1,024 bytes, this one {len(body):,}"
    assert alone.requests_taken == 0


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", "the body is not JSON"),
        (json.dumps({"type": "something.else"}).encode(), "not an enforcement.request"),
        (json.dumps(enforcement_request(items=[])).encode(), "items is a non-empty list"),
        (json.dumps(enforcement_request(idempotency_key="")).encode(), "idempotency_key"),
        (
            json.dumps(enforcement_request(callback_path="/admin/")).encode(),
            "callback_path is not Watchfloor's callback",
        ),
    ],
)
def test_a_malformed_request_is_refused_with_what_is_wrong(alone, payload, error):
    answer = post(alone, payload)
    assert answer.status_code == 400 and error in answer.json()["error"]


@pytest.mark.slow
def test_a_retried_request_is_acted_on_once(alone):
    body = json.dumps(enforcement_request()).encode()
    assert post(alone, body).status_code == 202
    assert post(alone, body).json() == {"status": "already taken"}
    assert alone.requests_taken == 1
    [callback] = alone.wait_for_callbacks(1, timeout=30)
    assert callback.status_code is None and callback.error


def test_the_platform_refuses_what_a_platform_would():
    assert verdict_for("remove_content", "post:1") == ("done", "")
    assert verdict_for("remove_content", "post:refuse-1")[0] == "refused"
    assert verdict_for("remove_content", "@demo_harasser_01")[0] == "refused"
    assert verdict_for("suspend_account", "@demo_harasser_01") == ("done", "")
    assert verdict_for("suspend_account", "post/8841200017")[0] == "refused"


def test_a_stopped_platform_leaves_no_thread_and_no_port():
    platform = DemoPlatform(callback_base="http://127.0.0.1:1").bind().start(secret=SECRET)
    port = platform.port
    assert platform.running
    platform.stop()
    assert not platform.running
    assert not [t for t in threading.enumerate() if t.name.startswith("watchfloor-demo-platform")]
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    with pytest.raises(ValueError, match="needs the connector's secret"):
        DemoPlatform(callback_base="http://127.0.0.1:1").start(secret="")


@pytest.mark.slow
def test_the_demo_command_keeps_one_connector_and_starts_nothing_with_no_serve(catalog, settings):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = []
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        call_command("demo", "--no-serve", stdout=out)
        outputs.append(out.getvalue())
    connector = EnforcementConnector.objects.get()
    assert (connector.code, connector.name) == (CONNECTOR_CODE, CONNECTOR_NAME)
    assert connector.sends_final_decisions and connector.is_active
    assert connector.url.startswith("http://127.0.0.1:")
    for output in outputs:
        assert "not started with --no-serve" in output
        assert "--no-serve: nothing started (no server, worker or platform)" in output
        assert connector.secret not in output
    # The allowance of 127.0.0.1 ends with the command.
    assert settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS == []
    assert not [t for t in threading.enumerate() if t.name.startswith("watchfloor-demo-platform")]
