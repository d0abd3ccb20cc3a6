"""The signal contract: one JSON object per signal, validated into a ``SignalInput``.

Every way in (the API batch endpoint, ``watchfloor ingest FILE...``, replays) hands
plain dicts to ``parse_signal``; files are first split into such dicts by
``parse_jsonl_lines`` and ``parse_csv``, which report the file line of every
record and turn unreadable lines into rejections instead of stopping.

Validation is written by hand. It is the first step of every ingest, which must
sustain 5,000 signals/s on two cores, so its cost was measured against a pydantic v2
model with the same constraints: on this machine this module takes about 7 µs for a
full signal and 3 µs for a minimal one; the pydantic model takes 3.5 µs and 1.7 µs
to validate, and 6 µs and 4 µs once its output is turned into the same canonical
``SignalInput`` (UTC time, bytes of the PDQ hash, canonical language tag). Both are
a small share of the ~400 µs per signal that the target leaves on a core, so speed
does not decide it; the hand-written form is kept because every failure maps
directly to a reason code, a dotted field and a message that says what to change,
and it also rejects what a schema cannot see (lone surrogates, NUL characters and
deep nesting inside attributes, duplicate keys). It is strict: unknown fields,
wrong JSON types, over-long strings and impossible timestamps are all rejected.
``schema/signal.schema.json`` states the same contract as a JSON Schema; the
tests hold the two together.

What is checked here is shape only: whether a market or a policy code exists in
the catalog is for the caller, who has the database.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal, get_args

from watchfloor.core.validation import decode_strict_json, time_range_problem, within_time_range

__all__ = [
    "SIGNAL_FILE_SUFFIXES",
    "SOURCES",
    "SUBJECT_KINDS",
    "FileLimits",
    "Reason",
    "SignalError",
    "SignalFileError",
    "SignalInput",
    "SignalRejected",
    "canonical_language_tag",
    "decode_json",
    "load_signal_file",
    "parse_csv",
    "parse_deferred",
    "parse_jsonl_lines",
    "parse_signal",
    "parse_signals",
]


class Reason(StrEnum):
    """Why a signal was rejected; the ``code`` of the error the API and CLI report."""

    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    BAD_TYPE = "bad_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_SOURCE = "unknown_source"
    BAD_TIMESTAMP = "bad_timestamp"
    INVALID_PDQ = "invalid_pdq"
    TOO_LONG = "too_long"
    BAD_ENCODING = "bad_encoding"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_CSV = "malformed_csv"
    FILE_TOO_LARGE = "file_too_large"


SourceName = Literal[
    "user_report",
    "trusted_flagger",
    "partner_referral",
    "law_enforcement",
    "government",
    "regulator",
    "media",
    "detector",
    "hash_match",
    "external_alert",
]
SOURCES: tuple[SourceName, ...] = get_args(SourceName)
# "alert": an official alert (CAP), whose ref is the alert thread it belongs to.
SubjectKindName = Literal["post", "account", "media", "url", "hashtag", "livestream", "alert"]
SUBJECT_KINDS: tuple[SubjectKindName, ...] = get_args(SubjectKindName)

MAX_ID_LENGTH = 200
MAX_REF_LENGTH = 4096
MAX_TEXT_LENGTH = 20_000
MAX_URL_LENGTH = 4096
MAX_REPORTER_LENGTH = 200
MAX_POLICY_CODE_LENGTH = 64
MAX_LANGUAGE_TAG_LENGTH = 35
MAX_COUNT = 2**63 - 1  # fits a BigIntegerField
MAX_ATTRIBUTES_DEPTH = 16
# A signal at its limits is ~130 kB as JSON (20,000 characters, each possibly a
# six-byte \\u escape); a line (or CSV record) past this is not a signal, and is
# skipped unread.
MAX_LINE_BYTES = 1024 * 1024
# What one file may hold once decompressed, and how many lines: past either, the file
# stops being read (a gzip of nothing but line breaks decompresses a thousandfold).
# The ingest command takes its limits from settings (``FileLimits``); these are the
# defaults.
MAX_FILE_BYTES = 4 * 1024**3
MAX_FILE_LINES = 10_000_000

SIGNAL_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".json.gz", ".csv", ".csv.gz")

_SOURCE_SET = frozenset(SOURCES)
_KIND_SET = frozenset(SUBJECT_KINDS)
_TOP_LEVEL_FIELDS = frozenset(
    {
        "id",
        "received_at",
        "source",
        "subject",
        "text",
        "url",
        "media",
        "market",
        "language",
        "policy_hint",
        "reach",
        "reporter",
        "attributes",
    }
)
_SUBJECT_FIELDS = frozenset({"kind", "ref"})
_MEDIA_FIELDS = frozenset({"pdq", "pdq_quality", "md5", "sha256"})
_REACH_FIELDS = ("impressions", "followers", "shares")
_REACH_FIELD_SET = frozenset(_REACH_FIELDS)

# Identifiers (id, subject.ref, reporter): no control characters anywhere and no
# white space at either end, so that "abc" and "abc " never become two signals.
_IDENTIFIER = re.compile(r"[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# Possessive quantifiers: the same language as the schema's pattern, matched in
# linear time (with backtracking, a 4,096-character URL ending in a space took 47 ms).
_HTTP_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#]++[^\x00-\x20\x7f]*+")
_MARKET = re.compile(r"[A-Z]{2}")
# The common shape of a BCP 47 tag (language, script, region, variants) in any case;
# it is stored in the canonical case (zh-Hant-TW).
_LANGUAGE_TAG = re.compile(
    r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)
_POLICY_CODE = re.compile(r"[a-z][a-z0-9_]*")
_HEX_32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")
_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")


class SignalError(Exception):
    """Base class of the errors raised by the signals package."""


class SignalFileError(SignalError):
    """A signal file that cannot be read at all (as opposed to one bad line in it)."""


class SignalRejected(SignalError):
    """One signal that does not meet the contract.

    ``field`` is the dotted name of the field at fault (``media.pdq``), or "" when
    the record as a whole is unreadable; ``line`` is the file line, for files.
    """

    def __init__(
        self, reason_code: str, field: str, message: str, *, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.field = field
        self.message = message
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (the CLI prepares batches in a helper process): the default for
        # exceptions would call __init__ with the message alone.
        return (type(self), (self.reason_code, self.field, self.message), {"line": self.line})

    def at_line(self, line: int) -> SignalRejected:
        """The same rejection, located at a line of a file."""
        return SignalRejected(self.reason_code, self.field, self.message, line=line)

    def as_dict(self) -> dict[str, Any]:
        """The rejection in the shape of an API error: ``{"code", "message", "field"}``."""
        result: dict[str, Any] = {
            "code": str(self.reason_code),
            "message": self.message,
            "field": self.field,
        }
        if self.line is not None:
            result["line"] = self.line
        return result

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message} [{self.reason_code}]"

    def __repr__(self) -> str:
        return (
            f"SignalRejected({str(self.reason_code)!r}, {self.field!r}, {self.message!r}, "
            f"line={self.line!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SignalRejected):
            return NotImplemented
        return (self.reason_code, self.field, self.message, self.line) == (
            other.reason_code,
            other.field,
            other.message,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.reason_code, self.field, self.message, self.line))


@dataclass(frozen=True, slots=True)
class SignalInput:
    """A signal that meets the contract, its values in canonical form.

    Hashes are lower-case hex (``media_pdq`` is the 32 raw bytes), ``received_at``
    is an aware datetime in UTC, ``language`` is in canonical BCP 47 case, and
    absent optional fields are None (``attributes`` is then empty).
    """

    id: str
    received_at: datetime
    source: str
    subject_kind: str
    subject_ref: str
    text: str | None = None
    url: str | None = None
    media_pdq: bytes | None = None
    media_pdq_quality: int | None = None
    media_md5: str | None = None
    media_sha256: str | None = None
    market: str | None = None
    language: str | None = None
    policy_hint: str | None = None
    reach_impressions: int | None = None
    reach_followers: int | None = None
    reach_shares: int | None = None
    reporter: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def media_pdq_hex(self) -> str | None:
        return self.media_pdq.hex() if self.media_pdq is not None else None


# ---------------------------------------------------------------------------
# One signal


def parse_signal(data: Any, *, not_after: datetime | None = None) -> SignalInput:
    """Validate one signal (a dict as decoded from JSON) or raise ``SignalRejected``.

    ``received_at`` must fall in the range of ``core.validation`` (2000 to 2199) and, when
    ``not_after`` is given (the intake gives its clock plus the allowed skew), not after
    it: a producer's clock may run a little ahead, not days."""
    if type(data) is not dict:
        raise SignalRejected(
            Reason.BAD_TYPE, "", f"a signal must be a JSON object, not {_json_type(data)}"
        )
    get = data.get

    signal_id = get("id")
    if signal_id is None:
        raise _missing("id", data, _TOP_LEVEL_FIELDS)
    _identifier(signal_id, "id", MAX_ID_LENGTH)

    received_at_value = get("received_at")
    if received_at_value is None:
        raise _missing("received_at", data, _TOP_LEVEL_FIELDS)
    received_at = _timestamp(received_at_value, "received_at")
    if not_after is not None and received_at > not_after:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP,
            "received_at",
            f"received_at {_show(received_at_value)} is in the future: the latest time accepted "
            f"now is {not_after:%Y-%m-%dT%H:%M:%SZ} (the server's clock plus the allowed "
            "skew); check the producer's clock and the UTC offset it writes",
        )

    source = get("source")
    if source is None:
        raise _missing("source", data, _TOP_LEVEL_FIELDS)
    if type(source) is not str:
        raise _bad_type("source", source, "a string")
    if source not in _SOURCE_SET:
        raise SignalRejected(
            Reason.UNKNOWN_SOURCE,
            "source",
            f"source {_show(source)} is not a known source: use one of {', '.join(SOURCES)}",
        )

    subject = get("subject")
    if subject is None:
        raise _missing("subject", data, _TOP_LEVEL_FIELDS)
    if type(subject) is not dict:
        raise _bad_type("subject", subject, 'an object such as {"kind": "post", "ref": "..."}')
    if len(subject) != 2 or subject.keys() != _SUBJECT_FIELDS:
        _check_keys(subject, _SUBJECT_FIELDS, "subject.")
    kind = subject.get("kind")
    if kind is None:
        raise _missing("subject.kind", subject, _SUBJECT_FIELDS)
    if type(kind) is not str:
        raise _bad_type("subject.kind", kind, "a string")
    if kind not in _KIND_SET:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            "subject.kind",
            f"subject.kind {_show(kind)} is not a known kind: "
            f"use one of {', '.join(SUBJECT_KINDS)}",
        )
    ref = subject.get("ref")
    if ref is None:
        raise _missing("subject.ref", subject, _SUBJECT_FIELDS)
    _identifier(ref, "subject.ref", MAX_REF_LENGTH)

    if len(data) > 4 and not data.keys() <= _TOP_LEVEL_FIELDS:
        _check_keys(data, _TOP_LEVEL_FIELDS, "")

    text = get("text")
    if text is not None:
        _string(text, "text", MAX_TEXT_LENGTH)

    url = get("url")
    if url is not None:
        _string(url, "url", MAX_URL_LENGTH)
        if _HTTP_URL.fullmatch(url) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "url",
                f"url {_show(url)} is not an absolute http(s) URL: give the full address, "
                "such as https://example.com/post/1, with spaces percent-encoded",
            )

    pdq = pdq_quality = md5 = sha256 = None
    media = get("media")
    if media is not None:
        pdq, pdq_quality, md5, sha256 = _media(media)

    market = get("market")
    if market is not None:
        _string(market, "market", 16)
        if _MARKET.fullmatch(market) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "market",
                f"market {_show(market)} is not a market code: use the two-letter ISO 3166-1 "
                "code in capitals (for example JP)",
            )

    language = get("language")
    if language is not None:
        language = _language(language)

    policy_hint = get("policy_hint")
    if policy_hint is not None:
        _string(policy_hint, "policy_hint", MAX_POLICY_CODE_LENGTH)
        if _POLICY_CODE.fullmatch(policy_hint) is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "policy_hint",
                f"policy_hint {_show(policy_hint)} is not a policy code: use lower-case letters, "
                "digits and underscores, starting with a letter (for example scams_fraud)",
            )

    impressions = followers = shares = None
    reach = get("reach")
    if reach is not None:
        impressions, followers, shares = _reach(reach)

    reporter = get("reporter")
    if reporter is not None:
        _identifier(reporter, "reporter", MAX_REPORTER_LENGTH)

    attributes = get("attributes")
    if attributes is None:
        attributes = {}
    else:
        if type(attributes) is not dict:
            raise _bad_type("attributes", attributes, "an object")
        if attributes:
            _check_json_value(attributes, "attributes", 0)

    return SignalInput(
        signal_id,
        received_at,
        source,
        kind,
        ref,
        text,
        url,
        pdq,
        pdq_quality,
        md5,
        sha256,
        market,
        language,
        policy_hint,
        impressions,
        followers,
        shares,
        reporter,
        attributes,
    )


