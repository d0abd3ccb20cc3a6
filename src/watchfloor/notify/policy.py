"""Escalation policies as a reviewed file: who is told when an escalation reaches a
severity, and who next when nobody acknowledges in time.

The file (``defaults/escalation_policies.yaml`` unless configured otherwise) is parsed
with the catalog's YAML reader, so every problem names the file, the line and the path::

    escalation_policies.yaml:31: rules[0].stages[1].after: stages must come later than
    the one before (PT5M is not after PT10M)

Two layers, as in the catalog: the pydantic models check shape and values;
:func:`reference_problems` checks names against what exists (teams in the catalog; and,
when asked, users and channels in the database). Unknown people or channels at run time
do not stop anything: the stage records a failed notification saying who was missing.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from watchfloor.catalog.loader import ConfigFileError, Problem, parse_yaml_file
from watchfloor.catalog.schema import Location, format_location
from watchfloor.catalog.values import Code, Duration, MarketCode, Name
from watchfloor.notify import conf
from watchfloor.severity.rubric import parse_iso_duration

_SEVERITY = re.compile(r"^SEV(?P<level>\d)$")
# What a channel code may be, here and when a channel is saved (notify.channels).
CHANNEL_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _severity(value: Any) -> str:
    if not isinstance(value, str) or not _SEVERITY.match(value):
        raise ValueError(f"{value!r} is not a severity; write SEV0, SEV1, … SEV4")
    return value


def _channel_code(value: str) -> str:
    if not CHANNEL_CODE.match(value):
        raise ValueError(
            f"'{value}' is not a channel code: use up to 64 lower-case letters, digits, "
            "hyphens and underscores (for example crisis-room)"
        )
    return value


def _username(value: str) -> str:
    if not value.strip() or len(value) > 150:
        raise ValueError("a username is 1 to 150 characters, as in the account's username")
    return value


def severity_level(name: str) -> int:
    match = _SEVERITY.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a severity")
    return int(match["level"])


Severity = Annotated[str, BeforeValidator(_severity)]
ChannelCode = Annotated[str, AfterValidator(_channel_code)]
Username = Annotated[str, AfterValidator(_username)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamTarget(_Strict):
    """A team's people: ``team: legal`` or ``team: {code: site_policy, role: lead}``."""

    code: Code
    role: Literal["analyst", "lead", "partner", "viewer", "admin"] | None = None


def _team_shorthand(value: Any) -> Any:
    return {"code": value} if isinstance(value, str) else value


class Target(_Strict):
    """Exactly one of: a person, whoever is on call for a team, a team, a channel."""

    user: Username | None = None
    on_call: Annotated[TeamTarget | None, BeforeValidator(_team_shorthand)] = None
    team: Annotated[TeamTarget | None, BeforeValidator(_team_shorthand)] = None
    channel: ChannelCode | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [name for name in ("user", "on_call", "team", "channel") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "each target names exactly one of user, on_call, team or channel "
                f"(this one names {', '.join(given) if given else 'none'}); "
                "for example `- on_call: site_policy` or `- channel: crisis-room`"
            )
        return self

    @property
    def label(self) -> str:
        if self.user:
            return f"user: {self.user}"
        if self.channel:
            return f"channel: {self.channel}"
        team = self.on_call or self.team
        assert team is not None
        role = f" ({team.role}s)" if team.role else ""
        return f"{'on call' if self.on_call else 'team'}: {team.code}{role}"


class Stage(_Strict):
    after: Duration = "PT0M"
    name: str = Field(default="", max_length=200)
    notify: list[Target] = Field(min_length=1)

    @property
    def offset(self) -> timedelta:
        return parse_iso_duration(self.after)


class When(_Strict):
    severities: list[Severity] = Field(min_length=1)
    types: list[Code] = Field(default_factory=list)
    markets: list[MarketCode] = Field(default_factory=list)


class Rule(_Strict):
    code: Code
    name: Name
    when: When
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _stages_in_order(self) -> Rule:
        previous: Stage | None = None
        for stage in self.stages:
            if previous is not None and stage.offset <= previous.offset:
                raise ValueError(
                    f"stages must come later than the one before ({stage.after} is not after "
                    f"{previous.after}); `after` counts from when the policy started"
                )
            previous = stage
        return self

    def matches(self, *, severity: int, type_code: str, market_codes: Iterable[str]) -> bool:
        if f"SEV{severity}" not in self.when.severities:
            return False
        if self.when.types and type_code not in self.when.types:
            return False
        return not self.when.markets or bool(set(self.when.markets) & set(market_codes))


