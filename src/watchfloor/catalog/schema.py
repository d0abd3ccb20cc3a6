"""What each file of a catalog directory may say, and what must hold across files.

One pydantic model per file, and :class:`Catalog` for the whole directory: its fields
are named after the files (``policies`` is ``policies.yaml``), so a validation error's
location says which file and where in it. The per-file models check shapes and values
(time zones, language tags, durations); :class:`Catalog` then checks what spans a list
or several files: codes are unique, and every reference (an escalation type's default
policy, a floor's escalation type, a rule's jurisdiction) names something that exists.

Problems come back as :class:`SchemaProblem` (file, location inside it, message); the
loader turns locations into line numbers. The severity rubric is
``severity.rubric.Rubric``, used as it is. The kinds of value (codes, market codes,
language tags…) are :mod:`watchfloor.catalog.values`, shared with every other
configuration file; pydantic's errors are put into words by
:mod:`watchfloor.catalog.schema_messages`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from watchfloor.catalog.schema_messages import describe_error, locate_rubric_problems
from watchfloor.catalog.values import (
    CalendarDate,
    Code,
    Duration,
    LanguageTag,
    MarketCode,
    Name,
    RuleId,
    TimeZoneName,
)
from watchfloor.severity.rubric import Rubric, parse_iso_duration

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaProblem:
    file: str
    location: Location
    message: str


class CatalogSchemaError(ValueError):
    """The catalog breaks the schema; ``problems`` says where and how."""

    def __init__(self, problems: Sequence[SchemaProblem]):
        self.problems = list(problems)
        super().__init__(
            "; ".join(
                f"{p.file}: {format_location(p.location) or '(top level)'}: {p.message}"
                for p in self.problems
            )
        )


def format_location(location: Location) -> str:
    """``("factors", 2, "options", 1, "points")`` → ``factors[2].options[1].points``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# catalog.yaml


class CatalogInfo(_Strict):
    label: str = Field(min_length=1, max_length=80)
    version: str = Field(min_length=1, max_length=19)


# policies.yaml


class PolicyVersionSpec(_Strict):
    version: str = Field(min_length=1, max_length=32)
    effective_from: CalendarDate
    summary: str = ""


class PolicySpec(_Strict):
    code: Code
    name: Name
    description: str = ""
    versions: list[PolicyVersionSpec] = Field(min_length=1)


class PolicyAreaSpec(_Strict):
    code: Code
    name: Name
    policies: list[PolicySpec] = Field(min_length=1)


class PoliciesFile(_Strict):
    areas: list[PolicyAreaSpec] = Field(min_length=1)


# escalation_types.yaml


class EscalationTypeSpec(_Strict):
    code: Code
    name: Name
    description: str = Field(min_length=1)
    default_policy: Code | None = None


class EscalationTypesFile(_Strict):
    escalation_types: list[EscalationTypeSpec] = Field(min_length=1)


# enforcement_actions.yaml


class EnforcementActionSpec(_Strict):
    code: Code
    label: Name
    description: str = ""
    needs_countries: bool = False
    position: int = Field(ge=0, le=32767)


class EnforcementActionsFile(_Strict):
    actions: list[EnforcementActionSpec] = Field(min_length=1)


# teams.yaml


class TeamSpec(_Strict):
    code: Code
    name: Name
    kind: Literal["site_policy", "partner"]
    description: str = ""


class TeamsFile(_Strict):
    teams: list[TeamSpec] = Field(min_length=1)


# markets.yaml


class BoundingBox(_Strict):
    """A rectangle of latitude and longitude (WGS 84 degrees) that holds part of a
    market; a box whose west edge is east of its east edge crosses the 180th meridian
    (Fiji, the Aleutians). Official alerts' polygons and circles are matched to markets
    by these (warning app)."""

    south: float = Field(ge=-90, le=90)
    west: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _south_of_north(self) -> BoundingBox:
        if self.south >= self.north:
            raise ValueError(f"south ({self.south}) must be less than north ({self.north})")
        return self


class MarketSpec(_Strict):
    code: MarketCode
    name: Name
    time_zones: list[TimeZoneName] = Field(min_length=1)
    languages: list[LanguageTag] = Field(min_length=1)
    regulators: list[str] = Field(default_factory=list)
    # Where the market is, roughly: official alerts' areas are matched against these.
    bounding_boxes: list[BoundingBox] = Field(default_factory=list, max_length=20)


class MarketsFile(_Strict):
    markets: list[MarketSpec] = Field(min_length=1)


# statutory_rules.yaml

DeadlineKind = Literal["fixed", "set_by_notice", "qualitative"]
_WITHOUT_FIGURE = ("set_by_notice", "qualitative")