def parse_signals(
    items: Iterable[Any], *, not_after: datetime | None = None
) -> list[SignalInput | SignalRejected]:
    """Validate many signals; a rejected one never stops the others."""
    results: list[SignalInput | SignalRejected] = []
    append = results.append
    for item in items:
        try:
            append(parse_signal(item, not_after=not_after))
        except SignalRejected as rejection:
            append(rejection)
    return results


def _string(value: Any, name: str, max_length: int) -> None:
    if type(value) is not str:
        raise _bad_type(name, value, "a string")
    if len(value) > max_length:
        raise SignalRejected(
            Reason.TOO_LONG,
            name,
            f"{name} has {len(value):,} characters; the limit is {max_length:,}",
        )
    if not value.isascii():
        _check_encodable(value, name)
    if "\x00" in value:
        raise SignalRejected(
            Reason.INVALID_VALUE, name, f"{name} contains a NUL character (\\u0000): remove it"
        )


def _identifier(value: Any, name: str, max_length: int) -> None:
    _string(value, name, max_length)
    if _IDENTIFIER.fullmatch(value) is None:
        if not value:
            message = f"{name} is empty: give a non-empty value"
        else:
            message = (
                f"{name} {_show(value)} has control characters or white space at either end: "
                "remove them"
            )
        raise SignalRejected(Reason.INVALID_VALUE, name, message)


