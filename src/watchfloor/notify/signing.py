"""Webhook request signing: ``X-Watchfloor-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the channel's secret, over the bytes
``<t>.<request body>``. Putting the time inside the signed text lets a receiver refuse a
replayed request: it recomputes the HMAC over the exact body it received, compares in
constant time, and rejects timestamps too far from its own clock.
:func:`verify_signature` is what a receiver written in Python would do (see
docs/notifications.md for other languages).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Watchfloor-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix that marks the value as a secret)
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def compute_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={compute_signature(secret=secret, timestamp=timestamp, body=body)}"


class SignatureError(ValueError):
    """The request is not provably from Watchfloor; the message says why."""


def verify_signature(
    *,
    secret: str,
    header: str | None,
    body: bytes,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body``; return the signed timestamp or raise SignatureError.

    Several ``v1=`` values may be present (while a secret is being rotated a sender may
    sign with both); any one matching is enough.
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(f"t={value!r} is not a Unix time in seconds") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("the header needs both t=<unix seconds> and v1=<hex>")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(
            f"signed {abs(now - timestamp)} s away from now; more than {tolerance_seconds} s "
            "suggests a replayed request (or a clock that is badly off)"
        )
    expected = compute_signature(secret=secret, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("the signature does not match the body and the secret")
    return timestamp
