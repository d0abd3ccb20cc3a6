"""What a playbook file and a communication-template file may say, and what must hold in them.

Two layers, as in the catalog. The pydantic models check each file's shape and values
(codes, durations, one owner per step). :func:`playbook_problems` and
:func:`template_problems` then check the logic against what exists elsewhere: roles,
teams, templates, escalation types and statutory rules that are named must exist; step
dependencies must not form a cycle; every step must be able to run for some escalation
the playbook applies to; a step that serves a statutory deadline must fall due before
it. Those checks yield ``(location, message)`` pairs; the loader adds file and line.

Time words, shared by ``applies_to``, ``when`` and ``due``:

- ``severity_at_least: SEV2`` holds for SEV2 and anything more severe (SEV1, SEV0);
  ``severity_at_most: SEV1`` holds for SEV1 and anything milder.
- an offset is an ISO 8601 duration (``PT30M``), ``N business days`` or ``N business
  hours`` (09:00–18:00, Monday to Friday, in the owner team's zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from watchfloor.catalog.schema import (
    Catalog,
    Code,
    LanguageTag,
    Location,
    MarketCode,
    Name,
    RuleId,
)
from watchfloor.playbooks.schedule import Offset, parse_offset
from watchfloor.severity.rubric import parse_iso_duration

_SEVERITY = re.compile(r"^SEV(?P<level>\d)$")
VARIABLE = re.compile(r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Anything that looks like a placeholder but is not one (a typo such as "{{ title }" or
# "{{ escalation.title }}") would otherwise go out as literal braces.
_BRACES = re.compile(r"\{\{|\}\}")

ClockAnchor = Literal["acknowledge", "first_action", "resolve", "statutory"]
CLOCK_ANCHORS: tuple[ClockAnchor, ...] = get_args(ClockAnchor)
Anchor = Literal["opened", "run_started", "previous_step", ClockAnchor]
ANCHOR_WORDS = {
    "opened": "the escalation opened",
    "run_started": "the playbook started",
    "previous_step": "the previous step is due",
    "acknowledge": "the acknowledge deadline",
    "first_action": "the first-action deadline",
    "resolve": "the resolve deadline",
    "statutory": "the statutory deadline",
}
RequiredField = Literal["owner", "policy", "decision", "subjects", "markets", "languages"]
REQUIRED_FIELDS: tuple[RequiredField, ...] = get_args(RequiredField)

# What a communication template may say about the escalation, with what it becomes.
ESCALATION_VARIABLES: dict[str, str] = {
    "reference": "the escalation's reference, e.g. WF-1234",
    "title": "the escalation's title",
    "type": "the escalation type's name",
    "severity": "the severity in force, e.g. SEV1",
    "status": "the escalation's status",
    "markets": "market codes, comma-separated",
    "market_names": "market names, comma-separated",
    "languages": "language tags, comma-separated",
    "opened_at": "when the matter began, in the primary market's time",
    "next_deadline": "the nearest running clock's due time, in the primary market's time",
    "statutory_deadline": "the earliest running statutory deadline, in the primary market's time",
    "owner": "the escalation owner's name",
    "playbook": "the playbook's name (empty outside a playbook)",
    "step": "the step's title (empty outside a playbook)",
}


def _severity(value: str) -> str:
    if not _SEVERITY.match(value):
        raise ValueError(f"'{value}' is not a severity: write SEV0, SEV1, … (SEV0 is the worst)")
    return value


def _offset(value: str) -> str:
    parse_offset(value)  # its ValueError names the value and gives examples
    return value


def _iso_duration(value: str) -> str:
    parse_iso_duration(value)
    return value


def severity_level(name: str) -> int:
    return int(name[3:])


Severity = Annotated[str, AfterValidator(_severity)]
OffsetText = Annotated[str, AfterValidator(_offset)]
IsoDuration = Annotated[str, AfterValidator(_iso_duration)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------- facts and conditions


@dataclass(frozen=True)
class EscalationFacts:
    """What a playbook's ``applies_to`` and a step's ``when`` may test."""

    type: str
    severity: int
    markets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    is_high_visibility: bool = False
    is_restricted: bool = False
    has_statutory_clock: bool = False


def _language_matches(wanted: str, spoken: Iterable[str]) -> bool:
    """``zh`` matches ``zh-Hant``; ``zh-Hant`` matches only itself (case-insensitively)."""
    wanted = wanted.lower()
    return any(tag.lower() == wanted or tag.lower().startswith(wanted + "-") for tag in spoken)


# How each yes/no fact reads when it is true, and when it is false.
_FLAG_WORDS = {
    "is_high_visibility": ("high visibility", "not high visibility"),
    "is_restricted": ("restricted", "not restricted"),
    "has_statutory_clock": ("a statutory clock runs", "no statutory clock"),
}


class SeverityRange(_Strict):
    severity_at_least: Severity | None = None
    severity_at_most: Severity | None = None

    def levels(self, mildest: int) -> range:
        """The severity numbers this covers (SEV0 = 0), given the rubric's mildest level."""
        worst = severity_level(self.severity_at_most) if self.severity_at_most else 0
        mild = severity_level(self.severity_at_least) if self.severity_at_least else mildest
        return range(worst, mild + 1)

    def covers(self, severity: int) -> bool:
        if self.severity_at_least and severity > severity_level(self.severity_at_least):
            return False
        return not (self.severity_at_most and severity < severity_level(self.severity_at_most))

    @model_validator(mode="after")
    def _not_inverted(self) -> SeverityRange:
        if (
            self.severity_at_least
            and self.severity_at_most
            and severity_level(self.severity_at_most) > severity_level(self.severity_at_least)
        ):
            raise ValueError(
                f"severity_at_most {self.severity_at_most} is milder than severity_at_least "
                f"{self.severity_at_least}: no severity is both (at_least SEV2 means SEV2 "
                "or worse; at_most SEV3 means SEV3 or milder)"
            )
        return self


