"""The options the web forms offer, read from the loaded catalog and the people directory.

Read-only lookups of reference data (markets, types, policies, rules, teams, people)
shaped as Django ``choices``. Each function costs one query, so a page's query count
does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import available_timezones

from django.db.models import Q

from watchfloor.core.roles import Role
from watchfloor.escalations.models import EscalationType
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.people.models import Team, User
from watchfloor.policy.models import EnforcementAction, Policy
from watchfloor.severity.rubric import Rubric, describe_duration

Choices = list[tuple[str, object]]


def escalation_type_choices() -> Choices:
    return [(t.code, t.name) for t in EscalationType.objects.only("code", "name")]


def markets() -> list[Market]:
    return list(Market.objects.all())


def market_choices(markets: Iterable[Market] | None = None) -> Choices:
    rows = Market.objects.all() if markets is None else markets
    return [(m.code, f"{m.code} — {m.name}") for m in rows]


def time_zone_choices(markets: Iterable[Market], *, also: Iterable[str] = ()) -> Choices:
    """The zones of the catalog's markets, the viewer's own and UTC: the ones notices come in."""
    valid = available_timezones()
    zones = {zone for market in markets for zone in market.time_zones if zone in valid}
    zones.update(zone for zone in also if zone in valid)
    zones.add("UTC")
    return [(zone, zone) for zone in sorted(zones)]


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


def _deadline_text(rule: StatutoryRule) -> str:
    if rule.deadline_kind == StatutoryRule.DeadlineKind.FIXED and rule.deadline:
        return f"fixed: {describe_duration(rule.deadline)}"
    if rule.deadline_kind == StatutoryRule.DeadlineKind.SET_BY_NOTICE:
        return "set by the notice: enter its due time"
    return "qualitative"


def statutory_rule_choices() -> Choices:
    """Rules grouped by jurisdiction; each option says how its deadline is set."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for rule in StatutoryRule.objects.all():
        groups.setdefault(rule.jurisdiction, []).append(
            (rule.code, f"{rule.code} — {rule.instrument} ({_deadline_text(rule)})")
        )
    return list(groups.items())


def partner_team_choices() -> Choices:
    return [(t.code, t.name) for t in Team.objects.filter(kind=Team.Kind.PARTNER)]


def owner_choices() -> Choices:
    """People whose role lets them own escalations."""
    people = User.objects.filter(is_active=True).filter(
        Q(role__in=[Role.ANALYST, Role.LEAD, Role.ADMIN]) | Q(is_superuser=True)
    )
    return [(u.username, _person(u)) for u in people.order_by("username")]


def user_choices() -> Choices:
    return [
        (u.username, _person(u)) for u in User.objects.filter(is_active=True).order_by("username")
    ]


def _person(user: User) -> str:
    return f"{user.display_name} ({user.get_role_display().lower()})"


def severity_choices(rubric: Rubric) -> Choices:
    return [(str(s.level), f"{s.name} — {s.label}") for s in rubric.severities]
