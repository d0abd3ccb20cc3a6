"""What the crises API accepts: list, timeline and draft queries, and the body of every
write. They check what can be checked without the database (lengths, enumerations,
language tags), with the services' limits; the services check the rest. What the API
returns is :mod:`watchfloor.crises.schemas`."""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from watchfloor.crises import selectors
from watchfloor.crises.models import CrisisNote, Level, RoleKind
from watchfloor.crises.services import (
    NOTE_MAX,
    REASON_MAX,
    SECTIONS_MAX,
    SITREP_MAX,
    SUBJECT_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
)
from watchfloor.web.api import MAX_OFFSET, Code, Id, Input, Username, text

LanguageTag = Annotated[str, text(35)]


class CrisisQuery(Schema):
    """Filters of the crises list; ``level`` may repeat."""

    active: bool | None = Field(
        None, description="true: active crises only; false: closed ones only; omitted: both"
    )
    level: list[Level] = Field(default_factory=list, max_length=len(Level.values))
    market: Code = Field("", description="a market code, e.g. JP")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def as_filters(self) -> selectors.CrisisFilters:
        return selectors.CrisisFilters(
            active=self.active,
            levels=tuple(self.level),
            market=self.market.strip().upper(),
        )


class TimelineQuery(Schema):
    newest_first: bool = False
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class DraftQuery(Schema):
    audience: Code = Field(description="a sitrep audience code from crisis.yaml, e.g. leadership")
    language: LanguageTag = Field("en", description="a language the audience's template has")


class DeclareIn(Input):
    title: Annotated[str, text(TITLE_MAX, min_length=1)]
    level: Literal["monitoring", "incident", "crisis_protocol"] = "incident"
    summary: Annotated[str, text(SUMMARY_MAX)] = ""
    markets: list[Code] = Field(
        default_factory=list,
        max_length=100,
        description="market codes; from the escalation declared from when empty",
    )
    languages: list[LanguageTag] = Field(default_factory=list, max_length=30)
    commander: Username | None = Field(None, description="a username; the caller when omitted")
    declared_from: Id | None = Field(
        None, description="the id of the escalation the crisis is declared from"
    )
    escalations: list[Id] = Field(
        default_factory=list, max_length=100, description="ids of further escalations to link"
    )
    reason: Annotated[str, text(REASON_MAX)] = ""
    is_restricted: bool = False
    access_list: list[Username] = Field(default_factory=list, max_length=200)


class LevelIn(Input):
    to_level: Level
    reason: Annotated[str, text(REASON_MAX)] = Field(
        "", description="required, except to stand down with every criterion met"
    )
    confirmed_criteria: list[Code] = Field(
        default_factory=list,
        max_length=50,
        description="codes of the stand-down criteria a person confirms",
    )


class RoleIn(Input):
    expected_version: int = Field(
        ge=1,
        description="the crisis's access_version you read (GET the crisis); a change of "
        "roles or access since then gives 409 with code 'stale'",
    )
    role: RoleKind
    holder: Username = Field(description="who takes the role")
    market: Code = Field("", description="the market a regional lead covers; empty otherwise")
    note: Annotated[str, text(REASON_MAX)] = ""


class CrisisNoteIn(Input):
    body: Annotated[str, text(NOTE_MAX, min_length=1)]
    kind: CrisisNote.Kind = CrisisNote.Kind.NOTE
    pinned: bool = Field(False, description="pin it as a key fact")


class PinIn(Input):
    pinned: bool = Field(True, description="false to unpin")


class SitrepSectionIn(Input):
    escalation_id: Id = Field(description="the escalation linked to the crisis it is about")
    body: Annotated[str, text(SITREP_MAX)] = Field(
        description="its text; an empty section is left out"
    )


class SitrepIn(Input):
    audience: Code
    language: LanguageTag = "en"
    subject: Annotated[str, text(SUBJECT_MAX, min_length=1)] | None = Field(
        None, description="the pre-draft's subject when omitted"
    )
    body: Annotated[str, text(SITREP_MAX, min_length=1)] | None = Field(
        None,
        description="the shared text, read by everyone who may read the sitrep; the "
        "pre-draft's when omitted. It may not name a restricted escalation.",
    )
    sections: list[SitrepSectionIn] | None = Field(
        None,
        max_length=SECTIONS_MAX,
        description="what concerns one (restricted) escalation, each shown only to readers "
        "who may see it; the pre-draft's when omitted, none when empty",
    )


class CrisisLinkIn(Input):
    escalation_id: Id
    reason: Annotated[str, text(500)] = ""


class UnlinkIn(Input):
    reason: Annotated[str, text(500, min_length=1)]