class PolicyFile(_Strict):
    version: str = Field(min_length=1, max_length=32)
    # At this severity and above, quiet hours are ignored (SEV1: SEV0 and SEV1 go through).
    override_quiet_hours_from: Severity = "SEV1"
    acknowledge_link_valid_for: Duration = "PT12H"
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _codes_unique(self) -> PolicyFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.code in seen:
                raise ValueError(f"rule code '{rule.code}' is used twice; codes must be unique")
            seen.add(rule.code)
        return self

    @property
    def ack_link_lifetime(self) -> timedelta:
        return parse_iso_duration(self.acknowledge_link_valid_for)

    def overrides_quiet_hours(self, severity: int) -> bool:
        return severity <= severity_level(self.override_quiet_hours_from)

    def rule_for(
        self, *, severity: int, type_code: str, market_codes: Iterable[str]
    ) -> Rule | None:
        """The first rule that matches, in file order; None when no rule asks for anyone."""
        codes = list(market_codes)
        return next(
            (
                rule
                for rule in self.rules
                if rule.matches(severity=severity, type_code=type_code, market_codes=codes)
            ),
            None,
        )


class PolicyFileError(ConfigFileError):
    """The policy file cannot be used."""

    code = "invalid_escalation_policies"
    subject = "the escalation policy file {where}"


@dataclass(frozen=True)
class LoadedPolicies:
    policies: PolicyFile
    digest: str
    path: Path
    lines: dict[Location, int]

    def line_of(self, location: Location) -> int | None:
        for end in range(len(location), -1, -1):
            line = self.lines.get(location[:end])
            if line is not None:
                return line
        return None


def read_policies(path: Path | None = None) -> LoadedPolicies:
    """Read and validate the policy file; raise :class:`PolicyFileError` with every problem."""
    path = Path(path) if path is not None else conf.policy_file()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError(
            [Problem(path.name, "", None, f"cannot be read: {exc.strerror or exc}")], where=path
        ) from None
    file = parse_yaml_file(path.name, raw)
    problems = list(file.problems)
    policies: PolicyFile | None = None
    if file.readable and file.data is None:
        problems.append(file.problem_at((), "the file is empty; it needs at least `version:`"))
    elif file.readable:
        try:
            policies = PolicyFile.model_validate(file.data)
        except ValidationError as exc:
            problems.extend(file.schema_problems(exc, PolicyFile))
    if problems or policies is None:
        problems.sort(key=lambda p: p.line or 0)
        raise PolicyFileError(problems, where=path)
    return LoadedPolicies(
        policies=policies, digest=hashlib.sha256(raw).hexdigest(), path=path, lines=file.lines
    )


_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], LoadedPolicies]] = {}


def current_policies() -> LoadedPolicies:
    """The policy file in force, re-read whenever it changes on disk."""
    path = conf.policy_file().resolve()
    try:
        stat = path.stat()
    except OSError:
        return read_policies(path)  # raises with the reason
    key = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
    loaded = read_policies(path)
    with _cache_lock:
        _cache[path] = (key, loaded)
    return loaded


# ---------------------------------------------------------------- references


@dataclass(frozen=True)
class Known:
    """What names may refer to. ``None`` means "not checked"."""

    teams: frozenset[str] | None = None
    escalation_types: frozenset[str] | None = None
    markets: frozenset[str] | None = None
    usernames: frozenset[str] | None = None
    channels: frozenset[str] | None = None


def _unknown(kind: str, value: str, known: frozenset[str]) -> str:
    choices = ", ".join(sorted(known)) or "(none)"
    return f"unknown {kind} '{value}'; use one of: {choices}"


def reference_problems(loaded: LoadedPolicies, known: Known) -> list[Problem]:
    """Names in the file that refer to nothing, each at its line."""
    problems = []
    for location, message in _references(loaded.policies, known):
        problems.append(
            Problem(
                loaded.path.name,
                format_location(location),
                loaded.line_of(location),
                message,
            )
        )
    return problems


def _references(policies: PolicyFile, known: Known) -> Iterator[tuple[Location, str]]:
    for r, rule in enumerate(policies.rules):
        where: Location = ("rules", r)
        if known.escalation_types is not None:
            for i, code in enumerate(rule.when.types):
                if code not in known.escalation_types:
                    yield (
                        (*where, "when", "types", i),
                        _unknown("escalation type", code, known.escalation_types),
                    )
        if known.markets is not None:
            for i, code in enumerate(rule.when.markets):
                if code not in known.markets:
                    yield (*where, "when", "markets", i), _unknown("market", code, known.markets)
        for s, stage in enumerate(rule.stages):
            for t, target in enumerate(stage.notify):
                at: Location = (*where, "stages", s, "notify", t)
                team = target.on_call or target.team
                if team is not None and known.teams is not None and team.code not in known.teams:
                    field = "on_call" if target.on_call else "team"
                    yield (*at, field), _unknown("team", team.code, known.teams)
                if (
                    target.user
                    and known.usernames is not None
                    and target.user not in known.usernames
                ):
                    yield (*at, "user"), f"no active user named '{target.user}'"
                if (
                    target.channel
                    and known.channels is not None
                    and target.channel not in known.channels
                ):
                    yield (
                        (*at, "channel"),
                        f"no active channel '{target.channel}'; add it in the admin "
                        "(Notifications › Channels)",
                    )
