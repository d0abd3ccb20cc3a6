"""Options for the escalation forms, read from the loaded catalog: types, policies,
enforcement actions, statutory rules and severities, shaped as Django ``choices``. Each
function costs one query. Markets, zones, teams and people come from ``people.choices``."""

from __future__ import annotations

from watchfloor.escalations.models import EscalationType
from watchfloor.markets.models import StatutoryRule
from watchfloor.people.choices import (
    Choices,
    market_choices,
    markets,
    owner_choices,
    partner_team_choices,
    time_zone_choices,
    user_choices,
)
from watchfloor.policy.models import EnforcementAction, Policy
from watchfloor.severity.rubric import Rubric

__all__ = [
    "Choices",
    "enforcement_action_choices",
    "escalation_type_choices",
    "market_choices",
    "markets",
    "owner_choices",
    "partner_team_choices",
    "policy_choices",
    "severity_choices",
    "statutory_rule_choices",
    "time_zone_choices",
    "user_choices",
]


def escalation_type_choices() -> Choices:
    return [(t.code, t.name) for t in EscalationType.objects.only("code", "name")]


def policy_choices() -> Choices:
    """Policies grouped by area, as an <optgroup> each."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for policy in Policy.objects.select_related("area"):
        groups.setdefault(policy.area.name, []).append((policy.code, policy.name))
    return list(groups.items())


def enforcement_action_choices() -> Choices:
    return [
        (a.code, f"{a.label} (needs countries)" if a.needs_countries else a.label)
        for a in EnforcementAction.objects.all()
    ]


def statutory_rule_choices() -> Choices:
    """Rules grouped by jurisdiction; each option says how its deadline is set."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for rule in StatutoryRule.objects.select_related("market"):
        # Named as people say it; the code stays the option's value only.
        by_notice = rule.deadline_kind == StatutoryRule.DeadlineKind.SET_BY_NOTICE
        hint = " — enter the notice's due time" if by_notice else ""
        groups.setdefault(rule.jurisdiction, []).append(
            (rule.code, f"{rule.label} ({rule.instrument}){hint}")
        )
    return list(groups.items())


def severity_choices(rubric: Rubric) -> Choices:
    return [(str(s.level), f"{s.name} — {s.label}") for s in rubric.severities]
