"""Options for forms, read from the people directory and the markets: markets, time
zones, teams and people, shaped as Django ``choices``. Each function costs one query, so a
page's query count does not grow with the data; the people lists are read once per page
that shares its reads (``core.shared_reads``: the war room lists everyone in two forms).
Callers copy the lists they change."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import available_timezones

from django.db.models import Q

from watchfloor.core.roles import Role
from watchfloor.core.shared_reads import shared_within
from watchfloor.markets.models import Market
from watchfloor.people.models import Team, User

Choices = list[tuple[str, object]]


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


def partner_team_choices() -> Choices:
    return [(t.code, t.name) for t in Team.objects.filter(kind=Team.Kind.PARTNER)]


@shared_within
def owner_choices() -> Choices:
    """People whose role lets them own escalations."""
    people = User.objects.filter(is_active=True).filter(
        Q(role__in=[Role.ANALYST, Role.LEAD, Role.ADMIN]) | Q(is_superuser=True)
    )
    return [(u.username, _person(u)) for u in people.order_by("username")]


@shared_within
def user_choices() -> Choices:
    return [
        (u.username, _person(u)) for u in User.objects.filter(is_active=True).order_by("username")
    ]


def _person(user: User) -> str:
    return f"{user.display_name} ({user.get_role_display().lower()})"
