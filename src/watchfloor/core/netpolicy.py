"""Where Watchfloor may send a request: the outbound-request policy.

Anything that POSTs to an address an administrator typed (notification webhooks, and
any connector to another system) goes through here, twice: when the address is saved
(:func:`check_outbound_url`, a clear error on the field) and again for every request
(:func:`post_pinned`), because what a name resolves to can change in between.

The rule: resolve the host and refuse it if any address it resolves to is loopback,
private, link-local, shared (carrier-grade NAT), multicast, reserved or unspecified, or
a cloud metadata service — whatever way the address is written (``127.0.0.1``,
``2130706433``, ``0x7f000001``, ``[::1]``, ``[::ffff:127.0.0.1]``, a name that resolves to
one of these). An administrator may allow a host by name in
``WATCHFLOOR_OUTBOUND_ALLOW_HOSTS`` (an on-premises chat server on the company network,
say); the name must match the URL's host exactly. Metadata services and the unspecified
address stay refused even then: no legitimate receiver lives there.

A request goes to the address checked, not to a second lookup: the URL's host is
replaced by the pinned address, the ``Host`` header keeps the name, and for https the
TLS server name (SNI) and the certificate check use the name (httpx's ``sni_hostname``
extension). So a name that resolves to a public address when checked and to
``127.0.0.1`` a moment later (DNS rebinding) still reaches the public address. Proxies
from the environment are not used (a proxy would resolve the name itself), redirects are
not followed, and at most :data:`MAX_RESPONSE_BYTES` of the answer are read. Certificates
are checked against the public authorities, and ``WATCHFLOOR_OUTBOUND_CA_BUNDLE`` when
set.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings

from watchfloor.core.errors import InvalidInput

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services: never a receiver, whatever the allow-list says. Most sit on
# link-local or private addresses (refused anyway); Azure's wire server and Alibaba's
# service do not look special, so they are named.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean …
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "168.63.129.16",  # Azure wire server
        "100.100.100.200",  # Alibaba Cloud
    )
)
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})
# NAT64 (RFC 6052): the last 32 bits are an IPv4 address reached through the gateway.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

# Read at most this much of a receiver's answer; the rest is never downloaded.
MAX_RESPONSE_BYTES = 64 * 1024
# What may be kept of an answer: a short excerpt, for an administrator's eyes.
EXCERPT_CHARS = 200

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")


class OutboundRefused(InvalidInput):
    """The address may not be sent to; the message says why and what to do."""

    code = "outbound_refused"


@dataclass(frozen=True)
class OutboundTarget:
    """A URL that passed the policy, with the addresses it was checked at."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]
    allow_listed: bool

    @property
    def pinned_address(self) -> IPAddress:
        return self.addresses[0]


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    # The first MAX_RESPONSE_BYTES of the body at most; ``truncated`` when there was more.
    content: bytes
    truncated: bool

    def excerpt(self) -> str:
        return sanitised_excerpt(self.content)


def allowed_hosts() -> frozenset[str]:
    """The names an administrator allowed to resolve to internal addresses."""
    configured: Any = getattr(settings, "WATCHFLOOR_OUTBOUND_ALLOW_HOSTS", ())
    if isinstance(configured, str):
        configured = configured.split(",")
    return frozenset(_normalise_host(str(name)) for name in configured if str(name).strip())


def _normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def why_internal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = why_internal(embedded)
            return f"it carries the address {embedded}, {reason}" if reason else None
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address (this machine)"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private-network address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public internet address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to (IP literals in any form included), in the
    resolver's order; raises OSError (socket.gaierror) when it does not resolve."""
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        # An IPv6 scope ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return tuple(found)


def check_outbound_url(url: str, *, field: str = "url") -> OutboundTarget:
    """Refuse ``url`` unless it is an http(s) address whose host resolves only to public
    addresses (or is allow-listed by name); returns it with the addresses checked."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise OutboundRefused(
            f"the address {url[:200]!r} is not a valid URL: {error}", field=field
        ) from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(
            "use the full http(s) address, e.g. https://hooks.example.com/watchfloor",
            field=field,
        )
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused(
            "put no user name or password in the address; the receiver verifies the "
            "request's signature instead",
            field=field,
        )
    host = _normalise_host(parts.hostname)
    port = port or (443 if scheme == "https" else 80)
    if host in METADATA_NAMES:
        raise OutboundRefused(f"{host} is a cloud metadata service, never a receiver", field=field)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as error:
        raise OutboundRefused(
            f"the host {host} could not be resolved ({error}); check the name", field=field
        ) from error
    if not addresses:
        raise OutboundRefused(f"the host {host} resolves to no address", field=field)
    allow_listed = host in allowed_hosts()
    for address in addresses:
        if address in METADATA_ADDRESSES or address.is_unspecified:
            raise OutboundRefused(
                f"{host} resolves to {address}, a cloud metadata service or the unspecified "
                "address: requests may never go there",
                field=field,
            )
        reason = why_internal(address)
        if reason and not allow_listed:
            raise OutboundRefused(
                f"{host} resolves to {address}, {reason}: requests to internal addresses "
                "are refused. If this receiver really is on your network, an administrator "
                f"may allow the name in WATCHFLOOR_OUTBOUND_ALLOW_HOSTS",
                field=field,
            )
    return OutboundTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        addresses=addresses,
        allow_listed=allow_listed,
    )


def tls_verification() -> ssl.SSLContext:
    """The certificate authorities trusted for https receivers: the public ones (certifi),
    plus ``WATCHFLOOR_OUTBOUND_CA_BUNDLE`` when set (a company CA for an allow-listed
    receiver on the internal network). Certificates are always checked."""
    import httpx  # here, not at the top: every command's start-up imports this module

    context = httpx.create_ssl_context()
    bundle = getattr(settings, "WATCHFLOOR_OUTBOUND_CA_BUNDLE", "")
    if bundle:
        context.load_verify_locations(cafile=str(bundle))
    return context


def _pinned_url(target: OutboundTarget) -> httpx.URL:
    import httpx

    return httpx.URL(target.url).copy_with(host=str(target.pinned_address), port=target.port)


def _host_header(target: OutboundTarget) -> str:
    default = 443 if target.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host
    return name if target.port == default else f"{name}:{target.port}"


def post_pinned(
    target: OutboundTarget,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> OutboundResponse:
    """POST ``content`` to the address ``target`` was checked at (see the module's
    docstring). Raises httpx's errors (timeouts, transport errors) as they come."""
    # Identity encoding: the cap applies to bytes as they arrive, so a small compressed
    # answer cannot unpack into a large one.
    import httpx

    request_headers = {**headers, "Host": _host_header(target), "Accept-Encoding": "identity"}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    with httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        verify=tls_verification(),
    ) as client:
        request = client.build_request(
            "POST",
            _pinned_url(target),
            content=content,
            headers=request_headers,
            extensions=extensions,
        )
        response = client.send(request, stream=True)
        try:
            body = bytearray()
            truncated = False
            for chunk in response.iter_raw():
                body.extend(chunk)
                if len(body) > max_response_bytes:
                    truncated = True
                    del body[max_response_bytes:]
                    break
        finally:
            response.close()
    return OutboundResponse(
        status_code=response.status_code,
        headers=response.headers,
        content=bytes(body),
        truncated=truncated,
    )


def sanitised_excerpt(content: bytes, *, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable excerpt of a receiver's answer: decoded leniently, control and
    direction characters removed, whitespace collapsed, cut to ``limit`` characters."""
    text = content[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
