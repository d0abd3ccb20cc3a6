"""Email settings from the environment (imported by settings.py; no Django imports).

- ``WATCHFLOOR_EMAIL_URL``: one address for the mail server, e.g.
  ``smtp://user:password@mail.example.com:587`` (STARTTLS), ``smtps://…:465`` (TLS from
  the first byte), ``smtp://localhost:25?tls=0``, ``file:///var/spool/watchfloor`` or
  ``console://``. Percent-encode reserved characters in the user and password.
- Or Django's own variables: ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
  ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``, ``EMAIL_USE_SSL``.
- ``WATCHFLOOR_EMAIL_FROM``: the From address (default ``Watchfloor <watchfloor@localhost>``).

With neither set: in production, SMTP on localhost:25 (Django's default); elsewhere,
messages are written as files under ``<data dir>/outbox`` so a demo never sends mail.
Tests use Django's in-memory backend (pytest-django sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM = "Watchfloor <watchfloor@localhost>"
TIMEOUT_SECONDS = 10


class EmailConfigError(ValueError):
    pass


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise EmailConfigError(
                "WATCHFLOOR_EMAIL_URL needs a host, e.g. smtp://user:pass@mail.example.com:587"
            )
        implicit_tls = scheme == "smtps"
        try:
            port = parts.port or (465 if implicit_tls else 587)
        except ValueError:
            raise EmailConfigError("WATCHFLOOR_EMAIL_URL has a port that is not a number") from None
        starttls = not implicit_tls and _flag(query.get("tls", "1" if port == 587 else "0"))
        return {
            "backend": SMTP_BACKEND,
            "host": parts.hostname,
            "port": port,
            "host_user": unquote(parts.username or ""),
            "host_password": unquote(parts.password or ""),
            "use_ssl": implicit_tls,
            "use_tls": starttls,
        }
    if scheme == "file":
        if not parts.path:
            raise EmailConfigError("WATCHFLOOR_EMAIL_URL file:// needs a directory path")
        return {"backend": FILE_BACKEND, "file_path": unquote(parts.path)}
    if scheme == "console":
        return {"backend": CONSOLE_BACKEND}
    raise EmailConfigError(
        f"WATCHFLOOR_EMAIL_URL scheme '{scheme}' is not one of smtp, smtps, file, console"
    )


@dataclass(frozen=True)
class EmailSettings:
    backend: str
    default_from: str
    host: str = "localhost"
    port: int = 25
    host_user: str = ""
    host_password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    file_path: str | None = None
    # A hung mail server must not hold a worker for ever.
    timeout: int = TIMEOUT_SECONDS


def email_settings(
    environ: Mapping[str, str], *, data_dir: Path, production: bool
) -> EmailSettings:
    """The email settings for this environment."""
    sender = environ.get("WATCHFLOOR_EMAIL_FROM") or DEFAULT_FROM
    if environ.get("WATCHFLOOR_EMAIL_URL"):
        return EmailSettings(default_from=sender, **_from_url(environ["WATCHFLOOR_EMAIL_URL"]))
    if environ.get("EMAIL_HOST"):
        try:
            port = int(environ.get("EMAIL_PORT") or 25)
        except ValueError:
            raise EmailConfigError("EMAIL_PORT is not a number") from None
        return EmailSettings(
            backend=SMTP_BACKEND,
            default_from=sender,
            host=environ["EMAIL_HOST"],
            port=port,
            host_user=environ.get("EMAIL_HOST_USER", ""),
            host_password=environ.get("EMAIL_HOST_PASSWORD", ""),
            use_tls=_flag(environ.get("EMAIL_USE_TLS")),
            use_ssl=_flag(environ.get("EMAIL_USE_SSL")),
        )
    if production:
        return EmailSettings(backend=SMTP_BACKEND, default_from=sender)
    return EmailSettings(
        backend=FILE_BACKEND, default_from=sender, file_path=str(data_dir / "outbox")
    )
