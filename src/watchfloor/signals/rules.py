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

The matching here is pure: it reads a cluster or an alert and returns the evidence
(every condition, in words, with the figure it was checked against) or None. Acting on
a match is :func:`watchfloor.signals.auto_escalation.apply_rule`.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
from watchfloor.signals.models import ClusterState

if TYPE_CHECKING:
    from watchfloor.signals.models import Cluster, SurgeAlert

logger = logging.getLogger(__name__)
_STATE_COUNT = len(ClusterState.values)

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


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class Match:
    """Why a rule matched: each condition in words, and the figures it rested on."""

    conditions: list[str]
    figures: dict[str, Any]
    chosen_source: str | None = None

    def as_evidence(self) -> dict[str, Any]:
        return {"conditions": self.conditions, **self.figures}


def _tally_hits(tally: Mapping[str, int], wanted: Sequence[str]) -> int:
    return sum(int(tally.get(value, 0)) for value in wanted)


def _words(values: Iterable[str]) -> str:
    return ", ".join(str(value).replace("_", " ") for value in values)


def cluster_figures(cluster: Cluster, *, state: str) -> dict[str, Any]:
    return {
        "cluster": cluster.pk,
        "state": state,
        "signals": cluster.signal_count,
        "reporters": cluster.reporter_count,
        "sources": dict(cluster.sources),
        "markets": dict(cluster.markets),
        "languages": dict(cluster.languages),
        "policy_hints": dict(cluster.policy_hints),
        "subject_kind": cluster.subject_kind,
        "velocity_5m": cluster.velocity_5m,
        "velocity_1h": cluster.velocity_1h,
        "impressions": cluster.reach_impressions,
        "shares": cluster.reach_shares,
        "max_followers": cluster.max_followers,
    }


def surge_figures(alert: SurgeAlert) -> dict[str, Any]:
    return {
        "surge": alert.pk,
        "ratio": round(alert.ratio, 2),
        "current_rate_per_hour": round(alert.current_rate, 1),
        "baseline_rate_per_hour": round(alert.baseline_rate, 1),
        "surging_since": alert.started_at.isoformat(),
    }


