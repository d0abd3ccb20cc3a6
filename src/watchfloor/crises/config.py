"""Crisis settings as reviewed files: ``crisis.yaml`` (sitrep cadence per level, audiences,
follow-the-sun regions, stand-down criteria) and ``sitreps/<audience>.yaml`` (the sitrep
template for each audience, in several languages).

Both live in the catalog directory (``WATCHFLOOR_CATALOG_DIR``); a catalog directory
without ``crisis.yaml`` uses the defaults shipped in the package. Every problem names
the file, the path inside it and the line, as the catalog's do::

    crisis.yaml:12: handoffs.regions[1].handoff_at: '9am' is not a time of day ...
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal, TypeVar, cast, get_args

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, YamlFile, parse_yaml_file
from watchfloor.catalog.schema import Location
from watchfloor.catalog.values import Code, Duration, LanguageTag, Name, TimeZoneName
from watchfloor.crises.models import Level
from watchfloor.playbooks.consistency import variable_parity
from watchfloor.playbooks.schema import VARIABLE
from watchfloor.severity.rubric import parse_iso_duration

ModelT = TypeVar("ModelT", bound=BaseModel)

PACKAGE_DEFAULTS = Path(__file__).resolve().parent.parent / "defaults"
SETTINGS_FILE = "crisis.yaml"
TEMPLATES_DIR = "sitreps"

_HH_MM = re.compile(r"^(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)$")

# What a sitrep template may say, and what each variable becomes (see drafting.py).
SITREP_VARIABLES: dict[str, str] = {
    "reference": "the crisis reference, e.g. CR-12",
    "title": "the crisis title",
    "summary": "the crisis summary",
    "level": "the level now, in the template's language",
    "number": "this sitrep's number for its audience",
    "period_start": "the start of the period covered (the previous sitrep, or the declaration)",
    "sent_at": "the time of drafting",
    "markets": "market codes, comma-separated",
    "market_names": "market names, comma-separated",
    "commander": "the incident commander's name",
    "roles": "who holds each role, one per line",
    "counts": "linked escalations (open/total) and what happened in the period, one per line",
    "level_changes": "level changes in the period, one per line",
    "new_escalations": "escalations linked in the period, one per line",
    "escalation_states": "each linked escalation and its status, one per line",
    "decisions": "decisions in the period (the crisis's and its escalations'), one per line",
    "actions_taken": "enforcement actions decided so far, in plain words (for the public)",
    "open_asks": "what is waiting on someone: approvals, partner requests and partner-owned "
    "steps, one per line",
    "next_steps": "deadlines coming up, one per line",
    "key_facts": "the pinned key facts, one per line",
    "next_sitrep": "when the next sitrep is due",
}
# Words a template gives for its language; English ones are used where it gives none.
DEFAULT_WORDS: dict[str, str] = {
    "none": "None",
    "level.monitoring": "Monitoring",
    "level.incident": "Incident",
    "level.crisis_protocol": "Crisis protocol active",
    "level.stand_down": "Stand-down",
    "level.closed": "Closed",
    "no_sitrep_due": "no further sitrep scheduled",
    "counts.linked": "Linked escalations: {total} ({open} open)",
    "counts.new": "Escalations linked this period: {count}",
    "counts.decisions": "Decisions this period: {count}",
    "counts.awaiting": " ({count} awaiting approval)",
    "counts.statutory": "Statutory clocks running: {count}",
    "counts.breached": ", {count} breached",
    "counts.entries": "War-room entries this period: {count}",
    "ask.approval": "{reference}: {action} awaits a second person's approval",
    "ask.request": "{reference}: {team}, {kind}, due {due}",
    "deadline.breached": " (breached)",
    "war_room": "War room",
    # After a restricted escalation's line in its own section, when it is new this period.
    "section.new": " (linked this period)",
}
# The placeholders each word may use (checked when the templates load).
WORD_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "counts.linked": frozenset({"total", "open"}),
    "counts.new": frozenset({"count"}),
    "counts.decisions": frozenset({"count"}),
    "counts.awaiting": frozenset({"count"}),
    "counts.statutory": frozenset({"count"}),
    "counts.breached": frozenset({"count"}),
    "counts.entries": frozenset({"count"}),
    "ask.approval": frozenset({"reference", "action"}),
    "ask.request": frozenset({"reference", "team", "kind", "due"}),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

CriterionCheck = Literal[
    "linked_escalations_settled",
    "no_running_statutory_clocks",
    "no_pending_decisions",
    "no_overdue_playbook_steps",
    "no_open_partner_requests",
    "confirmed",
]
CRITERION_CHECKS: tuple[CriterionCheck, ...] = get_args(CriterionCheck)
# Every level but closed (tests hold it to Level): written out so the type checker can
# read the settings' Literal types.
SettableLevel = Literal["monitoring", "incident", "crisis_protocol", "stand_down"]
SETTABLE_LEVELS: tuple[SettableLevel, ...] = get_args(SettableLevel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time_of_day(value: str) -> str:
    if not isinstance(value, str) or not _HH_MM.match(value):
        raise ValueError(
            f"{value!r} is not a time of day; write it as HH:MM in 24-hour time, in quotes "
            '(for example "09:00")'
        )
    return value


TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]


class LevelSettings(_Strict):
    sitrep_every: Duration | None = None

    @property
    def sitrep_interval(self) -> timedelta | None:
        return parse_iso_duration(self.sitrep_every) if self.sitrep_every else None


class Audience(_Strict):
    code: Code
    name: Name
    # full: everything the drafter may see; partner: no titles of restricted escalations
    # and no internal names; public: nothing about individual cases.
    detail: Literal["full", "partner", "public"]
    keeps_cadence: bool = False
    description: str = ""
    # The languages this audience reads, most preferred first: its sitrep is drafted in
    # the first one its template has. Without them, a partner or public audience reads
    # the crisis's market's language, and leadership English (crises.drafting).
    languages: list[LanguageTag] = Field(default_factory=list, max_length=10)


class SitrepSettings(_Strict):
    due_soon: Duration = "PT15M"
    audiences: list[Audience] = Field(min_length=1)

    @property
    def due_soon_window(self) -> timedelta:
        return parse_iso_duration(self.due_soon)


class Region(_Strict):
    code: Code
    name: Name
    time_zone: TimeZoneName
    handoff_at: TimeOfDay

    @property
    def handoff_time(self) -> time:
        hour, minute = self.handoff_at.split(":")
        return time(int(hour), int(minute))


class HandoffSettings(_Strict):
    regions: list[Region] = Field(min_length=1)
    # A handoff stays "in play" this long after its time while it is not acknowledged.
    acknowledge_within: Duration = "PT3H"
    levels: list[SettableLevel] = Field(default_factory=lambda: list(SETTABLE_LEVELS))

    @property
    def acknowledge_window(self) -> timedelta:
        return parse_iso_duration(self.acknowledge_within)


class Criterion(_Strict):
    code: Code
    label: Name
    check: CriterionCheck


class StandDownSettings(_Strict):
    criteria: list[Criterion] = Field(default_factory=list)


class DeadlineSettings(_Strict):
    # The war room lists deadlines due within this, and every breached one.
    horizon: Duration = "PT24H"

    @property
    def horizon_window(self) -> timedelta:
        return parse_iso_duration(self.horizon)


class CrisisSettings(_Strict):
    levels: dict[SettableLevel, LevelSettings]
    sitreps: SitrepSettings
    handoffs: HandoffSettings
    stand_down: StandDownSettings = StandDownSettings()
    deadlines: DeadlineSettings = DeadlineSettings()

    def sitrep_interval(self, level: str) -> timedelta | None:
        settings_for_level = cast("dict[str, LevelSettings]", self.levels).get(level)
        return settings_for_level.sitrep_interval if settings_for_level else None

    def audience(self, code: str) -> Audience | None:
        return next((a for a in self.sitreps.audiences if a.code == code), None)

    @property
    def cadence_audiences(self) -> list[str]:
        return [a.code for a in self.sitreps.audiences if a.keeps_cadence]


class SitrepBody(_Strict):
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1)


class SitrepTemplate(_Strict):
    code: Code
    name: Name
    bodies: dict[LanguageTag, SitrepBody] = Field(min_length=1)
    words: dict[LanguageTag, dict[str, str]] = Field(default_factory=dict)

    def word(self, language: str, key: str, **values: object) -> str:
        text = self.words.get(language, {}).get(key) or DEFAULT_WORDS.get(key, key)
        return text.format(**values) if values else text


@dataclass(frozen=True)
class LoadedTemplate:
    spec: SitrepTemplate
    digest: str


@dataclass(frozen=True)
class CrisisConfig:
    settings: CrisisSettings
    templates: dict[str, LoadedTemplate]
    directory: Path

    def template(self, audience: str) -> LoadedTemplate:
        return self.templates[audience]


class CrisisConfigError(ConfigFileError):
    """The crisis settings cannot be used."""

    code = "invalid_crisis_config"
    subject = "the crisis settings in {where}"
    verb = "have"


def config_directory() -> Path:
    catalog = Path(settings.WATCHFLOOR_CATALOG_DIR)
    return catalog if (catalog / SETTINGS_FILE).is_file() else PACKAGE_DEFAULTS


# Parsed once per set of file versions: a changed file (size or time) is read again.
_cache: dict[Path, tuple[tuple, CrisisConfig]] = {}


def _fingerprint(directory: Path) -> tuple:
    paths = [directory / SETTINGS_FILE]
    template_dir = directory / TEMPLATES_DIR
    if template_dir.is_dir():
        paths.extend(sorted(template_dir.glob("*.yaml")))
    stamps: list[tuple[str, int | None, int | None]] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            stamps.append((path.name, None, None))
        else:
            stamps.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def crisis_config(directory: Path | None = None) -> CrisisConfig:
    """The settings and sitrep templates in force (raises :class:`CrisisConfigError`)."""
    directory = Path(directory) if directory is not None else config_directory()
    fingerprint = _fingerprint(directory)
    cached = _cache.get(directory)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    config = read_crisis_config(directory)
    _cache[directory] = (fingerprint, config)
    return config


def read_crisis_config(directory: Path) -> CrisisConfig:
    problems: list[Problem] = []
    settings_file, _ = _read(directory / SETTINGS_FILE, problems)
    crisis_settings = _validated(settings_file, CrisisSettings, problems)
    if crisis_settings is not None and settings_file is not None:
        problems.extend(
            settings_file.problem_at(location, message)
            for location, message in settings_problems(crisis_settings)
        )

    templates: dict[str, LoadedTemplate] = {}
    template_dir = directory / TEMPLATES_DIR
    paths = sorted(template_dir.glob("*.yaml")) if template_dir.is_dir() else []
    for path in paths:
        file, raw = _read(path, problems)
        spec = _validated(file, SitrepTemplate, problems)
        if spec is None or file is None:
            continue
        if spec.code != path.stem:
            problems.append(
                file.problem_at(
                    ("code",),
                    f"code '{spec.code}' differs from the file name; name the file "
                    f"{spec.code}.yaml or change the code to '{path.stem}'",
                )
            )
            continue
        problems.extend(
            file.problem_at(location, message) for location, message in template_problems(spec)
        )
        templates[spec.code] = LoadedTemplate(spec=spec, digest=hashlib.sha256(raw).hexdigest())

    if crisis_settings is not None:
        for index, audience in enumerate(crisis_settings.sitreps.audiences):
            if audience.code not in templates:
                problems.append(
                    Problem(
                        SETTINGS_FILE,
                        f"sitreps.audiences[{index}].code",
                        settings_file.lines.get(("sitreps", "audiences", index, "code"))
                        if settings_file
                        else None,
                        f"no sitrep template for audience '{audience.code}'; add "
                        f"{TEMPLATES_DIR}/{audience.code}.yaml",
                    )
                )
    if problems or crisis_settings is None:
        problems.sort(key=lambda p: (p.file, p.line or 0))
        raise CrisisConfigError(problems, where=directory)
    return CrisisConfig(settings=crisis_settings, templates=templates, directory=directory)


def _read(path: Path, problems: list[Problem]) -> tuple[YamlFile | None, bytes]:
    name = path.name if path.parent.name != TEMPLATES_DIR else f"{TEMPLATES_DIR}/{path.name}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(name, "", None, "file is missing"))
        return None, b""
    except OSError as exc:
        problems.append(Problem(name, "", None, f"cannot be read: {exc.strerror or exc}"))
        return None, b""
    file = parse_yaml_file(name, raw)
    problems.extend(file.problems)
    return file, raw


def _validated(
    file: YamlFile | None, model: type[ModelT], problems: list[Problem]
) -> ModelT | None:
    if file is None or not file.readable:
        return None
    if file.data is None:
        problems.append(file.problem_at((), "the file is empty"))
        return None
    try:
        return model.model_validate(file.data)
    except ValidationError as exc:
        problems.extend(file.schema_problems(exc, model))
        return None


def settings_problems(crisis_settings: CrisisSettings) -> Iterator[tuple[Location, str]]:
    """What must hold across the settings file, beyond each value's shape."""
    yield from _duplicates(
        [
            (("sitreps", "audiences", i, "code"), a.code)
            for i, a in enumerate(crisis_settings.sitreps.audiences)
        ],
        "audience",
    )
    if not crisis_settings.cadence_audiences:
        yield (
            ("sitreps", "audiences"),
            "no audience keeps the cadence; set keeps_cadence: true on the sitrep of record "
            "(usually leadership)",
        )
    yield from _duplicates(
        [
            (("handoffs", "regions", i, "code"), r.code)
            for i, r in enumerate(crisis_settings.handoffs.regions)
        ],
        "region",
    )
    yield from _duplicates(
        [
            (("stand_down", "criteria", i, "code"), c.code)
            for i, c in enumerate(crisis_settings.stand_down.criteria)
        ],
        "criterion",
    )
    for required in (Level.MONITORING, Level.INCIDENT, Level.CRISIS_PROTOCOL):
        if required not in crisis_settings.levels:
            yield (("levels",), f"missing level '{required}'; give its sitrep_every (e.g. PT4H)")
    for level, level_settings in crisis_settings.levels.items():
        interval = level_settings.sitrep_interval
        if interval is not None and interval < timedelta(minutes=5):
            yield (
                ("levels", level, "sitrep_every"),
                f"{level_settings.sitrep_every} is shorter than five minutes; "
                "nobody can write sitreps that often",
            )


