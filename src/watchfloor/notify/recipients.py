"""From a policy target to the people or channel it means right now, with the reason.

"On call for a team" asks ``watchfloor.people.oncall.on_call_now(team_code, market, at)``
(the people app's rota). When there is no rota module, when nobody is on call, or when
the rota cannot answer, every active member of the team is told instead, and the reason
on each message says why, so nobody mistakes it for the rota.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from watchfloor.catalog.loader import Problem
from watchfloor.catalog.schema import format_location
from watchfloor.core.errors import WatchfloorError
from watchfloor.notify.models import Channel
from watchfloor.notify.policy import LoadedPolicies, Target, TeamTarget
from watchfloor.people.models import Team, User

ONCALL_MODULE = "watchfloor.people.oncall"


@dataclass(frozen=True)
class Recipient:
    user: User
    reason: str


@dataclass(frozen=True)
class Resolution:
    """What one target came to: people, or a channel, or a problem saying why nobody."""

    target: Target
    people: list[Recipient] = field(default_factory=list)
    channel: Channel | None = None
    channel_reason: str = ""
    problem: str = ""


def why_unreachable(user: User) -> str:
    """Why an escalation policy cannot reach ``user``, or "" when it can: people are paged
    by email (channels are for teams and rooms), so an account without an address, or a
    deactivated one, misses every page."""
    if not user.is_active:
        return "the account is deactivated: pages to it are not sent"
    if not (user.email or "").strip():
        return "no email address on their account: every page to them fails"
    return ""


def _on_call_lookup() -> Callable[[str, str | None, datetime], list[User]] | None:
    if importlib.util.find_spec(ONCALL_MODULE) is None:
        return None
    return importlib.import_module(ONCALL_MODULE).on_call_now


def _with_role(users: list[User], team: TeamTarget) -> list[User]:
    return [u for u in users if team.role is None or u.role == team.role]


def _team(code: str) -> Team | None:
    return Team.objects.filter(code=code).first()


def resolve(target: Target, *, market: str | None, at: datetime) -> Resolution:
    if target.user:
        user = User.objects.filter(username=target.user, is_active=True).first()
        if user is None:
            return Resolution(target, problem=f"no active user named '{target.user}'")
        return Resolution(
            target, people=[Recipient(user, f"named in the policy ({user.username})")]
        )

    if target.channel:
        channel = Channel.objects.filter(code=target.channel, is_active=True).first()
        if channel is None:
            return Resolution(
                target,
                problem=f"no active channel '{target.channel}'; set it up in the admin",
            )
        return Resolution(target, channel=channel, channel_reason=f"channel {channel.name}")

    team_target = target.on_call or target.team
    assert team_target is not None
    team = _team(team_target.code)
    if team is None:
        return Resolution(target, problem=f"no team '{team_target.code}'")
    noun = team_target.role or "member"  # "every active lead of Legal"
    where = f" in {market}" if market else ""

    if target.on_call:
        on_call, why_nobody = _ask_rota(team, market, at)
        people = _with_role(on_call, team_target)
        if people:
            only = f" ({noun}s only)" if team_target.role else ""
            reason = f"on call for {team.name}{where}{only}"
        else:
            # Telling the whole team beats telling nobody: the policy asked for someone.
            why_nobody = why_nobody or f"nobody is on call for {team.name}{where}"
            people = _with_role(_members(team), team_target)
            reason = f"{why_nobody}, so every active {noun} of {team.name} is told"
            if not people:
                return Resolution(
                    target, problem=f"{why_nobody}, and {team.name} has no active {noun}s"
                )
    else:
        people = _with_role(_members(team), team_target)
        reason = f"{noun} of {team.name}"
    if not people:
        return Resolution(target, problem=f"{team.name} has no active {noun}s")
    return Resolution(target, people=[Recipient(user, reason) for user in people])


def _ask_rota(team: Team, market: str | None, at: datetime) -> tuple[list[User], str]:
    """Who the rota says is on call, or nobody and why not."""
    lookup = _on_call_lookup()
    if lookup is None:
        return [], "no on-call rota is available yet"
    try:
        return list(lookup(team.code, market, at)), ""
    except WatchfloorError as error:
        # The rota's problem must not stop an escalation being filed; say what it was.
        return [], f"the rota could not answer ({error.message})"


def _members(team: Team) -> list[User]:
    return list(User.objects.filter(team=team, is_active=True).order_by("username"))


def reachability_problems(loaded: LoadedPolicies) -> list[Problem]:
    """Everyone the policy could page who would not be reached (no email address, say),
    each at the line of the target that names them: an on-call target's rota members
    (or, where the team has no rota, its members, who are told instead), a team's
    members, a named person. ``watchfloor notify check`` reports them."""
    from watchfloor.people import selectors as people_selectors

    problems = []
    for r, rule in enumerate(loaded.policies.rules):
        for s, stage in enumerate(rule.stages):
            for t, target in enumerate(stage.notify):
                location = ("rules", r, "stages", s, "notify", t)
                for key, user, how in _people_of(target, people_selectors):
                    reason = why_unreachable(user)
                    if reason:
                        problems.append(
                            Problem(
                                loaded.path.name,
                                format_location((*location, key)),
                                loaded.line_of((*location, key)),
                                f"{user.username} ({how}) cannot be paged: {reason}",
                            )
                        )
    return problems


def _people_of(target: Target, people_selectors) -> list[tuple[str, User, str]]:
    """(field, person, how the target reaches them) for every person ``target`` may page."""
    if target.user:
        user = User.objects.filter(username=target.user).first()
        return [("user", user, "named in the policy")] if user is not None else []
    team_target = target.on_call or target.team
    if team_target is None:
        return []
    found: dict[int, tuple[str, User, str]] = {}
    if target.on_call:
        for rotation in people_selectors.rotations(team_codes=[team_target.code]):
            for shift in rotation.shifts.all():
                for member in shift.members.all():
                    found.setdefault(
                        member.user.pk,
                        ("on_call", member.user, f"on the {rotation.name} rotation"),
                    )
        if found:
            return [row for row in found.values() if _has_role(row[1], team_target)]
    key = "on_call" if target.on_call else "team"
    how = (
        f"told as a member of {team_target.code}: the team has no rota"
        if target.on_call
        else f"a member of {team_target.code}"
    )
    members = User.objects.filter(team__code=team_target.code, is_active=True).order_by("username")
    return [(key, user, how) for user in members if _has_role(user, team_target)]


def _has_role(user: User, team: TeamTarget) -> bool:
    return team.role is None or user.role == team.role