def match_cluster(
    rule: RuleSpec,
    cluster: Cluster,
    *,
    state: str,
    surge: SurgeAlert | None,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> Match | None:
    """The evidence that ``rule`` holds for ``cluster`` (in effective ``state``), or None.
    ``alerts``: the ``attributes.alert`` of the cluster's official alerts, for a rule
    with an ``alert`` condition."""
    when = rule.when
    if rule.on_series:
        return None
    held: list[str] = []
    if state not in when.state:
        return None
    if len(when.state) < _STATE_COUNT:
        held.append(f"state {state} (rule: {_words(when.state)})")
    chosen_source = None
    if when.source:
        counted = _tally_hits(cluster.sources, when.source)
        if counted < when.min_signals:
            return None
        present = [s for s in when.source if cluster.sources.get(s)]
        chosen_source = max(
            present, key=lambda s: (cluster.sources.get(s, 0), -when.source.index(s))
        )
        held.append(
            f"{counted} signal{'s' if counted != 1 else ''} from {_words(present)} "
            f"(rule: at least {when.min_signals} from {_words(when.source)})"
        )
    elif cluster.signal_count < when.min_signals:
        return None
    elif when.min_signals > 1:
        held.append(f"{cluster.signal_count} signals (rule: at least {when.min_signals})")
    for name, tally, label in (
        ("policy_hint", cluster.policy_hints, "policy hint"),
        ("market", cluster.markets, "market"),
        ("language", cluster.languages, "language"),
    ):
        wanted: list[str] = getattr(when, name)
        if wanted:
            hits = [value for value in wanted if tally.get(value)]
            if not hits:
                return None
            held.append(
                f"{label} {_words(hits)}: {_tally_hits(tally, hits)} signals "
                f"(rule: any of {_words(wanted)})"
            )
    if when.subject_kind:
        if cluster.subject_kind not in when.subject_kind:
            return None
        held.append(f"subject is a {cluster.subject_kind} (rule: {_words(when.subject_kind)})")
    for name, value, label in (
        ("min_reporters", cluster.reporter_count, "distinct reporters"),
        ("min_velocity_5m", cluster.velocity_5m, "signals in the last 5 minutes"),
        ("min_velocity_1h", cluster.velocity_1h, "signals in the last hour"),
        ("min_impressions", cluster.reach_impressions, "impressions"),
        ("min_shares", cluster.reach_shares, "shares"),
        ("min_followers", cluster.max_followers, "followers of the largest account"),
    ):
        threshold: int = getattr(when, name)
        if threshold:
            if value < threshold:
                return None
            held.append(f"{value:,} {label} (rule: at least {threshold:,})")
    figures = cluster_figures(cluster, state=state)
    if when.alert is not None:
        alert = when.alert.first_match(alerts)
        if alert is None:
            return None
        held.append(_alert_condition(alert, when.alert))
        figures["alert"] = {
            name: alert.get(name)
            for name in ("sender", "identifier", "event", "severity", "urgency", "certainty")
        }
    if when.surge:
        if surge is None:
            return None
        if when.min_surge_ratio is not None and surge.ratio < when.min_surge_ratio:
            return None
        held.append(_surge_condition(surge, when.min_surge_ratio))
        figures.update(surge_figures(surge))
    return Match(conditions=held, figures=figures, chosen_source=chosen_source)


def match_series_surge(rule: RuleSpec, alert: SurgeAlert) -> Match | None:
    """The evidence that series ``rule`` holds for the surge ``alert``, or None."""
    when = rule.when
    if not rule.on_series:
        return None
    held: list[str] = []
    for name, value, label in (
        ("market", alert.market, "market"),
        ("policy_hint", alert.policy, "policy"),
        ("language", alert.language, "language"),
    ):
        wanted: list[str] = getattr(when, name)
        if wanted:
            if value not in wanted:
                return None
            held.append(f"{label} {value or 'not given'} (rule: any of {_words(wanted)})")
    window_count = round(alert.current_rate * alert.window / timedelta(hours=1))
    if window_count < when.min_signals:
        return None
    if when.min_signals > 1:
        held.append(
            f"{window_count} signals in the surge window (rule: at least {when.min_signals})"
        )
    if when.min_surge_ratio is not None and alert.ratio < when.min_surge_ratio:
        return None
    held.append(_surge_condition(alert, when.min_surge_ratio))
    figures = {
        "series": {"market": alert.market, "policy": alert.policy, "language": alert.language},
        **surge_figures(alert),
    }
    return Match(conditions=held, figures=figures)


def _alert_condition(alert: Mapping[str, Any], wanted: AlertConditions) -> str:
    asked = [
        f"{name} {_words(values)}"
        for name, values in (
            ("severity", wanted.severity),
            ("urgency", wanted.urgency),
            ("certainty", wanted.certainty),
        )
        if values
    ]
    return (
        f"official alert {alert.get('event', '')!s} from trusted sender "
        f"{alert.get('sender', '')!s}: {alert.get('severity')}, {alert.get('urgency')}, "
        f"{alert.get('certainty')} (rule: {'; '.join(asked) or 'any alert'})"
    )


def _surge_condition(alert: SurgeAlert, minimum: float | None) -> str:
    required = f"at least {minimum:g}×" if minimum is not None else "an open surge"
    return (
        f"surging at {alert.ratio:.1f}× its baseline of {alert.baseline_rate:.1f}/h "
        f"since {alert.started_at:%Y-%m-%d %H:%M} UTC (rule: {required})"
    )


def escalation_type_for(rule: RuleSpec, match: Match) -> str:
    if match.chosen_source and match.chosen_source in rule.escalate.type_by_source:
        return rule.escalate.type_by_source[match.chosen_source]
    return rule.escalate.type


def render_title(template: str, values: Mapping[str, Any]) -> str:
    """The rule's title template filled in; reported text is data, never a template."""
    safe = {name: str(values.get(name, "")) for name in TITLE_PLACEHOLDERS}
    return template.format_map(safe)