def template_problems(spec: SitrepTemplate) -> Iterator[tuple[Location, str]]:
    if "en" not in spec.bodies:
        yield (("bodies",), "every sitrep template needs an English body ('en')")
    known = set(SITREP_VARIABLES)
    for language, body in spec.bodies.items():
        for part in ("subject", "body"):
            text = getattr(body, part)
            unknown = []
            for match in VARIABLE.finditer(text):
                name = match.group("name")
                if name not in known and name not in unknown:
                    unknown.append(name)
            for name in unknown:
                yield (
                    ("bodies", language, part),
                    f"unknown variable '{{{{ {name} }}}}'; use one of {', '.join(sorted(known))}",
                )
    yield from variable_parity(
        {language: (body.subject, body.body) for language, body in spec.bodies.items()}
    )
    english_words = {**DEFAULT_WORDS, **spec.words.get("en", {})}
    for language, words in spec.words.items():
        for key, text in words.items():
            if key not in DEFAULT_WORDS:
                yield (
                    ("words", language, key),
                    f"unknown word '{key}'; the words are {', '.join(DEFAULT_WORDS)}",
                )
                continue
            allowed = WORD_PLACEHOLDERS.get(key, frozenset())
            unknown_placeholders = set(_PLACEHOLDER.findall(text)) - allowed
            if unknown_placeholders:
                named = ", ".join("{" + name + "}" for name in sorted(unknown_placeholders))
                usable = ", ".join("{" + name + "}" for name in sorted(allowed))
                yield (
                    ("words", language, key),
                    f"unknown placeholder {named}"
                    + (f"; '{key}' may use {usable}" if allowed else f"; '{key}' takes none"),
                )
                continue
            # A translation says as much as the English: the same placeholders, no fewer.
            expected = set(_PLACEHOLDER.findall(english_words[key]))
            used = set(_PLACEHOLDER.findall(text))
            if language != "en" and used != expected:
                yield (
                    ("words", language, key),
                    f"the '{language}' word '{key}' uses {_braced(used) or 'no placeholder'}; "
                    f"the English one uses {_braced(expected) or 'none'}: use the same",
                )


def _braced(names: set[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names))


def _duplicates(items: list[tuple[Location, str]], what: str) -> Iterator[tuple[Location, str]]:
    seen: dict[str, Location] = {}
    for location, code in items:
        if code in seen:
            yield location, f"{what} '{code}' is given twice"
        else:
            seen[code] = location
