"""The rota file (``defaults/rotations.yaml``): teams' working hours and regions, the
people the rotations need, and the rotations themselves.

Every problem names the file, the path inside it and the line, as the catalog's do::

    rotations.yaml:41: rotations[1].shifts[2].members[0]: 'sam.legal' is not a member of legal

Parsing and line mapping are the catalog loader's (``parse_yaml_file``). This module
never touches the database: what the file may refer to (teams, markets, people) comes
in as :class:`References`, which ``people.selectors.rota_references`` reads.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, parse_yaml_file
from watchfloor.catalog.schema import Location
from watchfloor.catalog.values import (
    CalendarDate,
    Code,
    LanguageTag,
    MarketCode,
    Name,
    TimeZoneName,
)
from watchfloor.core.roles import Role

WEEKDAY_NUMBERS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
WEEKDAY_NAMES = {number: name for name, number in WEEKDAY_NUMBERS.items()}
_ROTATION_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CLOCK_TIME = re.compile(r"^(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)$")
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def default_rota_file() -> Path:
    return Path(settings.WATCHFLOOR_CATALOG_DIR) / "rotations.yaml"


# ---------------------------------------------------------------- value checks


def _clock_time(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 9:00 as sexagesimal minutes (540).
        raise ValueError(
            f"YAML read this time as the number {value} (it treats 9:00 as minutes); "
            'write it in quotes with two-digit hours, e.g. "09:00"'
        )
    if isinstance(value, time):
        return value
    match = _CLOCK_TIME.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{value!r} is not a time of day; write it as HH:MM, e.g. "09:00"')
    return time(int(match["hour"]), int(match["minute"]))


def _rotation_code(value: str) -> str:
    if not isinstance(value, str) or not _ROTATION_CODE.match(value) or len(value) > 80:
        raise ValueError(
            f"{value!r} is not a valid rotation code: use up to 80 lower-case letters, digits "
            "and hyphens (for example legal-follow-the-sun); it is also the calendar's file name"
        )
    return value


def _username(value: str) -> str:
    if not isinstance(value, str) or not _USERNAME.match(value):
        raise ValueError(
            f"{value!r} is not a username: letters, digits and @ . + - _ only, up to 150"
        )
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]
RotationCode = Annotated[str, BeforeValidator(_rotation_code)]
Username = Annotated[str, BeforeValidator(_username)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKING_DAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- the file's shape


class WorkingHoursSpec(_Strict):
    start: ClockTime
    end: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(WORKING_DAYS), min_length=1)


class RegionSpec(_Strict):
    code: Code
    name: Name
    markets: list[MarketCode] = Field(min_length=1)


class TeamSpec(_Strict):
    code: Code
    time_zone: TimeZoneName
    working_hours: WorkingHoursSpec | None = None
    regions: list[RegionSpec] = Field(default_factory=list)


class PersonSpec(_Strict):
    username: Username
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    role: Literal["analyst", "lead", "partner", "viewer"]
    team: Code
    time_zone: TimeZoneName
    languages: list[LanguageTag] = Field(default_factory=list)
    email: str = Field("", max_length=254)


class ShiftSpec(_Strict):
    label: str = Field(min_length=1, max_length=100)
    time_zone: TimeZoneName
    starts: ClockTime
    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1)
    members: list[Username] = Field(min_length=1, max_length=100)
    # Whoever holds this shift is on graphic-content duty (docs/evidence.md).
    graphic_content_duty: bool = False


class RotationSpec(_Strict):
    code: RotationCode
    name: Name
    description: str = ""
    team: Code
    region: Code | None = None
    kind: Literal["weekly", "follow_the_sun"]
    start_date: CalendarDate
    # weekly: one handoff a week, on start_date's weekday, at ``handoff`` in ``time_zone``
    time_zone: TimeZoneName | None = None
    handoff: ClockTime | None = None
    members: list[Username] | None = Field(None, min_length=1, max_length=100)
    # follow_the_sun: a shift per region, each handing over at its own local time
    shifts: list[ShiftSpec] | None = None
    # Every shift of the rotation is graphic-content duty (a follow-the-sun shift can also
    # say so on its own).
    graphic_content_duty: bool = False

    def planned_shifts(self) -> list[ShiftSpec]:
        """The shifts to store: a weekly rotation is one shift that starts every day (the
        person changes only when the week does)."""
        if self.kind == "follow_the_sun":
            return [
                shift.model_copy(
                    update={
                        "graphic_content_duty": shift.graphic_content_duty
                        or self.graphic_content_duty
                    }
                )
                for shift in self.shifts or []
            ]
        # Built from already-validated fields, so not validated again (its label is empty).
        return [
            ShiftSpec.model_construct(
                label="",
                time_zone=self.time_zone or "UTC",
                starts=self.handoff or time(0, 0),
                days=list(ALL_DAYS),
                members=list(self.members or []),
                graphic_content_duty=self.graphic_content_duty,
            )
        ]

    def digest(self, markets: Sequence[str]) -> str:
        """What decides whether a reload changes this rotation: its spec and coverage."""
        payload = {"spec": self.model_dump(mode="json"), "markets": list(markets)}
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()


class RotaFile(_Strict):
    teams: list[TeamSpec] = Field(default_factory=list)
    people: list[PersonSpec] = Field(default_factory=list)
    rotations: list[RotationSpec] = Field(default_factory=list)


# ---------------------------------------------------------------- what it may refer to


@dataclass(frozen=True)
class TeamReference:
    kind: str
    regions: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class References:
    teams: dict[str, TeamReference]
    markets: frozenset[str]
    # username → team code (None: no team) of the accounts that exist
    users: dict[str, str | None]


def rota_problems(spec: RotaFile, references: References) -> Iterator[tuple[Location, str]]:
    """Everything that spans entries or needs the directory: unknown teams, markets and
    people, members outside the rotation's team, repeated codes, kind-specific fields."""
    yield from _repeated([(("teams", i, "code"), t.code) for i, t in enumerate(spec.teams)], "team")
    yield from _repeated(
        [(("people", i, "username"), p.username) for i, p in enumerate(spec.people)], "person"
    )
    yield from _repeated(
        [(("rotations", i, "code"), r.code) for i, r in enumerate(spec.rotations)], "rotation"
    )

    regions: dict[str, dict[str, tuple[str, ...]]] = {
        code: dict(team.regions) for code, team in references.teams.items()
    }
    for index, team in enumerate(spec.teams):
        where: Location = ("teams", index)
        if team.code not in references.teams:
            yield (*where, "code"), _unknown_team(team.code, references)
            continue
        hours = team.working_hours
        if hours is not None and hours.start == hours.end:
            yield (
                (*where, "working_hours", "end"),
                "working hours cannot start and end at the same time",
            )
        yield from _repeated(
            [((*where, "regions", i, "code"), r.code) for i, r in enumerate(team.regions)],
            "region",
        )
        for region_index, region in enumerate(team.regions):
            for market_index, market in enumerate(region.markets):
                if market not in references.markets:
                    yield (
                        (*where, "regions", region_index, "markets", market_index),
                        _unknown_market(market, references),
                    )
        # The file is the source of truth for the regions of the teams it lists.
        regions[team.code] = {r.code: tuple(r.markets) for r in team.regions}

    people_teams = dict(references.users)
    for index, person in enumerate(spec.people):
        where = ("people", index)
        known = references.teams.get(person.team)
        if known is None:
            yield (*where, "team"), _unknown_team(person.team, references)
        elif person.role == Role.PARTNER and known.kind != "partner":
            yield (*where, "role"), f"'{person.team}' is not a partner team; a partner needs one"
        existing = references.users.get(person.username, ...)
        if existing is not ... and existing != person.team:
            yield (
                (*where, "team"),
                f"'{person.username}' already exists in team {existing or '(none)'}; the rota "
                "file does not move people between teams: change it in the admin or here",
            )
        people_teams.setdefault(person.username, person.team)

    for index, rotation in enumerate(spec.rotations):
        yield from _rotation_problems(
            ("rotations", index), rotation, references, regions, people_teams
        )