def _check_encodable(value: str, name: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise SignalRejected(
            Reason.BAD_ENCODING,
            name,
            f"{name} has a character that cannot be encoded as UTF-8 (a lone surrogate "
            f"at position {error.start}): send well-formed Unicode",
        ) from None


def _timestamp(value: Any, name: str) -> datetime:
    if type(value) is not str:
        raise _bad_type(name, value, "an RFC 3339 timestamp string")
    if len(value) > 64 or _TIMESTAMP.fullmatch(value) is None:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP,
            name,
            f"{name} {_show(value)} is not an RFC 3339 timestamp: give a date, a time with "
            "seconds and an offset, such as 2026-11-24T09:30:00+09:00 or 2026-11-24T00:30:00Z",
        )
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP, name, f"{name} {_show(value)} is not a real time: {error}"
        ) from None
    # Checked before converting: at the ends of the calendar (0001-01-01T00:00:00+00:01)
    # the conversion to UTC itself overflows.
    if not within_time_range(parsed):
        raise SignalRejected(Reason.BAD_TIMESTAMP, name, time_range_problem(name, _show(value)))
    return parsed.astimezone(UTC)


def _media(media: Any) -> tuple[bytes | None, int | None, str | None, str | None]:
    if type(media) is not dict:
        raise _bad_type("media", media, 'an object such as {"pdq": "<64 hex digits>"}')
    if not media.keys() <= _MEDIA_FIELDS:
        _check_keys(media, _MEDIA_FIELDS, "media.")
    get = media.get
    pdq_bytes = None
    pdq = get("pdq")
    if pdq is not None:
        if type(pdq) is not str:
            raise _bad_type("media.pdq", pdq, "a string of 64 hex digits")
        if len(pdq) != 64 or _HEX_64.fullmatch(pdq) is None:
            raise SignalRejected(
                Reason.INVALID_PDQ,
                "media.pdq",
                f"media.pdq {_show(pdq)} is not a PDQ hash: give exactly 64 hex digits "
                f"(256 bits); this value has {len(pdq)} characters",
            )
        pdq_bytes = bytes.fromhex(pdq)
    quality = get("pdq_quality")
    if quality is not None:
        quality = _integer(quality, "media.pdq_quality", 100)
        if pdq_bytes is None:
            raise SignalRejected(
                Reason.INVALID_VALUE,
                "media.pdq_quality",
                "media.pdq_quality is given without media.pdq: send the hash with its quality",
            )
    md5 = get("md5")
    if md5 is not None:
        md5 = _hex_digest(md5, "media.md5", _HEX_32, 32)
    sha256 = get("sha256")
    if sha256 is not None:
        sha256 = _hex_digest(sha256, "media.sha256", _HEX_64, 64)
    if pdq_bytes is None and md5 is None and sha256 is None:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            "media",
            "media has no hash: give at least one of media.pdq, media.md5, media.sha256, "
            "or leave media out",
        )
    return pdq_bytes, quality, md5, sha256


