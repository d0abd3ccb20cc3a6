"""The checks of a signal's fields, one small function per kind of value.

Each raises ``SignalRejected`` naming the dotted field, the value and what to change;
``parse_signal`` (``contract.signal``) calls them in the order of the contract. The
limits of each field are here too.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from watchfloor.core.validation import time_range_problem, within_time_range
from watchfloor.signals.contract.errors import Reason, SignalRejected

MAX_ID_LENGTH = 200
MAX_REF_LENGTH = 4096
MAX_TEXT_LENGTH = 20_000
MAX_URL_LENGTH = 4096
MAX_REPORTER_LENGTH = 200
MAX_POLICY_CODE_LENGTH = 64
MAX_LANGUAGE_TAG_LENGTH = 35
MAX_COUNT = 2**63 - 1  # fits a BigIntegerField
MAX_ATTRIBUTES_DEPTH = 16

_MEDIA_FIELDS = frozenset({"pdq", "pdq_quality", "md5", "sha256"})
_REACH_FIELDS = ("impressions", "followers", "shares")
_REACH_FIELD_SET = frozenset(_REACH_FIELDS)

# Identifiers (id, subject.ref, reporter): no control characters anywhere and no
# white space at either end, so that "abc" and "abc " never become two signals.
_IDENTIFIER = re.compile(r"[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# The common shape of a BCP 47 tag (language, script, region, variants) in any case;
# it is stored in the canonical case (zh-Hant-TW).
_LANGUAGE_TAG = re.compile(
    r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)
_HEX_32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX_64 = re.compile(r"[0-9a-fA-F]{64}")


def check_string(value: Any, name: str, max_length: int) -> None:
    if type(value) is not str:
        raise bad_type(name, value, "a string")
    if len(value) > max_length:
        raise SignalRejected(
            Reason.TOO_LONG,
            name,
            f"{name} has {len(value):,} characters; the limit is {max_length:,}",
        )
    if not value.isascii():
        check_encodable(value, name)
    if "\x00" in value:
        raise SignalRejected(
            Reason.INVALID_VALUE, name, f"{name} contains a NUL character (\\u0000): remove it"
        )


def check_identifier(value: Any, name: str, max_length: int) -> None:
    check_string(value, name, max_length)
    if _IDENTIFIER.fullmatch(value) is None:
        if not value:
            message = f"{name} is empty: give a non-empty value"
        else:
            message = (
                f"{name} {show_value(value)} has control characters or white space at either end: "
                "remove them"
            )
        raise SignalRejected(Reason.INVALID_VALUE, name, message)


def check_encodable(value: str, name: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise SignalRejected(
            Reason.BAD_ENCODING,
            name,
            f"{name} has a character that cannot be encoded as UTF-8 (a lone surrogate "
            f"at position {error.start}): send well-formed Unicode",
        ) from None


def is_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_timestamp(value: Any, name: str) -> datetime:
    if type(value) is not str:
        raise bad_type(name, value, "an RFC 3339 timestamp string")
    if len(value) > 64 or _TIMESTAMP.fullmatch(value) is None:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP,
            name,
            f"{name} {show_value(value)} is not an RFC 3339 timestamp: give a date, a time with "
            "seconds and an offset, such as 2026-11-24T09:30:00+09:00 or 2026-11-24T00:30:00Z",
        )
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise SignalRejected(
            Reason.BAD_TIMESTAMP, name, f"{name} {show_value(value)} is not a real time: {error}"
        ) from None
    # Checked before converting: at the ends of the calendar (0001-01-01T00:00:00+00:01)
    # the conversion to UTC itself overflows.
    if not within_time_range(parsed):
        raise SignalRejected(
            Reason.BAD_TIMESTAMP, name, time_range_problem(name, show_value(value))
        )
    return parsed.astimezone(UTC)


def parse_media(media: Any) -> tuple[bytes | None, int | None, str | None, str | None]:
    if type(media) is not dict:
        raise bad_type("media", media, 'an object such as {"pdq": "<64 hex digits>"}')
    if not media.keys() <= _MEDIA_FIELDS:
        check_keys(media, _MEDIA_FIELDS, "media.")
    get = media.get
    pdq_bytes = None
    pdq = get("pdq")
    if pdq is not None:
        if type(pdq) is not str:
            raise bad_type("media.pdq", pdq, "a string of 64 hex digits")
        if len(pdq) != 64 or _HEX_64.fullmatch(pdq) is None:
            raise SignalRejected(
                Reason.INVALID_PDQ,
                "media.pdq",
                f"media.pdq {show_value(pdq)} is not a PDQ hash: give exactly 64 hex digits "
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
        raise bad_type(name, value, f"a string of {digits} hex digits")
    if len(value) != digits or pattern.fullmatch(value) is None:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            name,
            f"{name} {show_value(value)} is not a hex digest: give exactly {digits} hex digits",
        )
    return value.lower()


def parse_reach(reach: Any) -> tuple[int | None, int | None, int | None]:
    if type(reach) is not dict:
        raise bad_type("reach", reach, 'an object such as {"impressions": 1200}')
    if not reach.keys() <= _REACH_FIELD_SET:
        check_keys(reach, _REACH_FIELD_SET, "reach.")
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
            raise bad_type(name, value, "a whole number")
    if not 0 <= value <= maximum:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            name,
            f"{name} is {value}: give a whole number from 0 to {maximum}",
        )
    return value


def parse_language(value: Any) -> str:
    check_string(value, "language", MAX_LANGUAGE_TAG_LENGTH)
    if _LANGUAGE_TAG.fullmatch(value) is None:
        raise SignalRejected(
            Reason.INVALID_VALUE,
            "language",
            f"language {show_value(value)} is not a BCP 47 language tag: use a tag such as ja, "
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


def check_json_value(value: Any, path: str, depth: int) -> None:
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
            check_encodable(value, path)
        if "\x00" in value:
            raise SignalRejected(
                Reason.INVALID_VALUE, path, f"{path} contains a NUL character (\\u0000): remove it"
            )
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise bad_type(path, key, "an object with string keys")
            check_json_value(key, path, depth + 1)
            check_json_value(item, f"{path}.{key}", depth + 1)
    elif kind is list:
        for index, item in enumerate(value):
            check_json_value(item, f"{path}[{index}]", depth + 1)
    elif kind is float:
        if not math.isfinite(value):
            raise SignalRejected(
                Reason.INVALID_VALUE, path, f"{path} is {value}, which JSON cannot carry"
            )
    elif value is not None and kind is not int and kind is not bool:
        raise bad_type(path, value, "a JSON value")


def check_keys(data: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
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


def missing_field(name: str, data: Mapping[str, Any], allowed: frozenset[str]) -> SignalRejected:
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


def bad_type(name: str, value: Any, expected: str) -> SignalRejected:
    return SignalRejected(
        Reason.BAD_TYPE,
        name,
        f"{name} must be {expected}, not {json_type(value)} {show_value(value)}",
    )


def json_type(value: Any) -> str:
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


def show_value(value: Any, limit: int = 60) -> str:
    # repr escapes control characters and lone surrogates, so messages stay printable.
    shown = repr(value)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


# ---------------------------------------------------------------------------
# Files
