"""Checks every service makes on its input, written once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from watchfloor.core.errors import InvalidInput, PermissionDenied


def require(allowed: bool, message: str) -> None:
    """Refuse with ``message`` when the actor's role does not allow the action."""
    if not allowed:
        raise PermissionDenied(message)


def clean_text(value: str | None, *, field: str, max_length: int, required: bool) -> str:
    """The stripped text, or an error naming the field: missing when required, too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; the limit is {max_length}", field=field
        )
    return text


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
