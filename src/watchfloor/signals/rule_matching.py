"""Matching the auto-escalation rules: does a cluster or a series surge meet a rule?

The matching is pure: it reads a cluster or an alert and returns the evidence (every
condition, in words, with the figure it was checked against) as a ``Match``, or None.
The rules file and its schema are ``signals.rules``; acting on a match is
:func:`watchfloor.signals.auto_escalation.apply_rule`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from watchfloor.signals.models import ClusterState
from watchfloor.signals.rules import TITLE_PLACEHOLDERS, AlertConditions, RuleSpec

if TYPE_CHECKING:
    from watchfloor.signals.models import Cluster, SurgeAlert

_STATE_COUNT = len(ClusterState.values)


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