class Condition(SeverityRange):
    """A step's ``when``: every key given must hold."""

    types: list[Code] = Field(default_factory=list)
    markets: list[MarketCode] = Field(default_factory=list)
    languages: list[LanguageTag] = Field(default_factory=list)
    is_high_visibility: bool | None = None
    is_restricted: bool | None = None
    has_statutory_clock: bool | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Condition:
        if not self.model_dump(exclude_defaults=True):
            raise ValueError(
                "an empty 'when' always holds: give at least one condition, or remove it"
            )
        return self

    def holds(self, facts: EscalationFacts) -> bool:
        return not self.unmet(facts)

    def unmet(self, facts: EscalationFacts) -> list[str]:
        """The conditions that do not hold, in words (empty when the step applies)."""
        unmet = []
        if self.types and facts.type not in self.types:
            unmet.append(f"type is not {' or '.join(self.types)}")
        if self.severity_at_least and not self.covers(facts.severity):
            unmet.append(f"severity is milder than {self.severity_at_least}")
        elif self.severity_at_most and not self.covers(facts.severity):
            unmet.append(f"severity is worse than {self.severity_at_most}")
        if self.markets and not set(self.markets) & set(facts.markets):
            unmet.append(f"no market among {', '.join(self.markets)}")
        if self.languages and not any(
            _language_matches(tag, facts.languages) for tag in self.languages
        ):
            unmet.append(f"no language among {', '.join(self.languages)}")
        for flag, (when_true, when_false) in _FLAG_WORDS.items():
            wanted = getattr(self, flag)
            if wanted is not None and getattr(facts, flag) != wanted:
                # Say what the escalation is, since that is what the reader can check.
                unmet.append(when_false if wanted else when_true)
        return unmet


class AppliesTo(SeverityRange):
    # Empty lists mean "any": a playbook for every type, or for every market.
    escalation_types: list[Code] = Field(default_factory=list)
    markets: list[MarketCode] = Field(default_factory=list)

    def matches(self, facts: EscalationFacts) -> bool:
        if self.escalation_types and facts.type not in self.escalation_types:
            return False
        if self.markets and not set(self.markets) & set(facts.markets):
            return False
        return self.covers(facts.severity)


# ---------------------------------------------------------------- steps


class Assignee(_Strict):
    """A playbook role (``role: incident_commander``) or a team (``team: legal``)."""

    role: Code | None = None
    team: Code | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Assignee:
        if (self.role is None) == (self.team is None):
            raise ValueError("name exactly one of role (a role of this playbook) or team")
        return self


class Notification(Assignee):
    message: Text


