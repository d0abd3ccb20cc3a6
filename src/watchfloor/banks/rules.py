"""Action rules: reviewed YAML that says what a bank match does.

A rules file (``defaults/bank_action_rules.yaml`` unless ``WATCHFLOOR_BANK_ACTION_RULES``
names another) lists rules. Each has conditions (``when``) on one match and one action:

* ``escalate``: open an escalation of a type (with pre-filled rubric answers), or attach
  to the one the match's cluster already has, or to the one this rule opened for the
  same bank within ``attach_window``;
* ``flag_crisis``: add a note to the war room of the crisis the bank was made for (once
  per bank entry, then the firings are counted);
* ``enforce``: request an enforcement action from a platform connector for the matched
  item.

``mode: shadow`` (the default: a new rule proves itself first) records what the rule
would have done and does nothing; ``mode: live`` does it. ``review_sample_rate`` is the
share of live firings set aside for a person to confirm or refute.

Conditions, all of which must hold (a list matches when any of its values does):
``banks`` (bank names), ``labels`` (the bank's or the entry's), ``min_distance`` and
``max_distance`` (PDQ bits; exact types match at 0), ``market`` (the caller's), and
``min_matches`` within ``window``: the volume of matches that meet the other conditions
in the window ending now, this one included.

Problems are reported with file, path and line by the catalog's YAML reader, and
``watchfloor bank_rules validate`` checks a file against the catalog.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from watchfloor.banks.index import DEFAULT_THRESHOLD
from watchfloor.catalog.loader import ConfigFileError
from watchfloor.catalog.rulefiles import (
    CheckedFile,
    IsoDuration,
    RuleCode,
    RuleFileKind,
    escalation_type_problems,
    listing,
    market_problems,
    repeated_code_problems,
    rubric_answer_problems,
)
from watchfloor.catalog.schema import Catalog, Location
from watchfloor.severity.rubric import parse_iso_duration

logger = logging.getLogger(__name__)

RULES_FILE_NAME = "bank_action_rules.yaml"
ACTIONS = ("escalate", "flag_crisis", "enforce")

Distance = Annotated[int, Field(ge=0, le=DEFAULT_THRESHOLD)]
SampleRate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    banks: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    min_distance: Distance = 0
    max_distance: Distance = DEFAULT_THRESHOLD
    market: list[str] = Field(default_factory=list)
    min_matches: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    window: IsoDuration = "PT1H"

    @property
    def window_length(self) -> timedelta:
        return parse_iso_duration(self.window)


class EscalateAction(_Strict):
    type: str
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    rubric: dict[str, str] = Field(default_factory=dict)
    attach_window: IsoDuration = "P1D"

    @property
    def attach_within(self) -> timedelta:
        return parse_iso_duration(self.attach_window)


class FlagCrisisAction(_Strict):
    pin: bool = False


class EnforceAction(_Strict):
    connector: Annotated[str, Field(min_length=1, max_length=64)]
    action: str
    countries: list[str] = Field(default_factory=list)


class ActionRule(_Strict):
    code: RuleCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    enabled: bool = True
    mode: Literal["shadow", "live"] = "shadow"
    review_sample_rate: SampleRate = 0.0
    when: Conditions = Field(default_factory=Conditions)
    escalate: EscalateAction | None = None
    flag_crisis: FlagCrisisAction | None = None
    enforce: EnforceAction | None = None

    @property
    def actions_given(self) -> list[str]:
        return [name for name in ACTIONS if getattr(self, name) is not None]

    @property
    def action(self) -> str:
        """The rule's one action (``rule_problems`` refuses a file with more or none)."""
        given = self.actions_given
        return given[0] if given else "none"


