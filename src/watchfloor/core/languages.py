"""Choosing the language of a text for its reader: the first language the reader is
known to read that the text is written in, else English."""

from __future__ import annotations

from collections.abc import Iterable

FALLBACK_LANGUAGE = "en"


def covers(available: str, wanted: str) -> bool:
    """Whether a text in ``available`` serves a reader of ``wanted``: the same tag, or a
    text in ``ja`` for a reader of ``ja-JP`` (case-insensitive). ``zh`` does not serve
    ``zh-Hant`` readers better than it serves ``zh-Hans`` ones, so only the reader's tag
    is shortened, never the text's."""
    available, wanted = available.lower(), wanted.lower()
    return wanted == available or wanted.startswith(available + "-")


def preferred_language(
    wanted: Iterable[str], available: Iterable[str], *, fallback: str = FALLBACK_LANGUAGE
) -> str:
    """The first of ``wanted`` (most preferred first) that one of ``available`` serves,
    in the spelling of ``available``; ``fallback`` when none does."""
    offered = list(available)
    for tag in wanted:
        for language in offered:
            if covers(language, tag):
                return language
    return fallback