class DueSpec(_Strict):
    """When a step falls due: an offset ``after`` (or ``before``) an anchor ``from``."""

    after: OffsetText | None = None
    before: IsoDuration | None = None
    from_: Anchor = Field(alias="from")

    @model_validator(mode="after")
    def _one_direction(self) -> DueSpec:
        if (self.after is None) == (self.before is None):
            raise ValueError("give exactly one of after (e.g. PT1H) or before (e.g. PT2H)")
        if self.before is not None and self.from_ not in CLOCK_ANCHORS:
            raise ValueError(
                f"'before' counts back from a deadline; '{self.from_}' is not one: use after, "
                f"or one of {', '.join(CLOCK_ANCHORS)}"
            )
        return self

    @property
    def offset(self) -> Offset:
        return parse_offset(self.after or self.before or "PT0S")

    @property
    def sign(self) -> int:
        return -1 if self.before is not None else 1

    def describe(self) -> str:
        amount = (self.after or self.before or "").strip()
        text = self.offset.describe()
        if amount and self.offset.is_zero:
            return f"when {ANCHOR_WORDS[self.from_]}"
        return f"{text} {'before' if self.before else 'after'} {ANCHOR_WORDS[self.from_]}"


class StepDue(DueSpec):
    # Used when the anchor does not exist on the escalation (no statutory clock yet).
    otherwise: DueSpec | None = None


class ChecklistItem(_Strict):
    id: Code
    text: Text
    optional: bool = False


class EvidenceItem(_Strict):
    id: Code
    label: Text


class Requirements(_Strict):
    evidence: list[EvidenceItem] = Field(default_factory=list)
    fields: list[RequiredField] = Field(default_factory=list)


class StepSpec(_Strict):
    id: Code
    title: Name
    instructions: str = ""
    owner: Assignee
    due: StepDue | None = None
    checklist: list[ChecklistItem] = Field(default_factory=list)
    requires: Requirements = Field(default_factory=Requirements)
    approval: Assignee | None = None
    notify: list[Notification] = Field(default_factory=list)
    templates: list[Code] = Field(default_factory=list)
    when: Condition | None = None
    after: list[Code] = Field(default_factory=list)
    # "statutory" (any statutory clock on the escalation) or a statutory rule id: the step
    # must be finished by that deadline, so its due time may not fall after it.
    serves: Literal["statutory"] | RuleId | None = None


class RoleSpec(_Strict):
    code: Code
    name: Name
    description: str = ""


class PlaybookSpec(_Strict):
    code: Code
    name: Name
    summary: str = Field(min_length=1, max_length=2000)
    revision: str = Field(default="", max_length=40)
    auto_start: bool = False
    applies_to: AppliesTo
    roles: list[RoleSpec] = Field(min_length=1)
    steps: list[StepSpec] = Field(min_length=1)
    exit_criteria: list[Text] = Field(min_length=1)

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def role(self, code: str) -> RoleSpec | None:
        return next((role for role in self.roles if role.code == code), None)


# ---------------------------------------------------------------- communication templates


class TemplateInput(_Strict):
    """A value the sender types at preview time (a spokesperson's name, a case number)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    label: Name
    required: bool = True


class TemplateBody(_Strict):
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=20_000)


class TemplateSpec(_Strict):
    code: Code
    name: Name
    purpose: str = Field(min_length=1, max_length=2000)
    audience: Literal[
        "media",
        "public",
        "user",
        "partner_team",
        "regulator",
        "law_enforcement",
        "government",
        "industry",
        "internal",
    ]
    channel: str = Field(min_length=1, max_length=100)
    inputs: list[TemplateInput] = Field(default_factory=list)
    bodies: dict[LanguageTag, TemplateBody] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_english(self) -> TemplateSpec:
        if "en" not in self.bodies:
            raise ValueError("every template needs an 'en' body: it is the fallback language")
        return self

    @property
    def variables(self) -> set[str]:
        return set(ESCALATION_VARIABLES) | {item.name for item in self.inputs}


# ---------------------------------------------------------------- what the checks need


@dataclass(frozen=True)
class StatutoryFigure:
    """How long a statutory rule allows, and whether that is the law's figure."""

    rule: str
    limit: timedelta
    is_law: bool


