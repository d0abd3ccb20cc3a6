"""Checks every service makes on its input, written once.

The bounds here are the edge of the product (docs/security.md, "Bounded input"): one
range of dates and times, one rule for the characters of text that people read, one
strict JSON decoder. Forms, API schemas, the signal contract and commands all ask this
module, so a bound is changed in one place and reads the same everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from watchfloor.core.errors import InvalidInput, PermissionDenied

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "TIME_RANGE",
    "DuplicateKey",
    "check_time_range",
    "clean_text",
    "control_character_problem",
    "decode_strict_json",
    "refuse_control_characters",
    "require",
    "time_range_problem",
    "within_time_range",
]


def require(allowed: bool, message: str) -> None:
    """Refuse with ``message`` when the actor's role does not allow the action."""
    if not allowed:
        raise PermissionDenied(message)


# ---------------------------------------------------------------- dates and times

# Every date and time Watchfloor accepts falls in [EARLIEST_TIME, LATEST_TIME). Anything
# outside is a typing mistake or an attack: near the ends of Python's calendar (years 1
# and 9999) converting a time to another zone overflows, and a time far ahead would sort
# above everything real for ever.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
TIME_RANGE = "2000-01-01 to 2199-12-31"
_EARLIEST_WALL = EARLIEST_TIME.replace(tzinfo=None)
_LATEST_WALL = LATEST_TIME.replace(tzinfo=None)

Moment = TypeVar("Moment", datetime, date)


def within_time_range(moment: datetime | date) -> bool:
    """Whether ``moment`` falls in the range. An aware time is compared as the instant it
    is; a naive time (a wall time whose zone is attached later) and a date as written.
    Nothing is converted, so this never overflows, whatever the value."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            return _EARLIEST_WALL <= moment < _LATEST_WALL
        return EARLIEST_TIME <= moment < LATEST_TIME
    return EARLIEST_TIME.date() <= moment < LATEST_TIME.date()


def time_range_problem(field: str, value: object) -> str:
    """The message for a date or time outside the range (``value`` as the sender wrote it)."""
    return f"{field} {value} is outside the dates accepted ({TIME_RANGE}); check the year"


def check_time_range(moment: Moment, *, field: str, shown: object = None) -> Moment:
    """``moment`` unchanged, or ``InvalidInput`` naming ``field`` when it is outside the
    range. ``shown`` is the value as the sender wrote it, for the message."""
    if not within_time_range(moment):
        raise InvalidInput(
            time_range_problem(field, shown if shown is not None else moment.isoformat()),
            field=field,
            code="out_of_range",
        )
    return moment


# ---------------------------------------------------------------- text people read

# C0 controls except tab and line feed (a carriage return only before a line feed, as a
# browser sends a line break), DEL and the C1 controls. BEL, ESC and their kin move
# cursors, ring bells and recolour terminals when a title reaches a log or a CLI; NUL
# cannot be stored by PostgreSQL. Text in any script is left alone.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")
_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "backspace",
    0x0D: "carriage return",
    0x1B: "ESC",
    0x7F: "DEL",
    0x9B: "CSI",
}


def control_character_problem(value: str) -> str | None:
    """What is wrong with ``value`` for a person to read, or None: a control character
    (named by its code point and position) or an unpaired surrogate."""
    found = _CONTROL_CHARACTER.search(value)
    if found is not None:
        code_point = ord(found.group()[0])
        name = _CONTROL_NAMES.get(code_point)
        shown = f"U+{code_point:04X}" + (f" ({name})" if name else "")
        return f"contains the control character {shown} at position {found.start() + 1}; remove it"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"has an unpaired surrogate at position {error.start + 1}; send well-formed Unicode"
            )
    return None


def refuse_control_characters(value: str, *, field: str) -> str:
    """``value`` unchanged, or ``InvalidInput`` naming ``field`` (see
    ``control_character_problem``)."""
    problem = control_character_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field} {problem}", field=field)
    return value


def clean_text(value: str | None, *, field: str, max_length: int, required: bool) -> str:
    """The stripped text, or an error naming the field: missing when required, too long,
    or holding characters that are not for people to read."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; the limit is {max_length}", field=field
        )
    return refuse_control_characters(text, field=field)


# BCP 47 as people type it for a market or a piece of text: a primary language and
# optional subtags (ja, zh-Hant, en-AU, fil).
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


def clean_language_tags(tags: Iterable[str | None], *, field: str = "languages") -> list[str]:
    """The tags, stripped and without repeats, or an error naming the first bad one."""
    clean: list[str] = []
    for index, tag in enumerate(tags):
        tag = (tag or "").strip()
        if not LANGUAGE_TAG.match(tag):
            raise InvalidInput(
                f"'{tag}' is not a BCP 47 language tag (e.g. ja, zh-Hant, id)",
                field=f"{field}[{index}]",
            )
        if tag not in clean:
            clean.append(tag)
    return clean


# ---------------------------------------------------------------- JSON


class DuplicateKey(ValueError):
    """A JSON object names the same key twice: which value was meant is anyone's guess."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object")
        self.key = key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


_decode: Callable[[str], Any] = json.JSONDecoder(
    parse_constant=_reject_constant, object_pairs_hook=_reject_duplicate_keys
).decode


def decode_strict_json(text: str) -> Any:
    """JSON as RFC 8259 means it: ``json.JSONDecodeError`` for invalid JSON,
    ``DuplicateKey`` for a key twice in one object, ``ValueError`` for ``NaN`` and
    ``Infinity`` (which Python's own decoder accepts). Deep nesting raises
    ``RecursionError``."""
    return _decode(text)