def _hex_digest(value: Any, name: str, pattern: re.Pattern[str], digits: int) -> str:
    if type(value) is not str:
        raise _bad_type(name, value, f"a string of {digits} hex digits")
    if len(value) != digits or pattern.fullmatch(value) is None:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            name,
            f"{name} {_show(value)} is not a hex digest: give exactly {digits} hex digits",
        )
    return value.lower()


def _reach(reach: Any) -> tuple[int | None, int | None, int | None]:
    if type(reach) is not dict:
        raise _bad_type("reach", reach, 'an object such as {"impressions": 1200}')
    if not reach.keys() <= _REACH_FIELD_SET:
        _check_keys(reach, _REACH_FIELD_SET, "reach.")
    values = []
    for name in _REACH_FIELDS:
        value = reach.get(name)
        values.append(None if value is None else _integer(value, "reach." + name, MAX_COUNT))
    return values[0], values[1], values[2]


def _integer(value: Any, name: str, maximum: int) -> int:
    # JSON Schema's "integer" includes 3.0; the contract follows it.
    if type(value) is not int:
        if type(value) is float and value.is_integer():
            value = int(value)
        else:
            raise _bad_type(name, value, "a whole number")
    if not 0 <= value <= maximum:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            name,
            f"{name} is {value}: give a whole number from 0 to {maximum}",
        )
    return value


def _language(value: Any) -> str:
    _string(value, "language", MAX_LANGUAGE_TAG_LENGTH)
    if _LANGUAGE_TAG.fullmatch(value) is None:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            "language",
            f"language {_show(value)} is not a BCP 47 language tag: use a tag such as ja, "
            "zh-Hant, en-US or es-419, or leave it out to have it detected",
        )
    return canonical_language_tag(value)


def canonical_language_tag(tag: str) -> str:
    """``ZH-hant-tw`` → ``zh-Hant-TW``: the case BCP 47 recommends for each subtag."""
    if tag.isalpha() and tag.islower():
        return tag
    parts = tag.split("-")
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            canonical.append(part.title())
        elif len(part) == 2 and part.isalpha():
            canonical.append(part.upper())
        else:
            canonical.append(part.lower())
    return "-".join(canonical)


def _check_json_value(value: Any, path: str, depth: int) -> None:
    """Attributes are kept as they are, so they must be plain, storable JSON."""
    if depth > MAX_ATTRIBUTES_DEPTH:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            path,
            f"{path} is nested more than {MAX_ATTRIBUTES_DEPTH} levels deep: flatten it",
        )
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _check_encodable(value, path)
        if "\x00" in value:
            raise SignalRejected(
                Reason.INVALID_VALUE, path, f"{path} contains a NUL character (\\u0000): remove it"
            )
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _bad_type(path, key, "an object with string keys")
            _check_json_value(key, path, depth + 1)
            _check_json_value(item, f"{path}.{key}", depth + 1)
    elif kind is list:
        for index, item in enumerate(value):
            _check_json_value(item, f"{path}[{index}]", depth + 1)
    elif kind is float:
        if not math.isfinite(value):
            raise SignalRejected(
                Reason.INVALID_VALUE, path, f"{path} is {value}, which JSON cannot carry"
            )
    elif value is not None and kind is not int and kind is not bool:
        raise _bad_type(path, value, "a JSON value")


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    unknown = sorted(str(key) for key in data.keys() - allowed)
    if unknown:
        name = unknown[0]
        suggestion = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {suggestion[0]!r}?)" if suggestion else ""
        raise SignalRejected(
            Reason.UNKNOWN_FIELD,
            prefix + name,
            f"{prefix}{name} is not a field of a signal{hint}: the fields are "
            f"{', '.join(sorted(allowed))}; put anything else under attributes",
        )