class ActionRulesFile(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    rules: list[ActionRule] = Field(default_factory=list)


class BankRulesError(ConfigFileError):
    """The action rules file cannot be used."""

    code = "invalid_bank_rules"
    subject = "the bank action rules in {where}"
    verb = "have"


def rule_problems(
    spec: ActionRulesFile, *, catalog: Catalog | None
) -> Iterator[tuple[Location, str]]:
    """What the schema alone cannot see: repeated codes, an empty distance range, and
    codes the catalog does not know."""
    yield from repeated_code_problems(rule.code for rule in spec.rules)
    for index, rule in enumerate(spec.rules):
        where: Location = ("rules", index)
        given = rule.actions_given
        if len(given) != 1:
            yield (
                where,
                f"a rule does exactly one of {', '.join(ACTIONS)}; this one has "
                f"{', '.join(given) if given else 'none'}",
            )
        if rule.when.min_distance > rule.when.max_distance:
            yield (
                (*where, "when", "min_distance"),
                f"min_distance {rule.when.min_distance} is above max_distance "
                f"{rule.when.max_distance}: no match could meet both",
            )
        if catalog is not None:
            yield from _catalog_problems(rule, where, catalog)


def _catalog_problems(
    rule: ActionRule, where: Location, catalog: Catalog
) -> Iterator[tuple[Location, str]]:
    yield from market_problems(catalog, (*where, "when", "market"), rule.when.market)
    if rule.escalate is not None:
        yield from escalation_type_problems(
            catalog, [((*where, "escalate", "type"), rule.escalate.type)]
        )
        yield from rubric_answer_problems(
            catalog, (*where, "escalate", "rubric"), rule.escalate.rubric
        )
    if rule.enforce is not None:
        actions = {action.code: action for action in catalog.enforcement_actions.actions}
        action = actions.get(rule.enforce.action)
        if action is None:
            yield (
                (*where, "enforce", "action"),
                f"unknown enforcement action '{rule.enforce.action}'; use one of "
                f"{listing(actions)}",
            )
        elif action.needs_countries and not rule.enforce.countries:
            yield (
                (*where, "enforce", "countries"),
                f"'{action.code}' needs the countries it applies in",
            )
        elif not action.needs_countries and rule.enforce.countries:
            yield (*where, "enforce", "countries"), f"'{action.code}' does not take countries"
        yield from market_problems(
            catalog,
            (*where, "enforce", "countries"),
            rule.enforce.countries,
            noun="country or market",
        )


ACTION_RULES: RuleFileKind[ActionRulesFile] = RuleFileKind(
    model=ActionRulesFile,
    error=BankRulesError,
    checks=lambda spec, catalog: rule_problems(spec, catalog=catalog),
    setting="WATCHFLOOR_BANK_ACTION_RULES",
    file_name=RULES_FILE_NAME,
    what="bank action rules",
)
# A validated rules file: ``.version`` is what every firing records, ``.rules`` the
# enabled rules.
ActionRuleSet = CheckedFile[ActionRulesFile]
EMPTY_RULES = ACTION_RULES.empty
default_rules_path = ACTION_RULES.default_path
read_rules = ACTION_RULES.read
parse_rules = ACTION_RULES.parse


def rules_in_force(catalog: Catalog | None, *, catalog_key: str = "") -> ActionRuleSet:
    """The rules applied to matches: a missing or broken file means none, so a match
    answered to an upload pipeline never fails because of a rules file
    (``watchfloor bank_rules validate`` says what is wrong)."""
    return ACTION_RULES.in_force(catalog, catalog_key=catalog_key)


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchFacts:
    """What a rule looks at in one match."""

    bank: str
    labels: Sequence[str]
    distance: int
    market: str


def conditions_held(rule: ActionRule, facts: MatchFacts) -> list[str] | None:
    """Each condition of ``rule`` in words with the figure it was checked against, or
    None when one fails. Volume (``min_matches``) is counted by the caller."""
    when = rule.when
    held: list[str] = []
    if when.banks:
        if facts.bank not in when.banks:
            return None
        held.append(f"bank {facts.bank} (rule: any of {', '.join(when.banks)})")
    if when.labels:
        hits = [label for label in when.labels if label in facts.labels]
        if not hits:
            return None
        held.append(f"labelled {', '.join(hits)} (rule: any of {', '.join(when.labels)})")
    if not when.min_distance <= facts.distance <= when.max_distance:
        return None
    if when.min_distance or when.max_distance < DEFAULT_THRESHOLD:
        held.append(f"distance {facts.distance} (rule: {when.min_distance} to {when.max_distance})")
    if when.market:
        if facts.market not in when.market:
            return None
        held.append(f"market {facts.market} (rule: any of {', '.join(when.market)})")
    return held


def sampled_for_review(rule: ActionRule, match_id: int) -> bool:
    """Whether this firing goes to a person: chosen from the rule and the match, so the
    share is the rule's rate and the choice does not change when asked again."""
    if rule.review_sample_rate <= 0.0:
        return False
    digest = hashlib.sha256(f"{rule.code}:{match_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rule.review_sample_rate
