"""The audit key: what makes the hash chain something a database writer cannot forge.

Each event's hash is an HMAC-SHA256 keyed with a secret kept outside the database
(``WATCHFLOOR_AUDIT_KEY``, or a file named by ``WATCHFLOOR_AUDIT_KEY_FILE``). Someone who
can write the database but not read the key can no longer alter an event and recompute
the hashes after it: ``watchfloor audit verify`` finds the first event whose HMAC does
not match.

Rotation: the variable or the file holds one or more keys separated by whitespace
(one per line in a file). The first signs new events; the others are earlier keys,
kept only to verify the events they signed. Each event records the id of its key, a
value derived from the key (an HMAC of a fixed label), so nothing about the key itself
is stored in the database.

Outside production, with neither variable set, a per-installation key is made in the
data directory (like the secret key): enough for a laptop, and refused by
``watchfloor check --deploy``, since a key beside the database guards nothing from
whoever can read that directory.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from watchfloor.core.secret_files import ensure_secret_file

KEY_VARIABLE = "WATCHFLOOR_AUDIT_KEY"
KEY_FILE_VARIABLE = "WATCHFLOOR_AUDIT_KEY_FILE"
DEVELOPMENT_KEY_FILE_NAME = "audit_key"
# Long enough that the derived key id cannot be used to guess the key offline.
MINIMUM_KEY_LENGTH = 32
KEY_ID_LENGTH = 16
_KEY_ID_LABEL = b"watchfloor audit key id"


class UnknownAuditKey(LookupError):
    """Something was signed with a key that is not configured here."""

    def __init__(self, key_id: str, known: tuple[str, ...]) -> None:
        self.key_id = key_id
        super().__init__(
            f"signed with audit key {key_id!r}, which is not among the configured keys "
            f"({', '.join(known) or 'none'}): set {KEY_VARIABLE} or {KEY_FILE_VARIABLE} to "
            "the key that signed it (earlier keys go after the current one)"
        )


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    secret: bytes = b""

    def __repr__(self) -> str:  # never print the secret
        return f"AuditKey({self.key_id!r})"

    def sign(self, message: str) -> str:
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()


def same_digest(expected: str, found: str) -> bool:
    """Compare in constant time; as bytes, so text a writer put in the database (or a
    heads file) that is not ASCII is simply different, not an error."""
    return hmac.compare_digest(expected.encode(), found.encode())


def key_id_of(secret: bytes) -> str:
    return hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]


@dataclass(frozen=True)
class AuditKeyring:
    """The configured audit keys: the first signs, all of them verify."""

    keys: tuple[AuditKey, ...]
    # Where they came from, for the deploy check and error messages.
    source: str
    # The file holding them, when they came from one.
    path: Path | None = None
    is_development_key: bool = False

    @property
    def signing_key(self) -> AuditKey:
        return self.keys[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key.key_id for key in self.keys)

    def find(self, key_id: str) -> AuditKey:
        for key in self.keys:
            if key.key_id == key_id:  # ids are not secret
                return key
        raise UnknownAuditKey(key_id, self.key_ids)


def keyring_from_text(
    text: str, *, source: str, path: Path | None = None, is_development_key: bool = False
) -> AuditKeyring:
    secrets_in_order = text.split()
    if not secrets_in_order:
        raise ImproperlyConfigured(f"{source} holds no audit key")
    for position, value in enumerate(secrets_in_order, start=1):
        if len(value) < MINIMUM_KEY_LENGTH:
            raise ImproperlyConfigured(
                f"audit key {position} in {source} has {len(value)} characters; use at least "
                f"{MINIMUM_KEY_LENGTH} random ones (e.g. "
                '`python3 -c "import secrets; print(secrets.token_urlsafe(48))"`)'
            )
    keys = tuple(
        AuditKey(key_id=key_id_of(value.encode()), secret=value.encode())
        for value in secrets_in_order
    )
    if len({key.key_id for key in keys}) != len(keys):
        raise ImproperlyConfigured(f"{source} names the same audit key twice")
    return AuditKeyring(keys=keys, source=source, path=path, is_development_key=is_development_key)


def _development_key_file(data_dir: Path) -> Path:
    """The per-installation key, made once like the secret key (readable by its owner
    only, and the same for processes starting together: see core.secret_files)."""
    return ensure_secret_file(data_dir / DEVELOPMENT_KEY_FILE_NAME, nbytes=48)


def keyring_from_environment(
    environ: Mapping[str, str], *, data_dir: Path, production: bool
) -> AuditKeyring:
    """Read the audit keys for settings.py; a wrong setting stops the start with its name."""
    value = environ.get(KEY_VARIABLE, "").strip()
    file_name = environ.get(KEY_FILE_VARIABLE, "").strip()
    if value and file_name:
        raise ImproperlyConfigured(
            f"set {KEY_VARIABLE} or {KEY_FILE_VARIABLE}, not both: the audit key must have "
            "one source"
        )
    if value:
        return keyring_from_text(value, source=KEY_VARIABLE)
    if file_name:
        path = Path(file_name).expanduser().resolve()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{KEY_FILE_VARIABLE}: cannot read {path}: {exc.strerror}"
            ) from None
        return keyring_from_text(text, source=f"{KEY_FILE_VARIABLE} ({path})", path=path)
    if production:
        raise ImproperlyConfigured(
            f"production needs an audit key kept outside the database: set {KEY_VARIABLE}, or "
            f"{KEY_FILE_VARIABLE} to a file holding it (docs/security.md, 'The audit log')"
        )
    path = _development_key_file(data_dir)
    return keyring_from_text(
        path.read_text(),
        source=f"the development key file {path}",
        path=path,
        is_development_key=True,
    )


def configured_keyring() -> AuditKeyring:
    from django.conf import settings

    return settings.WATCHFLOOR_AUDIT_KEYRING


# ---------------------------------------------------------------- what the keys sign


def keyed_start_message(*, sequence: int, previous_hash: str) -> str:
    """What the seal of the keyed chain's start covers: where it starts and the hash of
    the last event before it, so neither the start nor the unkeyed events before it can
    change unseen. (Migration 0006 seals with this; never change its wording.)"""
    return f"watchfloor audit chain keyed from #{sequence} after {previous_hash}"