def _missing(name: str, data: Mapping[str, Any], allowed: frozenset[str]) -> SignalRejected:
    short = name.rsplit(".", 1)[-1]
    message = f"{name} is required"
    if short in data:
        message += " and may not be null"
    else:
        candidates = [str(key) for key in data if key not in allowed]
        suggestion = difflib.get_close_matches(short, candidates, n=1)
        if suggestion:
            message += f" (is {suggestion[0]!r} a misspelling of it?)"
    return SignalRejected(Reason.MISSING_FIELD, name, message)


def _bad_type(name: str, value: Any, expected: str) -> SignalRejected:
    return SignalRejected(
        Reason.BAD_TYPE, name, f"{name} must be {expected}, not {_json_type(value)} {_show(value)}"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    # repr escapes control characters and lone surrogates, so messages stay printable.
    shown = repr(value)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


# ---------------------------------------------------------------------------
# Files

ParsedRecord = tuple[int, "dict[str, Any] | SignalRejected"]


@dataclass(frozen=True, slots=True)
class FileLimits:
    """The bounds of one signal file: bytes once decompressed, lines, and bytes of one
    line (JSON Lines) or record (CSV). None is this module's default (``MAX_FILE_BYTES``,
    ``MAX_FILE_LINES``, ``MAX_LINE_BYTES``)."""

    max_bytes: int | None = None
    max_lines: int | None = None
    max_record_bytes: int | None = None

    def resolved(self) -> FileLimits:
        return FileLimits(
            max_bytes=self.max_bytes if self.max_bytes is not None else MAX_FILE_BYTES,
            max_lines=self.max_lines if self.max_lines is not None else MAX_FILE_LINES,
            max_record_bytes=(
                self.max_record_bytes if self.max_record_bytes is not None else MAX_LINE_BYTES
            ),
        )


class _FileBudget:
    """What is left of a file's limits as it is read."""

    def __init__(self, limits: FileLimits | None) -> None:
        resolved = (limits or FileLimits()).resolved()
        assert (
            resolved.max_bytes is not None
            and resolved.max_lines is not None
            and resolved.max_record_bytes is not None
        ), "resolved() sets every limit"
        self.max_bytes: int = resolved.max_bytes
        self.max_lines: int = resolved.max_lines
        self.max_record: int = resolved.max_record_bytes
        self.bytes = 0
        self.lines = 0

    def exceeded(self, line: int) -> SignalRejected | None:
        """The rejection that ends the file at ``line``, once a limit is passed."""
        if self.bytes > self.max_bytes:
            return SignalRejected(
                Reason.FILE_TOO_LARGE,
                "",
                f"the file is larger than {self.max_bytes:,} bytes once decompressed; it is "
                "not read past this line: split it into smaller files",
                line=line,
            )
        if self.lines > self.max_lines:
            return SignalRejected(
                Reason.FILE_TOO_LARGE,
                "",
                f"the file has more than {self.max_lines:,} lines; it is not read past "
                "this one: split it into smaller files",
                line=line,
            )
        return None

    def too_long(self, line: int, size: int, what: str) -> SignalRejected:
        return SignalRejected(
            Reason.TOO_LONG,
            "",
            f"the {what} is longer than {self.max_record:,} bytes ({size:,} read): a signal "
            "is far smaller, so this is not one",
            line=line,
        )


def parse_jsonl_lines(
    stream: IO[bytes] | IO[str] | Iterable[bytes],
    *,
    defer_json: bool = False,
    limits: FileLimits | None = None,
) -> Iterator[ParsedRecord]:
    """Split JSON Lines into ``(line_number, dict | SignalRejected)``.

    Gzip is recognised by its magic bytes, whatever the file is called. Blank lines
    are skipped (their numbers still count). A line that is not UTF-8, not JSON, not
    an object, or longer than the record limit becomes a rejection for that line
    only; a truncated gzip stream ends the file with a rejection at the next line, and
    so does passing the file's limits of bytes (decompressed) or lines (``limits``).

    ``defer_json``: lines come as their bytes, for ``parse_deferred`` to decode later
    (a reader that hands most lines on to others need not decode them).
    """
    reader = _binary_reader(stream)
    budget = _FileBudget(limits)
    # Locals: this loop runs once per line of files of millions of lines.
    max_record, max_bytes, max_lines = budget.max_record, budget.max_bytes, budget.max_lines
    read = reader.readline
    line_number = total = 0
    while True:
        try:
            raw = read(max_record + 1)
        except (EOFError, OSError, zlib.error) as error:
            yield line_number + 1, _corrupt_gzip(error, line_number + 1)
            return
        if not raw:
            return
        line_number += 1
        total += len(raw)
        too_long = len(raw) > max_record and not raw.endswith(b"\n")
        if too_long:
            budget.bytes = total
            try:
                skipped = _skip_rest_of_line(reader, budget)
            except (EOFError, OSError, zlib.error) as error:
                yield line_number, _corrupt_gzip(error, line_number)
                return
            total = budget.bytes
            yield line_number, budget.too_long(line_number, len(raw) + skipped, "line")
        if total > max_bytes or line_number > max_lines:
            budget.bytes, budget.lines = total, line_number
            ended = budget.exceeded(line_number)
            assert ended is not None, "a limit was passed"
            yield line_number, ended
            return
        if too_long:
            continue
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if raw.isspace() or not raw:
            continue
        yield line_number, raw if defer_json else parse_deferred(line_number, raw)


def parse_deferred(
    line_number: int, record: bytes | dict[str, Any] | SignalRejected
) -> dict[str, Any] | SignalRejected:
    """A record as ``parse_jsonl_lines`` gives it without ``defer_json``: a line's
    bytes are decoded now; anything else is already a record."""
    if not isinstance(record, bytes):
        return record
    result = _parse_json_line(record)
    if type(result) is SignalRejected:
        result = result.at_line(line_number)
    return result


def decode_json(text: str) -> Any:
    """Strict JSON, as for a line of a file (``core.validation.decode_strict_json``):
    ``ValueError`` (or its subclass ``json.JSONDecodeError``) for invalid JSON, a key
    twice in one object, or ``NaN`` and ``Infinity``. The API reads a batch of signals
    with it."""
    return decode_strict_json(text)


def _parse_json_line(raw: bytes) -> dict[str, Any] | SignalRejected:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _locate_bad_bytes(raw, error)
    try:
        value = decode_strict_json(text)
    except json.JSONDecodeError as error:
        return SignalRejected(
            Reason.MALFORMED_JSON,
            "",
            f"the line is not valid JSON: {error.msg} at column {error.colno}",
        )
    except ValueError as error:
        return SignalRejected(Reason.MALFORMED_JSON, "", f"the line is not valid JSON: {error}")
    except RecursionError:
        return SignalRejected(Reason.MALFORMED_JSON, "", "the line is nested too deeply to read")
    if type(value) is not dict:
        return SignalRejected(
            Reason.BAD_TYPE, "", f"each line must be a JSON object, not {_json_type(value)}"
        )
    return value


def _locate_bad_bytes(raw: bytes, error: UnicodeDecodeError) -> SignalRejected:
    """Name the field whose string holds the bytes that are not UTF-8, when possible."""
    message = (
        f"bytes that are not UTF-8 at byte {error.start + 1} of the line "
        f"({raw[error.start : error.start + 4]!r}): re-encode the file as UTF-8"
    )
    try:
        value = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return SignalRejected(Reason.BAD_ENCODING, "", f"the line has {message}")
    path = _path_of_surrogate(value, "")
    if path:
        return SignalRejected(Reason.BAD_ENCODING, path, f"{path} has {message}")
    return SignalRejected(Reason.BAD_ENCODING, "", f"the line has {message}")


def _path_of_surrogate(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if not _is_encodable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            printable = key if _is_encodable(key) else ascii(key)[1:-1]
            child = f"{path}.{printable}" if path else printable
            if printable is not key:
                return child
            found = _path_of_surrogate(item, child)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _path_of_surrogate(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _is_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _skip_rest_of_line(reader: IO[bytes], budget: _FileBudget) -> int:
    """Read past the end of an over-long line, a chunk at a time (never holding it);
    stops early once the file's byte limit is passed."""
    skipped = 0
    while chunk := reader.readline(budget.max_record):
        skipped += len(chunk)
        budget.bytes += len(chunk)
        if chunk.endswith(b"\n") or budget.bytes > budget.max_bytes:
            break
    return skipped


def _corrupt_gzip(error: BaseException, line: int) -> SignalRejected:
    return SignalRejected(
        Reason.BAD_ENCODING,
        "",
        f"the gzip data is truncated or corrupt here ({error}); the lines before were read",
        line=line,
    )


class _LineIterableReader:
    """Gives an iterable of lines the ``readline`` of a binary file."""

    def __init__(self, lines: Iterable[bytes | str]) -> None:
        self._lines = iter(lines)

    def readline(self, limit: int = -1) -> bytes:
        line = next(self._lines, b"")
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogatepass")
        return line

    def read(self, size: int = -1) -> bytes:
        return b"".join(
            line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
            for line in self._lines
        )


def _binary_reader(stream: Any) -> Any:
    """A binary, buffered, gunzipped-if-need-be reader over what the caller passed."""
    if isinstance(stream, io.TextIOBase):
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # io.StringIO: already text, so neither gzip nor bytes
            return io.BytesIO(stream.read().encode("utf-8", "surrogatepass"))
        stream = buffer
    if not hasattr(stream, "read"):
        return _LineIterableReader(stream)
    if hasattr(stream, "peek"):
        magic = stream.peek(2)[:2]
    elif getattr(stream, "seekable", None) and stream.seekable():
        start = stream.tell()
        magic = stream.read(2)
        stream.seek(start)
    else:
        # Wrapping would close the caller's stream when the wrapper is collected,
        # so only streams that can neither peek nor seek get one.
        stream = io.BufferedReader(stream)
        magic = stream.peek(2)[:2]
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return stream


# CSV columns are the dotted names of the fields; these hold whole numbers.
_CSV_INTEGER_COLUMNS = frozenset(
    {"media.pdq_quality", "reach.impressions", "reach.followers", "reach.shares"}
)
_CSV_SCALAR_COLUMNS = frozenset(
    {
        "id",
        "received_at",
        "source",
        "text",
        "url",
        "market",
        "language",
        "policy_hint",
        "reporter",
        "subject.kind",
        "subject.ref",
        "media.pdq",
        "media.pdq_quality",
        "media.md5",
        "media.sha256",
        "reach.impressions",
        "reach.followers",
        "reach.shares",
    }
)


def parse_csv(
    stream: IO[bytes] | IO[str], *, limits: FileLimits | None = None
) -> Iterator[ParsedRecord]:
    """Split a CSV file (header row of dotted field names) into records.

    ``subject.kind`` and ``subject.ref`` become ``{"subject": {"kind", "ref"}}``;
    ``attributes.<name>`` columns become attributes (strings). Empty cells are absent
    fields; integer columns are converted when they hold a whole number and left as
    text otherwise, so that validation names them. Line numbers are file lines: a
    record with a quoted line break is numbered by its first line.

    The file is read a line at a time within ``limits``: a record longer than the
    record limit (a huge quoted cell) is rejected without being held, and reading
    resumes at the next line; past the file's bytes or lines, reading stops.
    """
    if not hasattr(stream, "read"):
        stream = io.BytesIO(_LineIterableReader(stream).read())
    reader = _binary_reader(stream)
    if isinstance(reader, _LineIterableReader):
        reader = io.BytesIO(reader.read())
    yield from _csv_records(_CsvLines(reader, _FileBudget(limits)))


class _RecordTooLong(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _FileEnded(Exception):
    def __init__(self, rejection: SignalRejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


# A carriage return not followed by a line feed also ends a line (old Mac files), as
# with universal newlines; the pieces keep their line endings, which csv expects.
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


class _CsvLines:
    """The lines of a CSV file as text for ``csv.reader``, read one at a time within the
    file's limits: never more than a record's limit in memory. Raises ``_RecordTooLong``
    (the record so far, or one line, passed the limit) and ``_FileEnded`` (the file's
    bytes or lines did) through the reader."""

    def __init__(self, reader: IO[bytes], budget: _FileBudget) -> None:
        self.reader = reader
        self.budget = budget
        self.record_bytes = 0
        self.mid_line = False  # an over-long line was cut short; its rest is unread
        self._pending: list[bytes] = []
        self._first = True

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        budget = self.budget
        if not self._pending:
            raw = self.reader.readline(budget.max_record + 1)
            if not raw:
                raise StopIteration
            budget.bytes += len(raw)
            if self._first:
                self._first = False
                if raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
            if len(raw) > budget.max_record and not raw.endswith((b"\n", b"\r")):
                budget.lines += 1
                self.mid_line = True
                raise _RecordTooLong(len(raw))
            if raw.find(b"\r", 0, len(raw) - 1) == -1:
                piece = raw
            else:
                self._pending = _LONE_CR.split(raw)
                piece = self._pending.pop(0)
        else:
            piece = self._pending.pop(0)
        budget.lines += 1
        self.record_bytes += len(piece)
        if budget.bytes > budget.max_bytes or budget.lines > budget.max_lines:
            ended = budget.exceeded(budget.lines)
            assert ended is not None, "a limit was passed"
            raise _FileEnded(ended)
        if self.record_bytes > budget.max_record:
            raise _RecordTooLong(self.record_bytes)
        return piece.decode("utf-8", "surrogateescape")

    def next_record(self) -> None:
        self.record_bytes = 0

    def skip_rest_of_line(self) -> int:
        """After an over-long line: read past its end without holding it."""
        if not self.mid_line:
            return 0
        self.mid_line = False
        return _skip_rest_of_line(self.reader, self.budget)


def _csv_reader(lines: _CsvLines) -> Any:
    return csv.reader(lines, strict=True)


def _csv_records(lines: _CsvLines) -> Iterator[ParsedRecord]:
    budget = lines.budget
    rows = _csv_reader(lines)
    try:
        header = next(rows)
    except StopIteration:
        return
    except _RecordTooLong as error:
        yield 1, budget.too_long(1, error.size, "header row")
        return
    except _FileEnded as ended:
        yield 1, ended.rejection
        return
    except (csv.Error, EOFError, OSError, zlib.error) as error:
        yield (
            1,
            SignalRejected(
                Reason.MALFORMED_CSV, "", f"the header row cannot be read: {error}", line=1
            ),
        )
        return
    header_error = _check_csv_header(header)
    if header_error is not None:
        yield 1, header_error
        return
    columns = [tuple(name.strip().split(".", 1)) for name in header]
    integer_columns = [name.strip() in _CSV_INTEGER_COLUMNS for name in header]
    names = [name.strip() for name in header]
    width = len(header)
    end_of_previous = budget.lines
    lines.next_record()
    while True:
        line = end_of_previous + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except _FileEnded as ended:
            yield ended.rejection.line or line, ended.rejection
            return
        except (_RecordTooLong, csv.Error, EOFError, OSError, zlib.error) as error:
            too_long = isinstance(error, _RecordTooLong) or "field larger than field limit" in str(
                error
            )
            if not too_long:
                yield (
                    line,
                    SignalRejected(
                        Reason.MALFORMED_CSV,
                        "",
                        f"the CSV cannot be read from here on: {error}",
                        line=line,
                    ),
                )
                return
            try:
                skipped = lines.skip_rest_of_line()
            except (EOFError, OSError, zlib.error) as broken:
                yield line, _corrupt_gzip(broken, line)
                return
            if isinstance(error, _RecordTooLong):
                yield line, budget.too_long(line, error.size + skipped, "record")
            else:
                yield (
                    line,
                    SignalRejected(
                        Reason.TOO_LONG,
                        "",
                        f"a cell is longer than {csv.field_size_limit():,} characters: a "
                        "signal is far smaller, so this is not one",
                        line=line,
                    ),
                )
            over_budget = budget.exceeded(budget.lines)
            if over_budget is not None:
                yield line, over_budget
                return
            # Start afresh at the next line: the rest of the bad record is not parsed.
            rows = _csv_reader(lines)
            end_of_previous = budget.lines
            lines.next_record()
            continue
        end_of_previous = budget.lines
        lines.next_record()
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield (
                line,
                SignalRejected(
                    Reason.MALFORMED_CSV,
                    "",
                    f"the row has {len(row)} cells but the header has {width}: quote cells "
                    "that contain commas",
                    line=line,
                ),
            )
            continue
        record: dict[str, Any] = {}
        rejection = None
        for index, cell in enumerate(row):
            if not cell:
                continue
            if not cell.isascii() and not _is_encodable(cell):
                rejection = SignalRejected(
                    Reason.BAD_ENCODING,
                    names[index],
                    f"{names[index]} has bytes that are not UTF-8: re-encode the file as UTF-8",
                    line=line,
                )
                break
            value: Any = cell
            if integer_columns[index]:
                stripped = cell.strip()
                if _CSV_INTEGER.fullmatch(stripped):
                    value = int(stripped)
            column = columns[index]
            if len(column) == 1:
                record[column[0]] = value
            else:
                parent = record.setdefault(column[0], {})
                _set_dotted(parent, column[1], value)
        yield line, rejection if rejection is not None else record


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _check_csv_header(header: list[str]) -> SignalRejected | None:
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if not name:
            return SignalRejected(
                Reason.MALFORMED_CSV, "", "the header has an empty column name", line=1
            )
        if name in seen:
            return SignalRejected(
                Reason.MALFORMED_CSV, name, f"the header names {name} twice", line=1
            )
        seen.add(name)
        if name.startswith("attributes."):
            parts = name.split(".")
            if any(not part for part in parts):
                return SignalRejected(
                    Reason.MALFORMED_CSV, name, f"the column {name} has an empty name part", line=1
                )
            continue
        if name not in _CSV_SCALAR_COLUMNS:
            suggestion = difflib.get_close_matches(name, _CSV_SCALAR_COLUMNS, n=1)
            hint = f" (did you mean {suggestion[0]!r}?)" if suggestion else ""
            return SignalRejected(
                Reason.UNKNOWN_FIELD,
                name,
                f"the column {name} is not a field of a signal{hint}: nested fields are "
                "dotted (subject.kind, media.pdq, reach.impressions), and anything else "
                "goes in attributes.<name> columns",
                line=1,
            )
    # attributes.a and attributes.a.b cannot both be filled.
    for name in names:
        if any(other.startswith(name + ".") for other in names):
            return SignalRejected(
                Reason.MALFORMED_CSV,
                name,
                f"the column {name} is also the parent of another column",
                line=1,
            )
    return None


def load_signal_file(
    path: str | Path, *, defer_json: bool = False, limits: FileLimits | None = None
) -> Iterator[ParsedRecord]:
    """Records of a signal file, chosen by suffix: .jsonl, .jsonl.gz, .json.gz (JSON
    Lines), .csv, .csv.gz. Raises ``SignalFileError`` for any other suffix at once;
    the file is opened when iteration starts and closed when it ends, and read within
    ``limits`` (this module's defaults when None).

    ``defer_json``: JSON Lines come undecoded (see ``parse_jsonl_lines``); pass each
    record through ``parse_deferred`` before use.
    """
    file_path = Path(path)
    name = file_path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        parser: Callable[[IO[bytes]], Iterator[ParsedRecord]] = partial(
            parse_jsonl_lines, defer_json=defer_json, limits=limits
        )
    elif name.endswith((".csv", ".csv.gz")):
        parser = partial(parse_csv, limits=limits)
    else:
        raise SignalFileError(
            f"{file_path} is not a signal file: name it .jsonl, .jsonl.gz, .json.gz "
            "(JSON Lines) or .csv, .csv.gz"
        )
    return _read_file(file_path, parser)


def _read_file(
    path: Path, parser: Callable[[IO[bytes]], Iterator[ParsedRecord]]
) -> Iterator[ParsedRecord]:
    with path.open("rb") as handle:
        yield from parser(handle)
