"""The signed head of the audit chain: a small JSON document to keep outside the database.

The keyed chain (``audit.keys``) stops a database writer from rewriting events, but two
things remain that only a copy kept elsewhere can catch: events removed from the end
(the head row updated to match), and a rewrite by someone who also holds the key. A
published head names the last event's sequence and hash, signed with the audit key;
``watchfloor audit verify --expect-head FILE`` then proves that nothing at or before it
changed: the chain must still reach that sequence and have that hash there.

A heads file holds one head (what ``watchfloor audit head`` prints) or many, one JSON
object per line (what the scheduled export appends). Every head in it is checked, the
earliest first, so a forged head published after a rewrite does not hide the rewrite
from the honest heads published before it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchfloor.audit.hashing import canonical_json
from watchfloor.audit.keys import AuditKey, AuditKeyring, UnknownAuditKey, same_digest
from watchfloor.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from watchfloor.audit.selectors import ChainReport
from watchfloor.core import clock

HEAD_FORMAT = "watchfloor.audit.head/1"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("format", "sequence", "hash", "signed_at", "keyed_from_sequence", "key_id")
# A heads file grows by one line per export: years of hourly heads are a few megabytes.
MAX_HEADS_FILE_BYTES = 64 * 1024 * 1024


class HeadFileError(ValueError):
    """A heads file that cannot be read as signed heads; the message names the line."""


@dataclass(frozen=True)
class SignedHead:
    sequence: int
    hash: str
    signed_at: str
    keyed_from_sequence: int
    key_id: str
    signature: str
    # Where it was read from (1 for a head that was not read from a file).
    line: int = 1

    def signed_fields(self) -> dict[str, Any]:
        return {
            "format": HEAD_FORMAT,
            "sequence": self.sequence,
            "hash": self.hash,
            "signed_at": self.signed_at,
            "keyed_from_sequence": self.keyed_from_sequence,
            "key_id": self.key_id,
        }

    def as_json(self) -> str:
        """One line: printable, and appendable to a heads file."""
        return canonical_json({**self.signed_fields(), "signature": self.signature})


def _signature(key: AuditKey, fields: dict[str, Any]) -> str:
    return key.sign(canonical_json(fields))


def current_signed_head(*, keyring: AuditKeyring, now: datetime | None = None) -> SignedHead:
    """The chain's head as the database records it, signed with the current key."""
    head = AuditChainHead.objects.filter(pk=1).first()
    sequence, last_hash, keyed_from = (
        (head.last_sequence, head.last_hash, head.keyed_from_sequence)
        if head is not None
        else (0, GENESIS_HASH, 1)
    )
    key = keyring.signing_key
    unsigned = SignedHead(
        sequence=sequence,
        hash=last_hash,
        signed_at=(now or clock.now()).isoformat(),
        keyed_from_sequence=keyed_from,
        key_id=key.key_id,
        signature="",
    )
    return SignedHead(
        **{**unsigned.__dict__, "signature": _signature(key, unsigned.signed_fields())}
    )


# ---------------------------------------------------------------- reading a heads file


def parse_heads(text: str) -> list[SignedHead]:
    """Every head in ``text``: one JSON object, or one per line. Refuses the whole file
    when any line is not a head: a verification should not pass on part of its input."""
    if len(text) > MAX_HEADS_FILE_BYTES:
        raise HeadFileError(f"the heads file is over {MAX_HEADS_FILE_BYTES} bytes")
    try:
        documents = [(1, json.loads(text))]
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise HeadFileError(f"line {number}: not JSON ({exc.msg})") from None
    heads = [_head_from(document, line=number) for number, document in documents]
    if not heads:
        raise HeadFileError("the file holds no audit head")
    return heads


