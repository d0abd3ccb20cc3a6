"""Hazard words in the markets' languages (``hazard_terms.yaml``), for the watchlist a
crisis proposed from an official alert starts with."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from watchfloor.catalog.loader import ConfigFileError
from watchfloor.catalog.rulefiles import CheckedFile, RuleFileKind
from watchfloor.catalog.schema import Catalog, Location
from watchfloor.catalog.values import LanguageTag

# Words of a CAP <event> that say what kind of message it is, not what happens.
_GENERIC_EVENT_WORDS = frozenset(
    [
        "warning",
        "watch",
        "advisory",
        "alert",
        "statement",
        "information",
        "message",
        "update",
        "bulletin",
        "threat",
        "test",
        "exercise",
        "notice",
        "report",
        "preliminary",
        "cancellation",
        "cancel",
        "all",
        "clear",
    ]
)
MAX_WATCHLIST_TERMS = 30
Term = Annotated[str, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hazard(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    match: list[Term] = Field(min_length=1)
    terms: dict[LanguageTag, list[Term]] = Field(default_factory=dict)


class HazardTermsFile(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    hazards: list[Hazard] = Field(default_factory=list)


class HazardTermsError(ConfigFileError):
    code = "invalid_hazard_terms"
    subject = "the hazard terms in {where}"
    verb = "have"


def _problems(spec: HazardTermsFile, catalog: Catalog | None) -> Iterator[tuple[Location, str]]:
    seen: set[str] = set()
    for index, hazard in enumerate(spec.hazards):
        if hazard.code in seen:
            yield ("hazards", index, "code"), f"'{hazard.code}' is listed twice"
        seen.add(hazard.code)


HAZARD_TERMS: RuleFileKind[HazardTermsFile] = RuleFileKind(
    model=HazardTermsFile,
    error=HazardTermsError,
    checks=_problems,
    setting="WATCHFLOOR_HAZARD_TERMS",
    file_name="hazard_terms.yaml",
    what="hazard terms",
)


def hazard_terms_in_force() -> CheckedFile[HazardTermsFile]:
    return HAZARD_TERMS.in_force(None)


def watchlist_terms(
    *, events: Sequence[tuple[str, str]], languages: Sequence[str], hazards: Sequence[Hazard]
) -> list[dict[str, str]]:
    """``[{"value", "language"}]``: each event's own words (in the alert's language),
    then the words of the hazards the events name, in each of ``languages``."""
    found: dict[tuple[str, str], dict[str, str]] = {}

    def add(value: str, language: str) -> None:
        key = (value.casefold(), language)
        if key not in found and len(found) < MAX_WATCHLIST_TERMS:
            found[key] = {"value": value, "language": language}

    for event, language in events:
        words = [w for w in re.split(r"[\s/,;:()]+", event) if w]
        kept = " ".join(w for w in words if w.casefold() not in _GENERIC_EVENT_WORDS)
        if kept:
            add(kept.lower(), language.split("-")[0] if language else "")
    lowered = " ".join(event.casefold() for event, _ in events)
    for hazard in hazards:
        if any(re.search(rf"\b{re.escape(m.casefold())}", lowered) for m in hazard.match):
            for language in languages:
                for term in hazard.terms.get(language, []):
                    add(term, language)
    return list(found.values())