@dataclass(frozen=True)
class References:
    """What playbooks and templates may name, taken from the catalog and the templates."""

    teams: frozenset[str]
    escalation_types: frozenset[str]
    markets: frozenset[str]
    mildest_severity: int
    statutory_rules: dict[str, StatutoryFigure | None] = field(default_factory=dict)
    templates: frozenset[str] = frozenset()

    @classmethod
    def from_catalog(cls, catalog: Catalog, *, templates: Iterable[str] = ()) -> References:
        rules: dict[str, StatutoryFigure | None] = {}
        for rule in catalog.statutory_rules.rules:
            if rule.deadline:
                rules[rule.id] = StatutoryFigure(rule.id, parse_iso_duration(rule.deadline), True)
            elif rule.internal_target:
                rules[rule.id] = StatutoryFigure(
                    rule.id, parse_iso_duration(rule.internal_target), False
                )
            else:
                rules[rule.id] = None
        return cls(
            teams=frozenset(team.code for team in catalog.teams.teams),
            escalation_types=frozenset(t.code for t in catalog.escalation_types.escalation_types),
            markets=frozenset(market.code for market in catalog.markets.markets),
            mildest_severity=catalog.rubric.mildest_level,
            statutory_rules=rules,
            templates=frozenset(templates),
        )


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "(none)"


def _unknown_codes(
    location: Location, codes: list[str], known: frozenset[str], what: str, where: str
) -> Iterator[tuple[Location, str]]:
    for index, code in enumerate(codes):
        if code not in known:
            yield (
                (*location, index),
                f"unknown {what} '{code}'; use one of {where}: {_listing(known)}",
            )


def _duplicates(entries: list[tuple[Location, str]], what: str) -> Iterator[tuple[Location, str]]:
    seen: dict[str, Location] = {}
    for location, code in entries:
        if code in seen:
            yield location, f"{what} '{code}' is used twice (also at {_path(seen[code])})"
        else:
            seen[code] = location


def _path(location: Location) -> str:
    from watchfloor.catalog.schema import format_location

    return format_location(location)


def _severity_problems(
    location: Location, spec: SeverityRange, mildest: int
) -> Iterator[tuple[Location, str]]:
    for key in ("severity_at_least", "severity_at_most"):
        value = getattr(spec, key)
        if value and severity_level(value) > mildest:
            yield (
                (*location, key),
                f"there is no {value}; the rubric's severities are SEV0 to SEV{mildest}",
            )


def _assignee_problems(
    location: Location, assignee: Assignee, roles: set[str], refs: References
) -> Iterator[tuple[Location, str]]:
    if assignee.role is not None and assignee.role not in roles:
        yield (
            (*location, "role"),
            f"unknown role '{assignee.role}'; add it under roles or use one of {_listing(roles)}",
        )
    if assignee.team is not None and assignee.team not in refs.teams:
        yield (
            (*location, "team"),
            f"unknown team '{assignee.team}'; use one of the catalog's teams: "
            f"{_listing(refs.teams)}",
        )