def _head_from(document: Any, *, line: int) -> SignedHead:
    def refuse(problem: str) -> HeadFileError:
        return HeadFileError(f"line {line}: {problem}")

    if not isinstance(document, dict):
        raise refuse("an audit head is a JSON object")
    missing = [name for name in (*_FIELDS, "signature") if name not in document]
    if missing:
        raise refuse(f"missing {', '.join(missing)}")
    unknown = sorted(set(document) - {*_FIELDS, "signature"})
    if unknown:
        raise refuse(f"unknown field(s) {', '.join(unknown)}")
    if document["format"] != HEAD_FORMAT:
        raise refuse(f"format is {document['format']!r}; expected {HEAD_FORMAT!r}")
    for name, minimum in (("sequence", 0), ("keyed_from_sequence", 1)):
        value = document[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise refuse(f"{name} must be a whole number from {minimum}, not {value!r}")
    for name in ("hash", "signature"):
        if not isinstance(document[name], str) or not _HEX64.fullmatch(document[name]):
            raise refuse(f"{name} must be 64 lower-case hexadecimal digits")
    if not isinstance(document["key_id"], str) or not document["key_id"]:
        raise refuse("key_id must name the audit key that signed the head")
    try:
        datetime.fromisoformat(document["signed_at"])
    except (TypeError, ValueError):
        raise refuse(f"signed_at must be an ISO 8601 time, not {document['signed_at']!r}") from None
    return SignedHead(
        sequence=document["sequence"],
        hash=document["hash"],
        signed_at=document["signed_at"],
        keyed_from_sequence=document["keyed_from_sequence"],
        key_id=document["key_id"],
        signature=document["signature"],
        line=line,
    )


def check_signatures(heads: list[SignedHead], *, keyring: AuditKeyring) -> None:
    """Raise HeadFileError for the first head not signed by a configured audit key
    (UnknownAuditKey when its key is simply not configured here)."""
    for head in heads:
        try:
            key = keyring.find(head.key_id)
        except UnknownAuditKey as unknown:
            raise HeadFileError(f"line {head.line}: the head was {unknown}") from None
        if not same_digest(_signature(key, head.signed_fields()), head.signature):
            raise HeadFileError(
                f"line {head.line}: the head's signature does not match its content (the "
                "head was altered after it was signed)"
            )


# ---------------------------------------------------------------- comparing with the chain


@dataclass(frozen=True)
class HeadsReport:
    ok: bool
    heads_checked: int
    broken_at_sequence: int | None = None
    problem: str = ""


def compare_with_heads(heads: list[SignedHead], *, chain: ChainReport) -> HeadsReport:
    """Whether an intact chain (``chain.ok``) still has every published head in it.

    Reports the earliest head that no longer holds, and how far back the change may
    reach: after the last earlier head that still holds."""
    recorded = AuditChainHead.objects.filter(pk=1).first()
    keyed_from = recorded.keyed_from_sequence if recorded is not None else 1
    ordered = sorted(heads, key=lambda head: (head.sequence, head.line))
    hashes = dict(
        AuditEvent.objects.filter(sequence__in={head.sequence for head in ordered}).values_list(
            "sequence", "hash"
        )
    )
    last_holding = 0
    for checked, head in enumerate(ordered):
        where = f"the head published at {head.signed_at} (line {head.line})"
        if head.sequence > chain.events_checked:
            return HeadsReport(
                False,
                checked,
                chain.events_checked + 1,
                f"{where} is at #{head.sequence} but the chain ends at #{chain.events_checked}: "
                f"events #{chain.events_checked + 1} to #{head.sequence} were removed",
            )
        found = hashes.get(head.sequence, GENESIS_HASH)
        if not same_digest(found, head.hash):
            return HeadsReport(
                False,
                checked,
                head.sequence,
                f"event #{head.sequence} no longer has the hash in {where}: an event after "
                f"#{last_holding} and at or before #{head.sequence} was rewritten and the "
                "hashes after it recomputed (by someone holding the audit key, or in the "
                "unkeyed part of the chain)",
            )
        if head.keyed_from_sequence != keyed_from:
            return HeadsReport(
                False,
                checked,
                min(head.keyed_from_sequence, keyed_from),
                f"{where} has the keyed chain start at #{head.keyed_from_sequence}; the "
                f"database now says #{keyed_from}",
            )
        last_holding = head.sequence
    return HeadsReport(True, len(ordered))
