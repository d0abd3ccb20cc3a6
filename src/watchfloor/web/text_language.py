"""Which language a piece of people's text is in, for its ``lang`` attribute.

Browsers pick glyph shapes by ``lang``: Traditional Chinese marked as the page's English
(or left to a Japanese default) renders with Japanese shapes. The text's own script
decides among the languages the escalation or crisis names; text in Latin script is
left to the page's language unless the only language named is written in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Scripts a text may show, by the ranges that identify them.
_SCRIPTS = {
    "kana": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "hangul": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
}
# The scripts each language (by its primary subtag) is written in; Latin otherwise.
_WRITTEN_IN = {
    "ja": {"kana", "han"},
    "zh": {"han"},
    "yue": {"han"},
    "ko": {"hangul", "han"},
    "th": {"thai"},
    "hi": {"devanagari"},
    "mr": {"devanagari"},
    "ne": {"devanagari"},
    "ar": {"arabic"},
    "fa": {"arabic"},
    "ur": {"arabic"},
    "he": {"hebrew"},
}
# When no named language fits the script, the likeliest language of that script.
_LIKELIEST = {"kana": "ja", "hangul": "ko", "thai": "th", "devanagari": "hi", "hebrew": "he"}


def _scripts_of(text: str) -> set[str]:
    return {name for name, pattern in _SCRIPTS.items() if pattern.search(text)}


def _written_in(tag: str) -> set[str]:
    return _WRITTEN_IN.get(tag.split("-")[0].lower(), {"latin"})


def text_language(text: str, languages: Iterable[str] = ()) -> str:
    """The BCP 47 tag of ``text`` among ``languages``, or "" to inherit the page's."""
    scripts = _scripts_of(text or "")
    candidates = [tag for tag in languages or [] if tag]
    if not scripts:
        return ""
    non_latin = scripts - {"latin"}
    if non_latin:
        # Kana means Japanese whatever else is named; then the first named that fits.
        if "kana" in non_latin:
            return next((t for t in candidates if t.split("-")[0].lower() == "ja"), "ja")
        if non_latin == {"han"}:
            # Han alone, without kana: Chinese where Chinese is named.
            chinese = [t for t in candidates if t.split("-")[0].lower() in ("zh", "yue")]
            if chinese:
                return chinese[0]
        for tag in candidates:
            if _written_in(tag) & non_latin:
                return tag
        return next((_LIKELIEST[s] for s in sorted(non_latin) if s in _LIKELIEST), "")
    latin_named = [t for t in candidates if _written_in(t) == {"latin"}]
    return latin_named[0] if len(candidates) == 1 and latin_named else ""