def find_cycle(dependencies: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path (``[a, b, a]``), or None. Unknown names are ignored."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in dependencies.get(node, []):
            if nxt not in dependencies:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in dependencies:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _base_offset(spec: PlaybookSpec, index: int) -> tuple[str, list[tuple[int, Offset]]] | None:
    """Follow ``previous_step`` anchors back to a fixed anchor: (anchor, signed offsets)."""
    offsets: list[tuple[int, Offset]] = []
    while True:
        due = spec.steps[index].due
        if due is None:
            return None
        offsets.append((due.sign, due.offset))
        if due.from_ != "previous_step":
            return due.from_, offsets
        if index == 0:
            return None
        index -= 1


def playbook_problems(spec: PlaybookSpec, refs: References) -> Iterator[tuple[Location, str]]:
    """Everything about ``spec`` that is well-formed but wrong, with where it is."""
    applies = spec.applies_to
    yield from _unknown_codes(
        ("applies_to", "escalation_types"),
        applies.escalation_types,
        refs.escalation_types,
        "escalation type",
        "the catalog's types",
    )
    yield from _unknown_codes(
        ("applies_to", "markets"), applies.markets, refs.markets, "market", "the catalog's markets"
    )
    yield from _severity_problems(("applies_to",), applies, refs.mildest_severity)
    yield from _duplicates(
        [(("roles", i, "code"), r.code) for i, r in enumerate(spec.roles)], "role"
    )
    yield from _duplicates(
        [(("steps", i, "id"), s.id) for i, s in enumerate(spec.steps)], "step id"
    )

    roles = {role.code for role in spec.roles}
    step_ids = {step.id for step in spec.steps}
    applicable_levels = set(applies.levels(refs.mildest_severity))
    for i, step in enumerate(spec.steps):
        here: Location = ("steps", i)
        yield from _assignee_problems((*here, "owner"), step.owner, roles, refs)
        if step.approval is not None:
            yield from _assignee_problems((*here, "approval"), step.approval, roles, refs)
        for j, notification in enumerate(step.notify):
            yield from _assignee_problems((*here, "notify", j), notification, roles, refs)
        yield from _unknown_codes(
            (*here, "templates"), step.templates, refs.templates, "template", "the templates"
        )
        yield from _duplicates(
            [((*here, "checklist", j, "id"), c.id) for j, c in enumerate(step.checklist)],
            "checklist item",
        )
        yield from _duplicates(
            [
                ((*here, "requires", "evidence", j, "id"), e.id)
                for j, e in enumerate(step.requires.evidence)
            ],
            "evidence item",
        )
        for j, dependency in enumerate(step.after):
            if dependency == step.id:
                yield (*here, "after", j), f"step '{step.id}' cannot wait for itself"
            elif dependency not in step_ids:
                yield (
                    (*here, "after", j),
                    f"unknown step '{dependency}'; the steps are {_listing(step_ids)}",
                )
        if step.serves and step.serves != "statutory" and step.serves not in refs.statutory_rules:
            yield (
                (*here, "serves"),
                f"unknown statutory rule '{step.serves}'; use 'statutory' or a rule id from "
                "statutory_rules.yaml",
            )
        yield from _due_problems(spec, i, refs)
        if step.when is not None:
            yield from _condition_problems(spec, i, applicable_levels, refs)

    dependencies = {step.id: list(step.after) for step in spec.steps}
    cycle = find_cycle(dependencies)
    if cycle:
        first = next(i for i, step in enumerate(spec.steps) if step.id == cycle[0])
        yield (
            ("steps", first, "after"),
            f"steps wait for each other in a cycle: {' → '.join(cycle)}; none of them could "
            "ever start",
        )


def _condition_problems(
    spec: PlaybookSpec, index: int, applicable_levels: set[int], refs: References
) -> Iterator[tuple[Location, str]]:
    step = spec.steps[index]
    when = step.when
    assert when is not None
    here: Location = ("steps", index, "when")
    yield from _unknown_codes(
        (*here, "types"),
        when.types,
        refs.escalation_types,
        "escalation type",
        "the catalog's types",
    )
    yield from _unknown_codes(
        (*here, "markets"), when.markets, refs.markets, "market", "the catalog's markets"
    )
    yield from _severity_problems(here, when, refs.mildest_severity)
    unreachable = f"step '{step.id}' is unreachable:"
    applies = spec.applies_to
    if (
        when.types
        and applies.escalation_types
        and not set(when.types) & set(applies.escalation_types)
    ):
        yield (
            (*here, "types"),
            f"{unreachable} the playbook only applies to {_listing(applies.escalation_types)}",
        )
    if when.severity_at_least or when.severity_at_most:
        levels = set(when.levels(refs.mildest_severity))
        if not levels & applicable_levels:
            yield (
                here,
                f"{unreachable} its severities never meet the playbook's "
                f"(SEV{min(applicable_levels)}–SEV{max(applicable_levels)})",
            )
    # An escalation may span markets, so disjoint lists only prove a step unreachable when
    # the playbook itself applies in a single market.
    if len(applies.markets) == 1 and when.markets and applies.markets[0] not in when.markets:
        yield (
            (*here, "markets"),
            f"{unreachable} the playbook only applies in {applies.markets[0]}",
        )
    due = step.due
    if (
        when.has_statutory_clock is False
        and due is not None
        and due.from_ == "statutory"
        and due.otherwise is None
    ):
        yield (
            (*here, "has_statutory_clock"),
            f"step '{step.id}' only runs without a statutory clock, but its due time counts "
            "from the statutory deadline; anchor it elsewhere",
        )


def _due_problems(
    spec: PlaybookSpec, index: int, refs: References
) -> Iterator[tuple[Location, str]]:
    step = spec.steps[index]
    here: Location = ("steps", index, "due")
    if step.due is None:
        if step.serves:
            yield (
                ("steps", index, "serves"),
                f"step '{step.id}' serves a statutory deadline but has no due time; give it one "
                "before the deadline",
            )
        return
    if step.due.from_ == "previous_step" and index == 0:
        yield (*here, "from"), "the first step has no previous step to count from"
        return
    for key, due in (("due", step.due), ("otherwise", step.due.otherwise)):
        if due is not None and key == "otherwise" and due.from_ == "previous_step" and index == 0:
            yield (*here, "otherwise", "from"), "the first step has no previous step to count from"
    if not step.serves:
        return
    base = _base_offset(spec, index)
    if base is None:
        return
    anchor, offsets = base
    # Statically known only when nothing between is counted in business time.
    if anchor == "statutory":
        total = timedelta()
        for sign, offset in offsets:
            total += sign * offset.longest()
        if total > timedelta():
            yield (
                here,
                f"step '{step.id}' serves the statutory deadline but falls due "
                f"{_span(total)} after it; count back with 'before', e.g. before: PT1H",
            )
        return
    if anchor != "opened" or step.serves == "statutory":
        return
    figure = refs.statutory_rules.get(step.serves)
    if figure is None:
        return
    # The worst case: each business-time offset at its longest (started on a Friday evening).
    total = timedelta()
    for sign, offset in offsets:
        total += sign * (offset.longest() if sign > 0 else offset.shortest())
    if total > figure.limit:
        basis = "the law allows" if figure.is_law else "the internal target for this rule is"
        yield (
            here,
            f"step '{step.id}' serves {figure.rule}, for which {basis} {_span(figure.limit)}, "
            f"but can fall due {_span(total)} after the escalation opened; bring it forward "
            f"or count back from the deadline (from: statutory, before: …)",
        )


def _span(delta: timedelta) -> str:
    from watchfloor.severity.rubric import describe_duration

    return describe_duration(delta)


def template_problems(spec: TemplateSpec) -> Iterator[tuple[Location, str]]:
    known = spec.variables
    yield from _duplicates(
        [(("inputs", i, "name"), item.name) for i, item in enumerate(spec.inputs)], "input"
    )
    for i, item in enumerate(spec.inputs):
        if item.name in ESCALATION_VARIABLES:
            yield (
                ("inputs", i, "name"),
                f"'{item.name}' is already filled from the escalation; choose another name",
            )
    for language, body in spec.bodies.items():
        for part in ("subject", "body"):
            text = getattr(body, part)
            for name in unknown_variables(text, known):
                yield (
                    ("bodies", language, part),
                    f"unknown variable '{{{{ {name} }}}}'; use one of {_listing(known)}, or "
                    "declare it under inputs",
                )
            if _BRACES.search(VARIABLE.sub("", text)):
                yield (
                    ("bodies", language, part),
                    "'{{' or '}}' that is not a variable: write variables as {{ name }}",
                )
    yield from variable_parity(
        {language: (body.subject, body.body) for language, body in spec.bodies.items()}
    )


def variables_in(text: str) -> set[str]:
    return {match.group("name") for match in VARIABLE.finditer(text)}


def variable_parity(bodies: dict[str, tuple[str, str]]) -> Iterator[tuple[Location, str]]:
    """Each language's subject and body use the very variables of the English ones: a
    translation that drops ``{{ deadline }}`` or invents ``{{ dedline }}`` would send a
    text that says less than the English, or a blank. ``bodies``: language → (subject,
    body)."""
    english = bodies.get("en")
    if english is None:
        return
    for language, texts in bodies.items():
        if language == "en":
            continue
        for part, text, reference in zip(("subject", "body"), texts, english, strict=True):
            used, expected = variables_in(text), variables_in(reference)
            missing, extra = sorted(expected - used), sorted(used - expected)
            if missing or extra:
                said = []
                if missing:
                    said.append("lacks " + ", ".join(f"{{{{ {n} }}}}" for n in missing))
                if extra:
                    said.append("adds " + ", ".join(f"{{{{ {n} }}}}" for n in extra))
                yield (
                    ("bodies", language, part),
                    f"the '{language}' {part} {' and '.join(said)}: every language must use "
                    f"the variables of the English {part}",
                )


def unknown_variables(text: str, known: set[str]) -> list[str]:
    names = []
    for match in VARIABLE.finditer(text):
        name = match.group("name")
        if name not in known and name not in names:
            names.append(name)
    return names
