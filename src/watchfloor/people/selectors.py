"""Reads about teams and rotations, and the plans the on-call arithmetic works on.

Each function loads what it returns in a fixed number of queries (rotations with their
shifts, members and the overrides of the window asked about), so a page listing every
team's on-call people costs the same with three rotations as with thirty.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.markets.models import Market
from watchfloor.people.models import (
    APIToken,
    RotaOverride,
    Rotation,
    RotationMember,
    RotationShift,
    Team,
    TeamRegion,
    User,
)
from watchfloor.people.rotafile import References, TeamReference
from watchfloor.people.rotas import OverridePlan, RotaPlan, ShiftPlan


def get_team(code: str, *, field: str = "team") -> Team:
    team = Team.objects.filter(code=(code or "").strip()).first()
    if team is None:
        known = ", ".join(Team.objects.values_list("code", flat=True))
        raise NotFound(f"no team '{code}'; the teams are {known}", field=field)
    return team


def teams() -> QuerySet[Team]:
    return Team.objects.prefetch_related("regions")


def rota_references() -> References:
    """What the rota file may name: teams (with their regions), markets and accounts."""
    regions: dict[int, dict[str, tuple[str, ...]]] = {}
    for region in TeamRegion.objects.all():
        regions.setdefault(region.team_id, {})[region.code] = tuple(region.markets)
    team_codes = dict(Team.objects.values_list("pk", "code"))
    return References(
        teams={
            team.code: TeamReference(kind=team.kind, regions=regions.get(team.pk, {}))
            for team in Team.objects.all()
        },
        markets=frozenset(Market.objects.values_list("code", flat=True)),
        users={
            username: team_codes.get(team_id)
            for username, team_id in User.objects.values_list("username", "team_id")
        },
    )


def rotations(
    *,
    team_codes: list[str] | None = None,
    window: tuple[datetime, datetime] | None = None,
    include_retired: bool = False,
) -> QuerySet[Rotation]:
    """Rotations with their shifts, members and (for ``window``) live overrides."""
    queryset = Rotation.objects.select_related("team")
    if not include_retired:
        queryset = queryset.filter(is_active=True)
    if team_codes is not None:
        queryset = queryset.filter(team__code__in=team_codes)
    overrides = RotaOverride.objects.filter(cancelled_at__isnull=True).select_related(
        "user", "replaces", "created_by"
    )
    if window is not None:
        overrides = overrides.filter(ends_at__gt=window[0], starts_at__lt=window[1])
    return queryset.prefetch_related(
        Prefetch(
            "shifts",
            queryset=RotationShift.objects.prefetch_related(
                Prefetch(
                    "members",
                    queryset=RotationMember.objects.select_related("user"),
                )
            ),
        ),
        # Oldest first: in a plan, a later override wins over an earlier one.
        Prefetch(
            "overrides", queryset=overrides.order_by("created_at", "id"), to_attr="live_overrides"
        ),
    )


def get_rotation(code: str, *, window: tuple[datetime, datetime] | None = None) -> Rotation:
    rotation = rotations(window=window, include_retired=True).filter(code=code).first()
    if rotation is None:
        raise NotFound(f"no rotation '{code}'", field="rotation")
    return rotation


def rotation_plan(rotation: Rotation) -> RotaPlan[User]:
    """The plan of a rotation loaded by :func:`rotations` (no queries of its own)."""
    return RotaPlan(
        key=rotation.code,
        start_date=rotation.start_date,
        shifts=tuple(
            ShiftPlan(
                label=shift.label,
                zone=shift.time_zone,
                starts=shift.starts,
                days=frozenset(shift.days),
                members=tuple(member.user for member in shift.members.all()),
                graphic_content_duty=shift.graphic_content_duty,
            )
            for shift in rotation.shifts.all()
        ),
        overrides=tuple(
            OverridePlan(
                user=override.user,
                starts_at=override.starts_at,
                ends_at=override.ends_at,
                replaces=override.replaces,
                reason=override.reason,
                key=override.pk,
            )
            for override in getattr(rotation, "live_overrides", [])
        ),
    )


def overrides_of(rotation: Rotation, *, since: datetime) -> QuerySet[RotaOverride]:
    """The overrides still to end (cancelled ones too, for the record)."""
    return (
        RotaOverride.objects.filter(rotation=rotation, ends_at__gt=since)
        .select_related("user", "replaces", "created_by", "cancelled_by")
        .order_by("starts_at", "id")
    )


def get_override(*, rotation: Rotation, override_id: int | str) -> RotaOverride:
    override = (
        RotaOverride.objects.filter(rotation=rotation, pk=override_id).first()
        if str(override_id).isdigit()
        else None
    )
    if override is None:
        raise NotFound(f"no override {override_id} on {rotation.code}", field="override_id")
    return override


def market_codes() -> list[tuple[str, str]]:
    return list(Market.objects.values_list("code", "name"))


# ---------------------------------------------------------------- API tokens


def api_tokens(
    *, username: str | None = None, include_inactive: bool = False, now: datetime
) -> list[APIToken]:
    """Tokens, newest first; without ``include_inactive`` only those that still work."""
    tokens = APIToken.objects.select_related("user", "revoked_by").order_by("-created_at", "-pk")
    if username:
        tokens = tokens.filter(user__username=username)
    if not include_inactive:
        tokens = tokens.filter(revoked_at__isnull=True, expires_at__gt=now)
    return list(tokens)


def get_api_token(reference: str) -> APIToken:
    """A token by its id or its prefix (as ``token list`` shows them)."""
    reference = (reference or "").strip().rstrip("…")
    query = Q(prefix=reference)
    if reference.isdigit():
        query |= Q(pk=int(reference))
    found = list(APIToken.objects.select_related("user").filter(query)[:2])
    if not found:
        raise NotFound(
            f"no API token '{reference}'; `watchfloor token list --all` shows ids and prefixes",
            field="token",
        )
    if len(found) > 1:
        raise NotFound(
            f"more than one token starts with '{reference}'; give its id from "
            "`watchfloor token list --all`",
            field="token",
        )
    return found[0]
