"""Who is on call: for a team, in a market, at an instant.

A team may have rotations for some of its markets (a region: Legal Japan) and rotations
for every market (Legal's follow-the-sun). The most specific answer wins: asked about a
market, the rotations that cover it answer first, and those that cover every market
answer only when none of them has anyone on call. Asked about no market, the rotations
for every market answer, then (if they have nobody) all the team's rotations.

``on_call_now`` is what other apps call (notifications page the people it returns);
``on_call`` is the explained answer the on-call page and the API show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.core.errors import InvalidInput
from watchfloor.markets.models import Market
from watchfloor.people import selectors
from watchfloor.people.reachability import unreachable_reason
from watchfloor.people.rotas import WEEK, duty_at, is_working_time, watch_around

if TYPE_CHECKING:
    from watchfloor.people.models import Rotation, Team, User


def watch_window(at: datetime) -> tuple[datetime, datetime]:
    """How far around ``at`` a stretch of duty is followed to say since when and until when."""
    return at - WEEK, at + 5 * WEEK


@dataclass(frozen=True)
class OnCallEntry:
    team: Team
    rotation: Rotation
    user: User
    shift_label: str
    shift_zone: str
    # The stretch of duty ``at`` falls in; None where it reaches beyond the week before
    # (since) or the five weeks after (until).
    since: datetime | None
    until: datetime | None
    scheduled: User
    override_reason: str

    @property
    def is_override(self) -> bool:
        return self.user != self.scheduled

    @property
    def unreachable(self) -> str:
        """Why a page to this person would not reach them, or "" when it would."""
        return unreachable_reason(self.user)

    @property
    def covers(self) -> str:
        if not self.rotation.markets:
            return "every market"
        return ", ".join(self.rotation.markets)


@dataclass(frozen=True)
class TeamOnCall:
    team: Team
    entries: list[OnCallEntry]
    # Why these rotations answered (or why none did), in a sentence.
    basis: str
    within_working_hours: bool | None

    @property
    def users(self) -> list[User]:
        seen: list[User] = []
        for entry in self.entries:
            if entry.user not in seen:
                seen.append(entry.user)
        return seen


def on_call_now(team_code: str, market: str | None, at: datetime) -> list[User]:
    """The people on call for ``team_code`` in ``market`` (an ISO code, or None for the
    team as a whole) at ``at``, overrides applied, in rotation order, each once.

    Raises ``NotFound`` for an unknown team and ``InvalidInput`` for an unknown market or
    a time without a zone. An empty list means nobody is on call.
    """
    answers = on_call(team_code=team_code, market=market, at=at)
    return answers[0].users if answers else []


def on_call(*, team_code: str | None, market: str | None, at: datetime) -> list[TeamOnCall]:
    """The explained answer for one team (or, without ``team_code``, every team that has
    rotations), in team order."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            "the time must carry its zone or offset, e.g. 2026-11-26T09:00:00+09:00", field="at"
        )
    market = normalise_market(market)
    if team_code:
        team_list = [selectors.get_team(team_code)]
        rotation_rows = list(
            selectors.rotations(team_codes=[team_list[0].code], window=watch_window(at))
        )
    else:
        rotation_rows = list(selectors.rotations(window=watch_window(at)))
        team_list = sorted({r.team for r in rotation_rows}, key=lambda t: (t.name, t.code))
    by_team: dict[int, list[Rotation]] = {}
    for rotation in rotation_rows:
        by_team.setdefault(rotation.team_id, []).append(rotation)
    return [_team_on_call(team, by_team.get(team.pk, []), market, at) for team in team_list]


def normalise_market(market: str | None) -> str | None:
    code = (market or "").strip().upper()
    if not code:
        return None
    if not Market.objects.filter(code=code).exists():
        raise InvalidInput(f"unknown market '{market}'; use an ISO code such as JP", field="market")
    return code


def _team_on_call(
    team: Team, rotations: list[Rotation], market: str | None, at: datetime
) -> TeamOnCall:
    working = is_working_time(
        at,
        zone=team.time_zone,
        starts=team.working_hours_start,
        ends=team.working_hours_end,
        days=team.working_days or [],
    )
    if not rotations:
        return TeamOnCall(team, [], f"{team.name} has no on-call rotation", working)
    for_every_market = [r for r in rotations if not r.markets]
    if market:
        for_market = [r for r in rotations if market in r.markets]
        tiers = [
            (for_market, f"rotations that cover {market}"),
            (for_every_market, f"no one covers {market} in particular; rotations for every market"),
        ]
    else:
        tiers = [
            (for_every_market, "rotations for every market"),
            (rotations, "no rotation covers every market; all of the team's rotations"),
        ]
    for candidates, basis in tiers:
        entries = [entry for r in candidates if (entry := _entry(team, r, at)) is not None]
        if entries:
            return TeamOnCall(team, entries, basis, working)
    asked = f" for {market}" if market else ""
    return TeamOnCall(team, [], f"nobody is on call for {team.name}{asked} at this time", working)


def _entry(team: Team, rotation: Rotation, at: datetime) -> OnCallEntry | None:
    plan = selectors.rotation_plan(rotation)
    duty = duty_at(plan, at)
    if duty is None or not duty.member.is_active:
        return None
    window_start, window_end = watch_window(at)
    watch = watch_around(plan, at, back=at - window_start, ahead=window_end - at)
    since = until = None
    if watch is not None:
        since = watch.starts_at if watch.starts_at > window_start else None
        until = watch.ends_at if watch.ends_at < window_end else None
    return OnCallEntry(
        team=team,
        rotation=rotation,
        user=duty.member,
        shift_label=duty.shift.label,
        shift_zone=duty.shift.zone,
        since=since,
        until=until,
        scheduled=duty.scheduled,
        override_reason=duty.override.reason if duty.override else "",
    )


def _graphic_duty(rows: Iterable[Rotation], at: datetime) -> dict[int, tuple[User, Team]]:
    """Each person holding a shift marked graphic-content duty at ``at``, once, with the
    team of the (first) rotation that puts them there."""
    on_duty: dict[int, tuple[User, Team]] = {}
    for rotation in rows:
        duty = duty_at(selectors.rotation_plan(rotation), at)
        if duty is not None and duty.shift.graphic_content_duty and duty.member.is_active:
            on_duty.setdefault(duty.member.pk, (duty.member, rotation.team))
    return on_duty


def _alphabetical(people: Iterable[User]) -> list[User]:
    # Alphabetical, never ranked by anything they have done.
    return sorted(people, key=lambda user: user.display_name.casefold())


def graphic_content_duty_now(*, team: Team, at: datetime) -> list[User]:
    """Who in ``team``'s rotations holds a shift marked graphic-content duty at ``at``
    (overrides applied), alphabetical, each once: the people others should leave graphic
    material to. Four queries, however many rotations."""
    rows = selectors.rotations(team_codes=[team.code], window=watch_window(at))
    return _alphabetical(person for person, _ in _graphic_duty(rows, at).values())


@dataclass(frozen=True)
class GraphicContentDuty:
    person: User
    team: Team


def graphic_content_duty_everywhere(*, at: datetime) -> list[GraphicContentDuty]:
    """Who holds a shift marked graphic-content duty at ``at`` in any team's rotations
    (a crisis's war room gathers several teams), alphabetical by name, each once with
    their team. Four queries, however many rotations and teams."""
    rows = selectors.rotations(window=watch_window(at))
    holders = _graphic_duty(rows, at)
    return [
        GraphicContentDuty(person=person, team=holders[person.pk][1])
        for person in _alphabetical(person for person, _ in holders.values())
    ]