def _rotation_problems(
    where: Location,
    rotation: RotationSpec,
    references: References,
    regions: dict[str, dict[str, tuple[str, ...]]],
    people_teams: dict[str, str | None],
) -> Iterator[tuple[Location, str]]:
    if rotation.team not in references.teams:
        yield (*where, "team"), _unknown_team(rotation.team, references)
        return
    if rotation.region is not None and rotation.region not in regions.get(rotation.team, {}):
        known = ", ".join(regions.get(rotation.team, {})) or "none yet"
        yield (
            (*where, "region"),
            f"'{rotation.region}' is not a region of {rotation.team} (its regions: {known}); "
            "define it under teams, or leave region out to cover every market",
        )
    weekly_fields: dict[str, object] = {
        "time_zone": rotation.time_zone,
        "handoff": rotation.handoff,
    }
    if rotation.kind == "weekly":
        for name, value in weekly_fields.items():
            if value is None:
                yield (*where, name), f"a weekly rotation needs '{name}'"
        if rotation.members is None:
            yield (
                (*where, "members"),
                "a weekly rotation needs 'members', in the order they take a week each",
            )
        if rotation.shifts is not None:
            yield (
                (*where, "shifts"),
                "a weekly rotation has no shifts; use kind: follow_the_sun for shifts",
            )
    else:
        for name, value in {**weekly_fields, "members": rotation.members}.items():
            if value is not None:
                yield (
                    (*where, name),
                    f"'{name}' belongs to weekly rotations; a follow-the-sun rotation gives it "
                    "per shift",
                )
        if rotation.shifts is None or len(rotation.shifts) < 2:
            yield (
                (*where, "shifts"),
                "a follow-the-sun rotation needs at least two shifts (e.g. APAC, EMEA, Americas)",
            )
        seen: dict[tuple[str, time, tuple[str, ...]], int] = {}
        for shift_index, shift in enumerate(rotation.shifts or []):
            key = (shift.time_zone, shift.starts, tuple(sorted(shift.days)))
            if key in seen:
                yield (
                    (*where, "shifts", shift_index, "starts"),
                    f"starts at the same moment as shifts[{seen[key]}]; one of them would never "
                    "be on call",
                )
            seen.setdefault(key, shift_index)
    if rotation.kind == "weekly":
        member_lists = [((*where, "members"), rotation.members or [])]
    else:
        member_lists = [
            ((*where, "shifts", i, "members"), shift.members)
            for i, shift in enumerate(rotation.shifts or [])
        ]
    for location, members in member_lists:
        for member_index, username in enumerate(members):
            if username not in people_teams:
                yield (
                    (*location, member_index),
                    f"no person '{username}'; add them under people, or create the account first",
                )
            elif people_teams[username] != rotation.team:
                yield (
                    (*location, member_index),
                    f"'{username}' is not a member of {rotation.team} "
                    f"(their team: {people_teams[username] or 'none'})",
                )