class StatutoryRuleSpec(_Strict):
    # Field order matters: deadline and internal_target are checked against deadline_kind.
    id: RuleId
    jurisdiction: MarketCode
    instrument: str = Field(min_length=1, max_length=500)
    trigger: str = Field(min_length=1)
    action: str = Field(min_length=1, max_length=500)
    deadline_kind: DeadlineKind
    deadline: Duration | None = Field(default=None, validate_default=True)
    internal_target: Duration | None = Field(default=None, validate_default=True)
    previously: Duration | None = None
    effective_from: CalendarDate | None = None
    verify: bool = False
    note: str = ""
    sources: list[str] = Field(default_factory=list)
    # The rule's own severity floor (a level of rubric.yaml), for rules whose deadline
    # cannot wait in the queue; every statutory rule also fires the rubric's
    # statutory_trigger floors.
    min_severity: int | None = Field(default=None, ge=0)

    @field_validator("deadline")
    @classmethod
    def _deadline_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("deadline_kind")
        if kind == "fixed" and value is None:
            raise ValueError("a fixed deadline needs its ISO 8601 duration, for example PT24H")
        if kind in _WITHOUT_FIGURE and value is not None:
            raise ValueError(
                f"a {kind} rule has no figure in law: set deadline to null and put what the "
                "team holds itself to in internal_target"
            )
        return value

    @field_validator("internal_target")
    @classmethod
    def _target_where_law_gives_none(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("deadline_kind")
        if kind in _WITHOUT_FIGURE and value is None:
            raise ValueError(
                f"a {kind} rule needs internal_target, the ISO 8601 duration the team holds "
                "itself to (for example PT24H)"
            )
        deadline = info.data.get("deadline")
        if (
            value is not None
            and deadline
            and parse_iso_duration(value) > parse_iso_duration(deadline)
        ):
            raise ValueError(
                f"internal_target {value} is longer than the statutory deadline {deadline}"
            )
        return value


class StatutoryRulesFile(_Strict):
    rules: list[StatutoryRuleSpec] = Field(min_length=1)


# The whole catalog


class Catalog(_Strict):
    """The whole catalog. Each field is one file of the directory, named after it."""

    catalog: CatalogInfo
    policies: PoliciesFile
    escalation_types: EscalationTypesFile
    rubric: Rubric
    enforcement_actions: EnforcementActionsFile
    teams: TeamsFile
    markets: MarketsFile
    statutory_rules: StatutoryRulesFile

    @model_validator(mode="after")
    def _references_hold(self) -> Catalog:
        problems = list(_reference_problems(self))
        if problems:
            raise CatalogSchemaError(problems)
        return self

    @property
    def label(self) -> str:
        return self.catalog.label

    @property
    def version(self) -> str:
        return self.catalog.version

    def iter_policies(self) -> Iterator[tuple[PolicyAreaSpec, PolicySpec]]:
        for area in self.policies.areas:
            for policy in area.policies:
                yield area, policy

    def counts(self) -> dict[str, int]:
        """How many of each thing the catalog defines, for summaries and the audit log."""
        policies = [policy for _, policy in self.iter_policies()]
        return {
            "policy_areas": len(self.policies.areas),
            "policies": len(policies),
            "policy_versions": sum(len(policy.versions) for policy in policies),
            "escalation_types": len(self.escalation_types.escalation_types),
            "severities": len(self.rubric.severities),
            "factors": len(self.rubric.factors),
            "floor_rules": len(self.rubric.floors),
            "enforcement_actions": len(self.enforcement_actions.actions),
            "teams": len(self.teams.teams),
            "markets": len(self.markets.markets),
            "statutory_rules": len(self.statutory_rules.rules),
        }


# Catalog field → the file that holds it, in the order the fields are declared.
CATALOG_FILES: dict[str, str] = {name: f"{name}.yaml" for name in Catalog.model_fields}


def validate_catalog(documents: Mapping[str, Any]) -> Catalog:
    """Validate parsed files, keyed by file name (``"rubric.yaml"``), as one catalog.

    Raises :class:`CatalogSchemaError` listing every problem found. Cross-file checks
    run only once every file is valid on its own.
    """
    data = {field: documents[name] for field, name in CATALOG_FILES.items() if name in documents}
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogSchemaError(list(_problems_from(exc, data))) from None


# Cross-file and uniqueness checks


def _duplicates(
    file: str, entries: Sequence[tuple[Location, str]], what: str
) -> Iterator[SchemaProblem]:
    first_seen: dict[str, Location] = {}
    for location, code in entries:
        if code in first_seen:
            yield SchemaProblem(
                file,
                location,
                f"{what} '{code}' is already used at {format_location(first_seen[code])}; "
                f"each {what} must be unique",
            )
        else:
            first_seen[code] = location


def _reference_problems(catalog: Catalog) -> Iterator[SchemaProblem]:
    policies_file = CATALOG_FILES["policies"]
    areas = catalog.policies.areas
    yield from _duplicates(
        policies_file, [(("areas", i, "code"), area.code) for i, area in enumerate(areas)], "code"
    )
    yield from _duplicates(
        policies_file,
        [
            (("areas", i, "policies", j, "code"), policy.code)
            for i, area in enumerate(areas)
            for j, policy in enumerate(area.policies)
        ],
        "policy code",
    )
    for i, area in enumerate(areas):
        for j, policy in enumerate(area.policies):
            yield from _duplicates(
                policies_file,
                [
                    (("areas", i, "policies", j, "versions", k, "version"), version.version)
                    for k, version in enumerate(policy.versions)
                ],
                "version",
            )
    policy_codes = sorted(policy.code for _, policy in catalog.iter_policies())

    types_file = CATALOG_FILES["escalation_types"]
    escalation_types = catalog.escalation_types.escalation_types
    yield from _duplicates(
        types_file,
        [(("escalation_types", i, "code"), t.code) for i, t in enumerate(escalation_types)],
        "code",
    )
    for i, escalation_type in enumerate(escalation_types):
        if escalation_type.default_policy and escalation_type.default_policy not in policy_codes:
            yield SchemaProblem(
                types_file,
                ("escalation_types", i, "default_policy"),
                f"unknown policy '{escalation_type.default_policy}'; use a policy code from "
                f"{policies_file}: {', '.join(policy_codes)}",
            )

    type_codes = {t.code for t in escalation_types}
    for i, floor in enumerate(catalog.rubric.floors):
        for j, code in enumerate(floor.when.escalation_types):
            if code not in type_codes:
                yield SchemaProblem(
                    CATALOG_FILES["rubric"],
                    ("floors", i, "when", "escalation_types", j),
                    f"unknown escalation type '{code}'; use a code from {types_file}",
                )

    actions = catalog.enforcement_actions.actions
    yield from _duplicates(
        CATALOG_FILES["enforcement_actions"],
        [(("actions", i, "code"), action.code) for i, action in enumerate(actions)],
        "code",
    )
    teams = catalog.teams.teams
    yield from _duplicates(
        CATALOG_FILES["teams"],
        [(("teams", i, "code"), t.code) for i, t in enumerate(teams)],
        "code",
    )
    markets = catalog.markets.markets
    yield from _duplicates(
        CATALOG_FILES["markets"],
        [(("markets", i, "code"), market.code) for i, market in enumerate(markets)],
        "code",
    )

    rules_file = CATALOG_FILES["statutory_rules"]
    rules = catalog.statutory_rules.rules
    yield from _duplicates(
        rules_file, [(("rules", i, "id"), rule.id) for i, rule in enumerate(rules)], "id"
    )
    market_codes = sorted(market.code for market in markets)
    levels = [severity.level for severity in catalog.rubric.severities]
    for i, rule in enumerate(rules):
        if rule.min_severity is not None and rule.min_severity not in levels:
            yield SchemaProblem(
                rules_file,
                ("rules", i, "min_severity"),
                f"min_severity {rule.min_severity} is not a severity level of "
                f"{CATALOG_FILES['rubric']}; use one of {', '.join(map(str, levels))}",
            )
        if rule.jurisdiction not in market_codes:
            yield SchemaProblem(
                rules_file,
                ("rules", i, "jurisdiction"),
                f"unknown jurisdiction '{rule.jurisdiction}'; add it to {CATALOG_FILES['markets']} "
                f"or use one of {', '.join(market_codes)}",
            )


# Turning pydantic's errors into problems a person can act on


def _problems_from(exc: ValidationError, data: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    for error in exc.errors():
        location: Location = tuple(error["loc"])
        if not location:
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, CatalogSchemaError):
                yield from cause.problems
            else:
                yield SchemaProblem("", (), describe_error(error, Catalog, location))
            continue
        field, inside = str(location[0]), location[1:]
        file = CATALOG_FILES[field]
        if error["type"] == "missing" and not inside:
            yield SchemaProblem(file, (), "the file is missing")
            continue
        if field == "rubric" and not inside and error["type"] == "value_error":
            # Rubric checks its ordering rules on the whole file; find where they break.
            located = list(locate_rubric_problems(data.get(field)))
            if located:
                yield from (SchemaProblem(file, where, message) for where, message in located)
                continue
        yield SchemaProblem(file, inside, describe_error(error, Catalog, location))
