"""What a playbook file and a communication-template file may say: their shapes.

Two layers, as in the catalog. The pydantic models here check each file's shape and
values (codes, durations, one owner per step); :mod:`watchfloor.playbooks.consistency`
then checks the logic against what exists elsewhere (named roles, teams, templates,
types and rules; cycles; reachability; statutory deadlines).

Time words, shared by ``applies_to``, ``when`` and ``due``:

- ``severity_at_least: SEV2`` holds for SEV2 and anything more severe (SEV1, SEV0);
  ``severity_at_most: SEV1`` holds for SEV1 and anything milder.
- an offset is an ISO 8601 duration (``PT30M``), ``N business days`` or ``N business
  hours`` (09:00–18:00, Monday to Friday, in the owner team's zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from watchfloor.catalog.values import Code, LanguageTag, MarketCode, Name, RuleId
from watchfloor.playbooks.schedule import Offset, parse_offset
from watchfloor.severity.rubric import parse_iso_duration

_SEVERITY = re.compile(r"^SEV(?P<level>\d)$")
VARIABLE = re.compile(r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

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
