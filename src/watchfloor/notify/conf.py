"""The knobs of outbound notification, read from Django settings with their defaults.

Each may be set in settings (tests override them with pytest-django's ``settings``):

- ``WATCHFLOOR_NOTIFY_MAX_ATTEMPTS`` (6): tries before a notification is given up;
  a channel's own ``max_attempts`` wins for that channel.
- ``WATCHFLOOR_NOTIFY_BACKOFF_BASE_SECONDS`` (30) and ``..._BACKOFF_MAX_SECONDS`` (3600):
  the wait before retry *n* is ``min(max, base × 2^(n-1))``, jittered down to half of it.
- ``WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS`` (5): connect and read timeout per request.
- ``WATCHFLOOR_NOTIFY_SUPPRESS_ALL`` (False): record every notification but deliver none
  (a staging copy of production data, a rehearsal installation).
- ``WATCHFLOOR_ESCALATION_POLICY_FILE``: the policy file; by default
  ``escalation_policies.yaml`` in the catalog directory.
- ``WATCHFLOOR_PUBLIC_URL``: the address people open Watchfloor at, for links in messages.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings

POLICY_FILE_NAME = "escalation_policies.yaml"


def max_attempts() -> int:
    return max(1, int(getattr(settings, "WATCHFLOOR_NOTIFY_MAX_ATTEMPTS", 6)))


def backoff_base() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "WATCHFLOOR_NOTIFY_BACKOFF_BASE_SECONDS", 30)))


def backoff_max() -> timedelta:
    return timedelta(
        seconds=float(getattr(settings, "WATCHFLOOR_NOTIFY_BACKOFF_MAX_SECONDS", 3600))
    )


def webhook_timeout_seconds() -> float:
    return float(getattr(settings, "WATCHFLOOR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 5))


def suppress_all_delivery() -> bool:
    return bool(getattr(settings, "WATCHFLOOR_NOTIFY_SUPPRESS_ALL", False))


def policy_file() -> Path:
    configured = getattr(settings, "WATCHFLOOR_ESCALATION_POLICY_FILE", None)
    if configured:
        return Path(configured)
    return Path(settings.WATCHFLOOR_CATALOG_DIR) / POLICY_FILE_NAME


def public_url() -> str:
    return str(getattr(settings, "WATCHFLOOR_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")


# A delivery still marked as sending after this long was cut off (the worker stopped).
SENDING_STALE_AFTER = timedelta(minutes=10)
# Work this overdue when a worker starts is enqueued again (its task row may be gone).
OVERDUE_GRACE = timedelta(minutes=2)
