"""Auto-escalation rules: reviewed YAML that says which clusters and surges open work.

A rules file (``defaults/signal_rules.yaml`` unless ``WATCHFLOOR_SIGNAL_RULES`` names
another) lists rules. Each has conditions (``when``) on a cluster or on a surging
market × policy × language series, and an action (``escalate``): open an escalation
of a type with pre-filled rubric answers, or attach the cluster to an open escalation
of that type in the same market. Every problem in the file is reported with its
file, path and line, parsed by the catalog's own YAML reader::

    signal_rules.yaml:41: rules[3].escalate.rubric.harm: 'grave' is not an answer ...

Conditions, all of which must hold (a list matches when any of its values does):

* ``source``: the cluster holds at least ``min_signals`` signals from these sources
  (without ``source``, ``min_signals`` counts every signal);
* ``policy_hint``, ``market``, ``language``: some signal carries one of these values;
* ``subject_kind``: what the cluster is about (``post``, ``livestream``...);
* ``min_reporters``, ``min_velocity_5m``, ``min_velocity_1h``, ``min_impressions``,
  ``min_shares``, ``min_followers``: thresholds on the cluster's counts (at least);
* ``surge: true``: the cluster (or series) has an open surge alert, and
  ``min_surge_ratio`` how many times its baseline it must be running at;
* ``state``: the states the cluster may be in (default ``[open]``: a cluster already
  escalated, marked benign or snoozed is left alone unless a rule says otherwise);
* ``alert``: for official alerts (source ``external_alert``, e.g. CAP from the warning
  app), what one of the cluster's alerts must say: ``severity``, ``urgency``,
  ``certainty``, ``msg_type`` and ``status`` (lists of the CAP values; ``msg_type``
  defaults to Alert and Update, ``status`` to Actual). Only an alert whose sender the
  organisation trusts (``attributes.alert.trusted``) ever matches; and no rule at all
  acts on a cluster made only of untrusted senders' alerts (``reactions``): they are
  stored, never acted on.

A rule with ``subject: series`` looks at surge alerts of a market × policy × language
series instead: only ``market``, ``policy_hint``, ``language``, ``min_signals`` (in the
surge window) and ``min_surge_ratio`` apply there.

This module reads and checks the file; matching a cluster or an alert against its rules
is ``signals.rule_matching`` (pure: it returns the evidence, every condition in words
with the figure it was checked against, or None), and acting on a match is
:func:`watchfloor.signals.auto_escalation.apply_rule`.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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
from watchfloor.signals.contract import SourceName, SubjectKindName

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

RULES_FILE_NAME = "signal_rules.yaml"
TITLE_PLACEHOLDERS = (
    "representative",
    "markets",
    "languages",
    "policy",
    "sources",
    "signals",
    "ratio",
    "rule",
)
# Signal sources as the escalation records them. A partner referral needs its team, which
# the signal may carry as attributes.partner_team; without one it is filed as internal.
ESCALATION_SOURCE_FOR_SIGNAL = {
    "user_report": "user_report",
    "trusted_flagger": "trusted_flagger",
    "partner_referral": "partner_team",
    "law_enforcement": "law_enforcement",
    "government": "government",
    "regulator": "regulator",
    "media": "media",
    "detector": "detector",
    "hash_match": "detector",
    "external_alert": "internal",
}


# ---------------------------------------------------------------- the file's schema


def _title(value: str) -> str:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(
            f"the title has an unmatched brace ({exc}); write {{{{ for a literal {{"
        ) from None
    for name in names:
        if name not in TITLE_PLACEHOLDERS:
            raise ValueError(
                f"'{{{name}}}' is not a placeholder; use {', '.join(TITLE_PLACEHOLDERS)}"
            )
    return value


TitleTemplate = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_title)]
StateName = Literal["open", "escalated", "benign", "snoozed"]
_OPEN_ONLY: tuple[StateName, ...] = ("open",)
Count = Annotated[int, Field(ge=0)]

_CLUSTER_ONLY = (
    "alert",
    "source",
    "subject_kind",
    "min_reporters",
    "min_velocity_5m",
    "min_velocity_1h",
    "min_impressions",
    "min_shares",
    "min_followers",
    "state",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
CapUrgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CapCertainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
CapMessageType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
CapStatus = Literal["Actual", "Exercise", "System", "Test", "Draft"]


def _alert_and_update() -> list[CapMessageType]:
    return ["Alert", "Update"]


def _actual() -> list[CapStatus]:
    return ["Actual"]


class AlertConditions(_Strict):
    """What one official alert of the cluster must say (the CAP fields, as the signal's
    ``attributes.alert`` carries them); an empty list allows any value."""

    severity: list[CapSeverity] = Field(default_factory=list)
    urgency: list[CapUrgency] = Field(default_factory=list)
    certainty: list[CapCertainty] = Field(default_factory=list)
    msg_type: list[CapMessageType] = Field(default_factory=_alert_and_update)
    status: list[CapStatus] = Field(default_factory=_actual)

    def first_match(self, alerts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        for alert in alerts:
            if alert.get("trusted") is not True:
                continue
            if all(
                not wanted or alert.get(name) in wanted
                for name, wanted in (
                    ("severity", self.severity),
                    ("urgency", self.urgency),
                    ("certainty", self.certainty),
                    ("msg_type", self.msg_type),
                    ("status", self.status),
                )
            ):
                return alert
        return None


class RuleConditions(_Strict):
    subject: Literal["cluster", "series"] = "cluster"
    source: list[SourceName] = Field(default_factory=list)
    policy_hint: list[str] = Field(default_factory=list)
    market: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    subject_kind: list[SubjectKindName] = Field(default_factory=list)
    min_signals: Annotated[int, Field(ge=1)] = 1
    min_reporters: Count = 0
    min_velocity_5m: Count = 0
    min_velocity_1h: Count = 0
    min_impressions: Count = 0
    min_shares: Count = 0
    min_followers: Count = 0
    surge: bool = False
    min_surge_ratio: Annotated[float, Field(gt=1)] | None = None
    state: list[StateName] = Field(default_factory=lambda: list(_OPEN_ONLY), min_length=1)
    alert: AlertConditions | None = None


class RuleAction(_Strict):
    type: str
    type_by_source: dict[SourceName, str] = Field(default_factory=dict)
    title: TitleTemplate | None = None
    rubric: dict[str, str] = Field(default_factory=dict)
    # shared_key: attach to an open escalation sharing a key with the cluster (subject,
    # URL, media hash, near-identical text); one of the same type and market is only
    # proposed. same_type_and_market: attach on type and market alone, as the rule says.
    attach: Literal["never", "shared_key", "same_type_and_market"] = "shared_key"
    attach_window: IsoDuration = "P1D"

    @property
    def attach_within(self) -> timedelta:
        return parse_iso_duration(self.attach_window)


class RuleSpec(_Strict):
    code: RuleCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    enabled: bool = True
    when: RuleConditions
    escalate: RuleAction

    @property
    def on_series(self) -> bool:
        return self.when.subject == "series"


class RulesFile(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    rules: list[RuleSpec] = Field(default_factory=list)


# ---------------------------------------------------------------- reading


class SignalRulesError(ConfigFileError):
    """The rules file cannot be used."""

    code = "invalid_signal_rules"
    subject = "the signal rules in {where}"
    verb = "have"


# A validated rules file, with the version every firing records (``.version``) and its
# enabled rules (``.rules``).
RuleSet = CheckedFile[RulesFile]


def rule_problems(spec: RulesFile, *, catalog: Catalog | None) -> Iterator[tuple[Location, str]]:
    """What the schema alone cannot see: repeated codes, conditions that cannot apply,
    and codes that the catalog does not know."""
    yield from repeated_code_problems(rule.code for rule in spec.rules)
    for index, rule in enumerate(spec.rules):
        where: Location = ("rules", index)
        when = rule.when
        if rule.on_series:
            given = when.model_fields_set
            for name in _CLUSTER_ONLY:
                if name in given:
                    yield (
                        (*where, "when", name),
                        f"'{name}' is about clusters; a rule with subject: series looks at "
                        "surge alerts of a market × policy × language series only",
                    )
            if "surge" in given and not when.surge:
                yield (*where, "when", "surge"), "a series rule acts on surges: leave surge out"
        if when.min_surge_ratio is not None and not when.surge and not rule.on_series:
            yield (
                (*where, "when", "min_surge_ratio"),
                "min_surge_ratio needs surge: true (the ratio is that of the open surge alert)",
            )
        for source in rule.escalate.type_by_source:
            if when.source and source not in when.source:
                yield (
                    (*where, "escalate", "type_by_source", source),
                    f"'{source}' is not one of this rule's sources ({', '.join(when.source)})",
                )
        if catalog is not None:
            yield from _catalog_problems(rule, where, catalog)


def _catalog_problems(
    rule: RuleSpec, where: Location, catalog: Catalog
) -> Iterator[tuple[Location, str]]:
    policies = {policy.code for _, policy in catalog.iter_policies()}
    action = rule.escalate
    yield from escalation_type_problems(
        catalog,
        [
            ((*where, "escalate", "type"), action.type),
            *(
                ((*where, "escalate", "type_by_source", source), code)
                for source, code in action.type_by_source.items()
            ),
        ],
    )
    yield from rubric_answer_problems(catalog, (*where, "escalate", "rubric"), action.rubric)
    for index, code in enumerate(rule.when.policy_hint):
        if code not in policies:
            yield (
                (*where, "when", "policy_hint", index),
                f"unknown policy '{code}'; use one of {listing(policies)}",
            )
    yield from market_problems(catalog, (*where, "when", "market"), rule.when.market)


SIGNAL_RULES: RuleFileKind[RulesFile] = RuleFileKind(
    model=RulesFile,
    error=SignalRulesError,
    checks=lambda spec, catalog: rule_problems(spec, catalog=catalog),
    setting="WATCHFLOOR_SIGNAL_RULES",
    file_name=RULES_FILE_NAME,
    what="auto-escalation rules",
)
EMPTY_RULES = SIGNAL_RULES.empty


def default_rules_path() -> Path:
    return SIGNAL_RULES.default_path()


def read_rules(path: Path | None = None, *, catalog: Catalog | None) -> RuleSet:
    """Read and check a rules file; raise :class:`SignalRulesError` with every problem.

    With a ``catalog`` the codes the rules name (escalation types, rubric answers,
    policies, markets) are checked against it too.
    """
    return SIGNAL_RULES.read(path, catalog=catalog)


def parse_rules(
    name: str, raw: bytes, *, catalog: Catalog | None, path: Path | None = None
) -> RuleSet:
    return SIGNAL_RULES.parse(name, raw, catalog=catalog, path=path)


def rules_in_force(catalog: Catalog | None, *, catalog_key: str = "") -> RuleSet:
    """The rules the reactions apply: the default file, re-read when it changes.

    A missing file means no rules. A broken file also means no rules, logged as an error:
    reactions run after signals are stored, and an invalid file must never turn a batch
    of accepted signals into a failure (``watchfloor signal_rules validate`` finds it).
    """
    return SIGNAL_RULES.in_force(catalog, catalog_key=catalog_key)