def _repeated(entries: list[tuple[Location, str]], what: str) -> Iterator[tuple[Location, str]]:
    first: dict[str, Location] = {}
    for location, code in entries:
        if code in first:
            yield location, f"{what} '{code}' is given twice"
        else:
            first[code] = location


def _unknown_team(code: str, references: References) -> str:
    return f"unknown team '{code}'; the catalog's teams are {', '.join(sorted(references.teams))}"


def _unknown_market(code: str, references: References) -> str:
    known = ", ".join(sorted(references.markets))
    return f"unknown market '{code}'; the catalog's markets are {known}"


# ---------------------------------------------------------------- reading


class RotaFileError(ConfigFileError):
    """The rota file cannot be used."""

    code = "invalid_rotas"
    subject = "the rota file {where}"


@dataclass(frozen=True)
class LoadedRotaFile:
    spec: RotaFile
    digest: str
    path: Path


def read_rota_file(path: Path, *, references: References) -> LoadedRotaFile:
    """Read and check the rota file; raise :class:`RotaFileError` with every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RotaFileError(
            [Problem(str(path), "", None, f"cannot be read: {exc.strerror or exc}")], where=path
        ) from exc
    file = parse_yaml_file(path.name, raw)
    problems = list(file.problems)
    spec = None
    if file.readable:
        if file.data is None:
            problems.append(file.problem_at((), "the file is empty"))
        else:
            try:
                spec = RotaFile.model_validate(file.data)
            except ValidationError as exc:
                problems.extend(file.schema_problems(exc, RotaFile))
    if spec is not None:
        problems.extend(file.problem_at(loc, msg) for loc, msg in rota_problems(spec, references))
    if problems or spec is None:
        problems.sort(key=lambda p: p.line or 0)
        raise RotaFileError(problems, where=path)
    return LoadedRotaFile(spec=spec, digest=hashlib.sha256(raw).hexdigest(), path=path.resolve())


def weekday_numbers(days: Sequence[str]) -> list[int]:
    return sorted({WEEKDAY_NUMBERS[day] for day in days})


def weekday_names(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 4, 5] → 'Mon–Fri'; [1, 3] → 'Mon, Wed'; all seven → 'every day'."""
    days = sorted(set(numbers))
    if days == list(range(1, 8)):
        return "every day"
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{WEEKDAY_NAMES[days[0]].title()}–{WEEKDAY_NAMES[days[-1]].title()}"
    return ", ".join(WEEKDAY_NAMES[d].title() for d in days)
