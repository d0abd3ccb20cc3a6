"""Issue 11, finding 14: outbound requests.

Webhook addresses that reach this machine, the private network or a cloud metadata
service are refused however they are written, when a channel is saved and again before
each request; a name an administrator allow-lists may be internal; the request goes to
the address that was checked (no second lookup); at most a capped part of the answer is
read, and only administrators see an excerpt of it. The receivers are real HTTP servers
on this machine, started by the test.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from watchfloor.audit.models import AuditEvent
from watchfloor.core import netpolicy
from watchfloor.core.errors import InvalidInput
from watchfloor.core.netpolicy import OutboundRefused, OutboundTarget, check_outbound_url
from watchfloor.notify import delivery, transports
from watchfloor.notify.admin import ChannelForm
from watchfloor.notify.channels import save_channel, send_test_message
from watchfloor.notify.models import AttemptOutcome, Channel

# Every way the finding wrote an internal address, and the other forms a parser accepts.
REFUSED_URLS = [
    "http://127.0.0.1:5432/",
    "https://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://10.0.0.7/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/hook",  # … in hexadecimal
    "http://017700000001/hook",  # … in octal
    "http://127.1/hook",  # … shortened
    "http://localhost:8000/hook",
    "http://0.0.0.0:8000/hook",
    "http://[::]/hook",
    "http://192.168.1.20/hook",
    "http://172.16.5.4/hook",
    "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
    "http://224.0.0.1/hook",  # multicast
    "http://[ff02::1]/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://[fe80::1]/hook",
    "http://[fd00:ec2::254]/hook",  # AWS metadata over IPv6
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254, mapped
    "http://[2002:7f00:1::]/hook",  # 6to4 carrying 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 carrying 10.0.0.1
    "http://168.63.129.16/hook",  # Azure wire server: public-looking, still metadata
    "http://100.100.100.200/hook",  # Alibaba Cloud metadata
    "http://metadata.google.internal/computeMetadata/v1/",
]


@pytest.fixture(autouse=True)
def nothing_allow_listed(settings) -> None:
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = []


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_every_internal_address_form_is_refused(url):
    with pytest.raises(OutboundRefused) as refused:
        check_outbound_url(url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5432/", "https://169.254.169.254/", "http://[::1]/", "http://2130706433/"],
)
def test_a_channel_with_an_internal_address_is_not_saved(catalog, admin_user, url):
    with pytest.raises(InvalidInput) as refused:
        save_channel(
            channel=Channel(code="internal", name="Internal", kind="webhook", url=url),
            actor=admin_user,
            changed_fields=["url"],
        )
    assert refused.value.field == "url"
    assert "WATCHFLOOR_OUTBOUND_ALLOW_HOSTS" in refused.value.message or "metadata" in (
        refused.value.message
    )
    assert not Channel.objects.filter(code="internal").exists()


def test_the_admin_form_names_the_url_field(catalog):
    form = ChannelForm(
        data={
            "code": "db",
            "name": "Database",
            "kind": "webhook",
            "url": "http://127.0.0.1:5432/",
            "is_active": "on",
        }
    )
    assert not form.is_valid()
    assert "loopback" in " ".join(form.errors["url"])


def test_names_that_do_not_resolve_are_refused_with_the_name():
    with pytest.raises(OutboundRefused) as refused:
        check_outbound_url("https://no-such-host.invalid/hook")
    assert "no-such-host.invalid could not be resolved" in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example/x", "file:///etc/passwd", "https://user:secret@203.0.113.9/x", "x"],
)
def test_other_schemes_and_credentials_in_the_address_are_refused(url):
    with pytest.raises(OutboundRefused):
        check_outbound_url(url)


@given(
    address=st.one_of(
        st.ip_addresses(network="10.0.0.0/8"),
        st.ip_addresses(network="127.0.0.0/8"),
        st.ip_addresses(network="169.254.0.0/16"),
        st.ip_addresses(network="172.16.0.0/12"),
        st.ip_addresses(network="192.168.0.0/16"),
        st.ip_addresses(network="fc00::/7"),
        st.ip_addresses(network="fe80::/10"),
    )
)
@hypothesis_settings(max_examples=60, deadline=None)
def test_any_private_or_local_literal_is_refused_in_dotted_and_integer_form(address):
    literal = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(OutboundRefused):
        check_outbound_url(f"http://{literal}/hook")
    if address.version == 4:
        with pytest.raises(OutboundRefused):
            check_outbound_url(f"http://{int(address)}/hook")


def test_public_addresses_pass_the_rule():
    for public in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"):
        assert netpolicy.why_internal(ip_address(public)) is None
    # The documentation ranges are not on the internet either.
    assert netpolicy.why_internal(ip_address("203.0.113.9")) is not None


def test_an_allow_listed_name_may_be_internal_but_metadata_never(settings):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["localhost", "169.254.169.254"]
    target = check_outbound_url("http://LOCALHOST.:8000/hook")
    assert target.allow_listed and target.host == "localhost"
    assert target.pinned_address.is_loopback
    # The allow-list matches the name as written, not what it resolves to.
    with pytest.raises(OutboundRefused):
        check_outbound_url("http://127.0.0.1:8000/hook")
    with pytest.raises(OutboundRefused, match="metadata"):
        check_outbound_url("http://169.254.169.254/latest/meta-data/")


# ---------------------------------------------------------------- a real receiver


@dataclass
class Receiver:
    port: int = 0
    answer_status: int = 200
    answer_body: bytes = b"ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    ca_file: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
            )
            self.send_response(state.answer_status)
            self.send_header("Content-Length", str(len(state.answer_body)))
            self.end_headers()
            # The client may stop reading at its cap: that is the point.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(state.answer_body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.port = server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _channel(admin_user, url: str) -> Channel:
    return save_channel(
        channel=Channel(code="on-prem-chat", name="On-prem chat", kind="webhook", url=url),
        actor=admin_user,
        changed_fields=["code", "name", "kind", "url"],
    )


def test_an_allow_listed_receiver_gets_the_webhook(settings, catalog, admin_user, receiver):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["localhost"]
    channel = _channel(admin_user, f"http://localhost:{receiver.port}/hooks/watchfloor")
    notification = send_test_message(channel=channel, actor=admin_user)
    assert delivery.attempt_delivery(notification_id=notification.pk) == "delivered"
    (request,) = receiver.requests
    assert request["path"] == "/hooks/watchfloor"
    assert request["headers"]["Host"] == f"localhost:{receiver.port}"
    assert "X-Watchfloor-Signature" in request["headers"]


def test_the_address_is_checked_again_when_sending(settings, catalog, admin_user, receiver):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["localhost"]
    channel = _channel(admin_user, f"http://localhost:{receiver.port}/hook")
    notification = send_test_message(channel=channel, actor=admin_user)
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = []  # the name is no longer allowed
    delivery.attempt_delivery(notification_id=notification.pk)
    attempt = notification.attempts.get()
    assert attempt.outcome == AttemptOutcome.REJECTED
    assert "refused" in attempt.error and "loopback" in attempt.error
    assert receiver.requests == []


def test_the_request_goes_to_the_pinned_address_without_a_second_lookup(receiver):
    """A target checked at 127.0.0.1 under a name that no resolver knows: if the request
    looked the name up again (where DNS rebinding strikes) it could not connect."""
    target = OutboundTarget(
        url=f"http://rebound.invalid:{receiver.port}/hook?x=1",
        scheme="http",
        host="rebound.invalid",
        port=receiver.port,
        addresses=(ip_address("127.0.0.1"),),
        allow_listed=True,
    )
    response = netpolicy.post_pinned(target, content=b"{}", headers={}, timeout=5)
    assert response.status_code == 200
    (request,) = receiver.requests
    assert request["path"] == "/hook?x=1"
    assert request["headers"]["Host"] == f"rebound.invalid:{receiver.port}"


def test_https_keeps_the_name_for_the_server_name_and_certificate(receiver):
    target = OutboundTarget(
        url="https://hooks.example.com/hook",
        scheme="https",
        host="hooks.example.com",
        port=443,
        addresses=(ip_address("203.0.113.9"),),
        allow_listed=False,
    )
    assert str(netpolicy._pinned_url(target)) == "https://203.0.113.9/hook"
    assert netpolicy._host_header(target) == "hooks.example.com"
    over_ipv6 = OutboundTarget(
        url="https://hooks.example.com:8443/hook",
        scheme="https",
        host="hooks.example.com",
        port=8443,
        addresses=(ip_address("2001:4860:4860::8888"),),
        allow_listed=False,
    )
    assert str(netpolicy._pinned_url(over_ipv6)) == "https://[2001:4860:4860::8888]:8443/hook"
    assert netpolicy._host_header(over_ipv6) == "hooks.example.com:8443"


def test_only_a_capped_part_of_the_answer_is_read(settings, receiver):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["localhost"]
    receiver.answer_body = b"A" * (5 * netpolicy.MAX_RESPONSE_BYTES)
    target = check_outbound_url(f"http://localhost:{receiver.port}/hook")
    response = netpolicy.post_pinned(target, content=b"{}", headers={}, timeout=5)
    assert response.truncated
    assert len(response.content) == netpolicy.MAX_RESPONSE_BYTES
    assert len(response.excerpt()) == netpolicy.EXCERPT_CHARS


CANARY = "CANARY-7Q-receiver-internal-banner"


@pytest.mark.parametrize("status", [200, 500])
def test_the_receivers_answer_is_shown_to_administrators_only(
    settings, catalog, admin_user, lead, receiver, status
):
    settings.WATCHFLOOR_OUTBOUND_ALLOW_HOSTS = ["localhost"]
    receiver.answer_status = status
    receiver.answer_body = f"\x1b[31m{CANARY}\x07\u202e\r\nsecond line".encode()
    channel = _channel(admin_user, f"http://localhost:{receiver.port}/hook")
    notification = send_test_message(channel=channel, actor=admin_user)
    delivery.attempt_delivery(notification_id=notification.pk)
    attempt = notification.attempts.get()
    assert CANARY not in attempt.error
    assert attempt.response_excerpt == f"[31m{CANARY} second line"
    notification.refresh_from_db()
    assert CANARY not in notification.last_error
    for event in AuditEvent.objects.filter(action__startswith="notify."):
        assert CANARY not in str(event.data)

    def page(user) -> str:
        client = Client()
        client.force_login(user)
        response = client.get(reverse("notify-deliveries"))
        assert response.status_code == 200
        return response.content.decode()

    assert f"HTTP {status}" in page(lead) or status == 200
    assert CANARY not in page(lead)
    admin_page = page(admin_user)
    assert CANARY in admin_page
    assert "\x1b" not in admin_page and "\u202e" not in admin_page


def test_transport_refusal_is_final_not_retried(catalog):
    result = transports.post_webhook(
        url="http://169.254.169.254/latest/meta-data/",
        body=b"{}",
        secret="",
        timestamp=0,
        headers={},
    )
    assert result.outcome == AttemptOutcome.REJECTED and not result.retryable
    assert "metadata" in result.error


# ---------------------------------------------------------------- https through the pin


def _certificate_authority(folder: Path, server_name: str) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a certificate it signed for ``server_name``: files
    (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, names=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                critical=False,
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate(
        "Watchfloor test CA", "Watchfloor test CA", ca_key.public_key(), ca_key, ca=True
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = certificate(
        server_name,
        "Watchfloor test CA",
        server_key.public_key(),
        ca_key,
        ca=False,
        names=[server_name],
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
def https_receiver(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[Receiver, list[str]]]:
    """An https server on 127.0.0.1 with a certificate for hooks.watchfloor.test only;
    yields the receiver and the server names (SNI) clients asked for."""
    ca_file, certificate, key = _certificate_authority(tmp_path, "hooks.watchfloor.test")
    asked_for: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    context.sni_callback = lambda sock, name, ctx: asked_for.append(name or "")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append({"path": self.path, "headers": dict(self.headers)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receiver.port = server.server_address[1]
    receiver.requests.clear()
    receiver.ca_file = str(ca_file)
    try:
        yield receiver, asked_for
    finally:
        server.shutdown()
        server.server_close()


def _pinned_to_this_machine(name: str, port: int) -> OutboundTarget:
    return OutboundTarget(
        url=f"https://{name}:{port}/hook",
        scheme="https",
        host=name,
        port=port,
        addresses=(ip_address("127.0.0.1"),),
        allow_listed=True,
    )


def test_https_through_the_pin_asks_for_and_verifies_the_name(settings, https_receiver):
    receiver, asked_for = https_receiver
    settings.WATCHFLOOR_OUTBOUND_CA_BUNDLE = receiver.ca_file
    target = _pinned_to_this_machine("hooks.watchfloor.test", receiver.port)
    response = netpolicy.post_pinned(target, content=b"{}", headers={}, timeout=5)
    assert response.status_code == 204
    assert asked_for == ["hooks.watchfloor.test"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.watchfloor.test:{receiver.port}"


def test_https_through_the_pin_refuses_a_certificate_for_another_name(settings, https_receiver):
    receiver, _ = https_receiver
    settings.WATCHFLOOR_OUTBOUND_CA_BUNDLE = receiver.ca_file
    target = _pinned_to_this_machine("other.watchfloor.test", receiver.port)
    with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
        netpolicy.post_pinned(target, content=b"{}", headers={}, timeout=5)
    assert receiver.requests == []


def test_https_without_the_company_ca_is_refused(https_receiver):
    receiver, _ = https_receiver
    target = _pinned_to_this_machine("hooks.watchfloor.test", receiver.port)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        netpolicy.post_pinned(target, content=b"{}", headers={}, timeout=5)


def test_answers_recorded_before_are_moved_out_of_what_leads_read(catalog):
    """Attempts recorded by the older version carry the answer in ``error``; the
    migration moves it to the excerpt, and the timeline reads old audit events without it."""
    from django.apps import apps

    from watchfloor.core import clock
    from watchfloor.notify.models import DeliveryAttempt, Notification
    from watchfloor.notify.timeline import DESCRIBERS

    migration = importlib.import_module(
        "watchfloor.notify.migrations.0002_attempt_response_excerpt"
    )
    now = clock.now()
    notification = Notification.objects.create(
        target="channel: war-room",
        reason="test",
        kind="webhook",
        max_attempts=3,
        created_at=now,
        status="failed",
        last_error=f"HTTP 500: {CANARY}",
    )
    old = DeliveryAttempt.objects.create(
        notification=notification,
        number=1,
        started_at=now,
        finished_at=now,
        outcome="rejected",
        status_code=500,
        error=f"HTTP 500: \x1b{CANARY}\n (redirect to http://10.0.0.1/ not followed)",
    )
    kept = DeliveryAttempt.objects.create(
        notification=notification,
        number=2,
        started_at=now,
        finished_at=now,
        outcome="failed",
        error="ConnectError: [Errno 111] Connection refused",
    )
    migration.separate_answers(apps, None)
    old.refresh_from_db()
    kept.refresh_from_db()
    notification.refresh_from_db()
    assert old.error == "HTTP 500"
    assert old.response_excerpt.startswith(CANARY) and "\x1b" not in old.response_excerpt
    assert kept.error == "ConnectError: [Errno 111] Connection refused"
    assert notification.last_error == "HTTP 500"

    _, detail = DESCRIBERS["notify.delivery_failed"]({"error": f"HTTP 404: {CANARY}"})
    assert detail == "HTTP 404"
