"""Sending one message: by email through Django's email backend, or by HTTP POST.

Each function makes exactly one try and says what happened in a :class:`SendResult`;
deciding whether and when to try again is the service's job. Only the failures that
these transports are known to raise are caught: anything else is a bug and should fail
loudly (the delivery is then recovered by the worker, see ``resume_overdue_work``).
"""

from __future__ import annotations

import json
import re
import smtplib
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from watchfloor.core import netpolicy
from watchfloor.notify import conf
from watchfloor.notify.models import AttemptOutcome
from watchfloor.notify.signing import SIGNATURE_HEADER, signature_header

# Worth another try: the receiver is overloaded, restarting or rate-limiting us.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ERROR_MAX = 1000
USER_AGENT = "Watchfloor-Notify/1"


@dataclass(frozen=True)
class SendResult:
    outcome: str  # an AttemptOutcome value
    retryable: bool
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    # Seconds the receiver asked us to wait (Retry-After), when it said.
    retry_after_seconds: float | None = None
    # A short, sanitised excerpt of what an HTTP receiver answered: for administrators only.
    response_excerpt: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome == AttemptOutcome.DELIVERED


# Before answers were kept apart, a refusal's error read "HTTP 500: <the answer>".
_ERROR_WITH_ANSWER = re.compile(r"^(HTTP \d{3}): .*$", re.DOTALL)


def without_receiver_answer(error: str) -> str:
    """``error`` without a receiver's answer that an older version wrote into it (the
    audit events of that time cannot change; their readers see the status alone)."""
    return _ERROR_WITH_ANSWER.sub(r"\1", error or "")


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


def _trim(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def send_email(*, to: str, subject: str, body: str, headers: dict[str, str]) -> SendResult:
    started = time.monotonic()
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers,
        connection=get_connection(fail_silently=False),
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        # The server will not take this address: trying again will not change that.
        return SendResult(
            outcome=AttemptOutcome.REJECTED,
            retryable=False,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"recipient refused: {exc.recipients}"),
        )
    except smtplib.SMTPResponseException as exc:
        # 5xx is final for this message, except a login failure: that is the
        # installation's configuration, and once fixed the message should still go.
        permanent = 500 <= exc.smtp_code < 600 and not isinstance(
            exc, smtplib.SMTPAuthenticationError
        )
        return SendResult(
            outcome=AttemptOutcome.REJECTED if permanent else AttemptOutcome.FAILED,
            retryable=not permanent,
            duration_ms=_elapsed_ms(started),
            status_code=exc.smtp_code,
            error=_trim(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"),
        )
    except TimeoutError as exc:
        return SendResult(
            outcome=AttemptOutcome.TIMEOUT,
            retryable=True,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"mail server timed out: {exc}"),
        )
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult(
            outcome=AttemptOutcome.FAILED,
            retryable=True,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"{type(exc).__name__}: {exc}"),
        )
    return SendResult(
        outcome=AttemptOutcome.DELIVERED, retryable=False, duration_ms=_elapsed_ms(started)
    )


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _retry_after(response: netpolicy.OutboundResponse) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def post_webhook(
    *, url: str, body: bytes, secret: str, timestamp: int, headers: dict[str, str]
) -> SendResult:
    """POST ``body`` to ``url`` once, after checking the address again (it may resolve
    elsewhere than when the channel was saved) and to the address checked.

    The receiver's answer is kept apart from ``error``: ``error`` (shown to leads on the
    delivery log, and audited) says only what happened and the status code; a short,
    sanitised excerpt of the answer goes to ``response_excerpt``, which only
    administrators see.
    """
    started = time.monotonic()
    try:
        target = netpolicy.check_outbound_url(url)
    except netpolicy.OutboundRefused as refused:
        # The address is refused now (the name moved, or the allow-list changed): not
        # worth retrying until an administrator changes the channel.
        return SendResult(
            outcome=AttemptOutcome.REJECTED,
            retryable=False,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"the channel's address is refused: {refused.message}"),
        )
    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        **headers,
    }
    if secret:
        request_headers[SIGNATURE_HEADER] = signature_header(
            secret=secret, timestamp=timestamp, body=body
        )
    timeout = conf.webhook_timeout_seconds()
    import httpx  # here, not at the top: every command's start-up imports this module

    try:
        # Redirects are not followed: a signed request goes only where it was configured.
        response = netpolicy.post_pinned(
            target, content=body, headers=request_headers, timeout=timeout
        )
    except httpx.TimeoutException as exc:
        return SendResult(
            outcome=AttemptOutcome.TIMEOUT,
            retryable=True,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"no answer within {timeout:g} s ({type(exc).__name__})"),
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return SendResult(
            outcome=AttemptOutcome.REJECTED,
            retryable=False,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"the channel's URL cannot be used: {type(exc).__name__}"),
        )
    except httpx.TransportError as exc:
        return SendResult(
            outcome=AttemptOutcome.FAILED,
            retryable=True,
            duration_ms=_elapsed_ms(started),
            error=_trim(f"{type(exc).__name__}: {exc}"),
        )
    duration = _elapsed_ms(started)
    status = response.status_code
    excerpt = response.excerpt()
    if 200 <= status < 300:
        return SendResult(
            outcome=AttemptOutcome.DELIVERED,
            retryable=False,
            duration_ms=duration,
            status_code=status,
            response_excerpt=excerpt,
        )
    described = f"HTTP {status}"
    if status in RETRYABLE_STATUS:
        return SendResult(
            outcome=AttemptOutcome.FAILED,
            retryable=True,
            duration_ms=duration,
            status_code=status,
            error=described,
            retry_after_seconds=_retry_after(response),
            response_excerpt=excerpt,
        )
    if 300 <= status < 400:
        described += " (a redirect; not followed)"
    return SendResult(
        outcome=AttemptOutcome.REJECTED,
        retryable=False,
        duration_ms=duration,
        status_code=status,
        error=described,
        response_excerpt=excerpt,
    )
