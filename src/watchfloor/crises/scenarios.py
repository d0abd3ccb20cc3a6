"""Drill scenarios as reviewed files: a timeline of injected events at offsets, the crisis
they open, scripted responses for autoplay and what the run is expected to score.

Scenarios live in ``drills/`` of the catalog directory (``WATCHFLOOR_CATALOG_DIR``); a
catalog directory without one uses the scenarios shipped in the package. Every problem
names the file, the path inside it and the line, as the catalog's do::

    jp_livestream_attack.yaml:41: injects[3].at: '15 minutes' is not an offset; ...

The checks come in two layers: the file on its own (shape, offsets, references between
injects, responses and the cast), and the file against the catalog and playbook library
in force (escalation types, markets, statutory rules, policies, teams, playbook steps).
See docs/drills.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from watchfloor.catalog.loader import ConfigFileError, Problem, YamlFile, parse_yaml_file
from watchfloor.catalog.schema import Code, LanguageTag, Location, MarketCode, Name, RuleId
from watchfloor.core.errors import InvalidInput

PACKAGE_SCENARIOS = Path(__file__).resolve().parent.parent / "defaults" / "drills"
SCENARIOS_DIR = "drills"

_OFFSET = re.compile(r"^\+?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")

# What an inject can be, and what each one does when the drill clock reaches it.
INJECT_KINDS = (
    "signals",  # a batch of reports: counted on the drill, never ingested (docs/drills.md)
    "partner_message",  # a message from outside or a partner team; may ask a team something
    "regulator_notice",  # a drill escalation with its statutory clock
    "media_inquiry",  # a drill escalation of type media_inquiry
    "escalation",  # any other drill escalation
)
ESCALATION_KINDS = frozenset({"regulator_notice", "media_inquiry", "escalation"})
DEFAULT_TYPES = {"regulator_notice": "regulator_notice", "media_inquiry": "media_inquiry"}
DEFAULT_SOURCES = {"regulator_notice": "regulator", "media_inquiry": "media"}

# What a scripted response can do; each one calls the service a person would.
RESPONSE_ACTIONS = (
    "acknowledge",  # escalation: new → triaged
    "assign",  # escalation owner ← to
    "transition",  # escalation status ← to
    "complete_step",  # playbook step done (checklist ticked, evidence recorded, approved)
    "skip_step",  # playbook step skipped, with the reason
    "start_playbook",  # a playbook started by hand (one without auto_start)
    "assign_playbook_role",  # the run's role ← to
    "record_decision",  # a decision on the escalation, approved by approve_as if needed
    "send_sitrep",  # a sitrep to an audience, drafted from the record
    "hand_over_role",  # a crisis role ← to
    "change_level",  # the crisis level ← to
    "add_note",  # a war-room entry, or a note on the escalation when one is named
    "answer_partner_request",  # the request a partner_message inject asked
)
_NEEDS = {
    "acknowledge": ("escalation",),
    "assign": ("escalation", "to"),
    "transition": ("escalation", "to"),
    "complete_step": ("escalation", "step"),
    "skip_step": ("escalation", "step", "reason"),
    "start_playbook": ("escalation", "playbook"),
    "assign_playbook_role": ("escalation", "role", "to"),
    "record_decision": ("escalation", "decision"),
    "send_sitrep": (),
    "hand_over_role": ("role", "to"),
    "change_level": ("to",),
    "add_note": ("body",),
    "answer_partner_request": ("inject", "outcome"),
}
# Fields that name a member of the cast, per action.
_TO_IS_CAST = frozenset({"assign", "assign_playbook_role", "hand_over_role"})


def parse_offset(value: str) -> timedelta:
    """``"+15m"``, ``"1h30m"``, ``"+2d"`` → a timedelta (raises ValueError naming the value)."""
    text = str(value).strip().replace(" ", "")
    match = _OFFSET.match(text)
    if not text or text == "+" or match is None or not any(match.groupdict().values()):
        raise ValueError(
            f"{value!r} is not an offset; write days, hours and minutes from the start of "
            'the drill, for example "+0m", "+15m", "1h30m" or "+2d"'
        )
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"])


def format_offset(delta: timedelta) -> str:
    """A timedelta as the scenario files write it: ``+1h30m``, ``+0m``, ``-5m``."""
    sign = "-" if delta < timedelta(0) else "+"
    minutes = int(abs(delta).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    text += f"{minutes}m" if minutes or not text else ""
    return sign + text


def _offset(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(
            f'{value!r} is not an offset; write it in quotes, for example "+15m" or "1h30m"'
        )
    if isinstance(value, int):
        raise ValueError(f'{value!r} has no unit; write minutes or hours, for example "+{value}m"')
    parse_offset(value)
    return value


def _username(value: str) -> str:
    if not _USERNAME.match(value):
        raise ValueError(f"'{value}' is not a username (letters, digits and . @ + - _)")
    return value


Offset = Annotated[str, BeforeValidator(_offset)]
Username = Annotated[str, AfterValidator(_username)]
Text = Annotated[str, Field(max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CastMember(_Strict):
    """A person the scenario speaks of. Autoplay uses the account with this username and
    creates it (unable to sign in) when the database has none."""

    username: Username
    role: Literal["analyst", "lead", "partner", "admin"]
    team: Code | None = None
    name: str = Field(default="", max_length=150)
    time_zone: str = "Asia/Tokyo"

    @model_validator(mode="after")
    def _partner_has_team(self) -> CastMember:
        if self.role == "partner" and not self.team:
            raise ValueError("a partner belongs to a partner team; give its team (e.g. legal)")
        return self


class CrisisSpec(_Strict):
    title: Name
    summary: Text = ""
    level: Literal["monitoring", "incident", "crisis_protocol"] = "incident"
    # The cast member who commands the drill crisis (and starts it in autoplay).
    commander: Code
    # The inject (an escalation at +0m) the crisis is declared from; none: from scratch.
    opens_with: Code | None = None


class SubjectSpec(_Strict):
    kind: str
    reference: str = Field(min_length=1, max_length=2000)


class EscalationSpec(_Strict):
    type: Code | None = None
    title: Name
    summary: Text = ""
    markets: list[MarketCode] = Field(default_factory=list)
    languages: list[LanguageTag] = Field(default_factory=list)
    source: str | None = None
    source_team: Code | None = None
    severity_answers: dict[Code, Code] = Field(default_factory=dict)
    high_visibility: bool = False
    shared_with: list[Code] = Field(default_factory=list)
    subjects: list[SubjectSpec] = Field(default_factory=list)


class NoticeSpec(_Strict):
    regulator: Name
    rule: RuleId
    reference: str = Field(default="", max_length=200)
    # For rules whose notice states its own deadline: that deadline, from the inject.
    due_in: Offset | None = None


class InquirySpec(_Strict):
    outlet: Name
    question: Text
    deadline_in: Offset | None = None


class SignalBatch(_Strict):
    language: LanguageTag
    count: int = Field(ge=1, le=10_000_000)
    samples: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(min_length=1)


class SignalsSpec(_Strict):
    market: MarketCode
    policy: Code
    source: str = "user_report"
    batches: list[SignalBatch] = Field(min_length=1)

    @property
    def count(self) -> int:
        return sum(batch.count for batch in self.batches)


class MessageSpec(_Strict):
    sender: Name = Field(alias="from")
    body: Text
    language: LanguageTag = "en"


class AskSpec(_Strict):
    """The request a message turns into: a partner request on a drill escalation."""

    escalation: Code
    team: Code
    kind: str
    question: Text
    due_in: Offset = "+1h"


class InjectSpec(_Strict):
    id: Code | None = None
    at: Offset
    kind: Literal[*INJECT_KINDS]  # type: ignore[valid-type]
    title: Name
    escalation: EscalationSpec | None = None
    notice: NoticeSpec | None = None
    inquiry: InquirySpec | None = None
    message: MessageSpec | None = None
    ask: AskSpec | None = None
    signals: SignalsSpec | None = None

    @property
    def offset(self) -> timedelta:
        return parse_offset(self.at)

    @property
    def creates_escalation(self) -> bool:
        return self.kind in ESCALATION_KINDS

    @model_validator(mode="after")
    def _blocks_fit_the_kind(self) -> InjectSpec:
        wanted = {
            "signals": {"signals"},
            "partner_message": {"message"},
            "regulator_notice": {"escalation", "notice"},
            "media_inquiry": {"escalation", "inquiry"},
            "escalation": {"escalation"},
        }[self.kind]
        optional = {"ask"} if self.kind == "partner_message" else set()
        blocks = {"escalation", "notice", "inquiry", "message", "ask", "signals"}
        given = {name for name in blocks if getattr(self, name) is not None}
        missing = sorted(wanted - given)
        if missing:
            raise ValueError(f"a {self.kind} inject needs its {' and '.join(missing)} block")
        extra = sorted(given - wanted - optional)
        if extra:
            raise ValueError(
                f"a {self.kind} inject takes no {', '.join(extra)} block; it takes "
                + ", ".join(sorted(wanted | optional))
            )
        return self


class DecisionSpec(_Strict):
    policy: Code
    action: Code
    scope: Text
    rationale: Text
    countries: list[MarketCode] = Field(default_factory=list)


class ResponseSpec(_Strict):
    at: Offset
    actor: Code = Field(alias="as")
    do: Literal[*RESPONSE_ACTIONS]  # type: ignore[valid-type]
    escalation: Code | None = None
    inject: Code | None = None
    to: str | None = None
    step: Code | None = None
    playbook: Code | None = None
    role: str | None = None
    market: str = ""
    reason: Text = ""
    body: Text = ""
    evidence: dict[Code, str] = Field(default_factory=dict)
    approve_as: Code | None = None
    decision: DecisionSpec | None = None
    audience: Code = "leadership"
    language: LanguageTag = "en"
    outcome: Literal["approve", "advise", "decline"] | None = None
    answer: Text = ""
    confirmed: list[Code] = Field(default_factory=list)
    pinned: bool = False

    @property
    def offset(self) -> timedelta:
        return parse_offset(self.at)

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> ResponseSpec:
        missing = [name for name in _NEEDS[self.do] if not getattr(self, name)]
        if missing:
            raise ValueError(f"'{self.do}' needs {' and '.join(missing)}")
        return self

    def describe(self) -> str:
        """``commander: complete step hash_media on first_upload``."""
        target = self.step or self.playbook or self.to or self.role or self.inject or ""
        if self.do == "send_sitrep":
            target = f"{self.audience} ({self.language})"
        where = f" on {self.escalation}" if self.escalation else ""
        return f"{self.actor}: {self.do.replace('_', ' ')} {target}".strip() + where


class ExpectSpec(_Strict):
    # The lowest overall score (percent) that passes.
    min_score: float | None = Field(default=None, ge=0, le=100)
    # Items that must be on time, by key (``<inject id>:<step id>``, ``<inject id>:acknowledge``,
    # ``<inject id>:first_action``, ``<inject id>:statutory``, ``sitrep:<n>``).
    on_time: list[str] = Field(default_factory=list)
    # A scripted response the services refused is a regression too.
    no_failed_responses: bool = True


class Scenario(_Strict):
    code: Code
    title: Name
    summary: Text = ""
    markets: list[MarketCode] = Field(min_length=1)
    languages: list[LanguageTag] = Field(min_length=1)
    # Where autoplay's simulated clock starts (with its zone): business-hours due times
    # depend on the weekday and hour, so a fixed start keeps the score reproducible.
    starts_at: datetime | None = None
    duration: Offset
    cast: dict[Code, CastMember] = Field(min_length=1)
    crisis: CrisisSpec
    injects: list[InjectSpec] = Field(min_length=1)
    responses: list[ResponseSpec] = Field(default_factory=list)
    expect: ExpectSpec = ExpectSpec()

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(
                f"{value.isoformat()} has no zone; write it with its offset, for example "
                "2026-11-17T10:00:00+09:00"
            )
        return value

    @property
    def length(self) -> timedelta:
        return parse_offset(self.duration)

    def inject(self, inject_id: str) -> InjectSpec | None:
        return next((i for i in self.injects if i.id == inject_id), None)


# ---------------------------------------------------------------- checks on the file alone


def scenario_problems(spec: Scenario) -> Iterator[tuple[Location, str]]:
    """What must hold across a scenario, beyond each value's shape."""
    length = spec.length
    if length <= timedelta(0):
        yield ("duration",), 'a drill lasts longer than nothing; give it, e.g. "+6h"'
    ids: dict[str, int] = {}
    for index, inject in enumerate(spec.injects):
        if inject.offset > length:
            yield (
                ("injects", index, "at"),
                f"{inject.at} is after the drill ends ({spec.duration}); lengthen duration",
            )
        if inject.id is None:
            continue
        if inject.id in ids:
            yield ("injects", index, "id"), f"inject id '{inject.id}' is given twice"
        else:
            ids[inject.id] = index
    escalation_ids = {i.id: i for i in spec.injects if i.id and i.creates_escalation}
    commander = spec.cast.get(spec.crisis.commander)
    if commander is None:
        yield ("crisis", "commander"), _unknown_cast(spec, spec.crisis.commander)
    elif commander.role not in ("lead", "admin"):
        yield (
            ("crisis", "commander"),
            f"'{spec.crisis.commander}' is a{'n' if commander.role[0] in 'aeiou' else ''} "
            f"{commander.role}; a drill is started and commanded by a lead or an admin",
        )
    if spec.crisis.opens_with is not None:
        opening = escalation_ids.get(spec.crisis.opens_with)
        if opening is None:
            yield (
                ("crisis", "opens_with"),
                f"'{spec.crisis.opens_with}' is not the id of an escalation, regulator_notice "
                "or media_inquiry inject",
            )
        elif opening.offset != timedelta(0):
            yield (
                ("crisis", "opens_with"),
                f"the crisis opens at the start, but '{opening.id}' comes at {opening.at}; "
                'move it to "+0m"',
            )
    for index, inject in enumerate(spec.injects):
        if inject.ask is not None:
            target = escalation_ids.get(inject.ask.escalation)
            if target is None:
                yield (
                    ("injects", index, "ask", "escalation"),
                    f"'{inject.ask.escalation}' is not the id of an inject that opens an "
                    "escalation",
                )
            elif target.offset > inject.offset:
                yield (
                    ("injects", index, "ask", "escalation"),
                    f"'{target.id}' arrives at {target.at}, after this message ({inject.at})",
                )
    asks = {i.id: i for i in spec.injects if i.id and i.ask is not None}
    for index, response in enumerate(spec.responses):
        where = ("responses", index)
        if response.offset > length:
            yield (*where, "at"), f"{response.at} is after the drill ends ({spec.duration})"
        if response.actor not in spec.cast:
            yield (*where, "as"), _unknown_cast(spec, response.actor)
        if response.approve_as is not None and response.approve_as not in spec.cast:
            yield (*where, "approve_as"), _unknown_cast(spec, response.approve_as)
        if response.do in _TO_IS_CAST and response.to and response.to not in spec.cast:
            yield (*where, "to"), _unknown_cast(spec, response.to)
        if response.escalation is not None:
            target = escalation_ids.get(response.escalation)
            if target is None:
                yield (
                    (*where, "escalation"),
                    f"'{response.escalation}' is not the id of an inject that opens an "
                    "escalation; use one of " + (", ".join(sorted(escalation_ids)) or "(none)"),
                )
            elif target.offset > response.offset:
                yield (
                    (*where, "at"),
                    f"'{target.id}' arrives at {target.at}; a response at {response.at} "
                    "would come before it",
                )
        if response.do == "answer_partner_request" and response.inject is not None:
            message = asks.get(response.inject)
            if message is None:
                yield (
                    (*where, "inject"),
                    f"'{response.inject}' is not a partner_message inject with an ask",
                )
            elif message.offset > response.offset:
                yield (*where, "at"), f"'{message.id}' arrives at {message.at}, after {response.at}"
    for index, key in enumerate(spec.expect.on_time):
        prefix = key.split(":", 1)[0]
        if ":" not in key or (prefix != "sitrep" and prefix not in escalation_ids):
            yield (
                ("expect", "on_time", index),
                f"'{key}' is not an item key; write <inject id>:<step id>, "
                "<inject id>:acknowledge, <inject id>:first_action, <inject id>:statutory "
                "or sitrep:<number>",
            )


def _unknown_cast(spec: Scenario, name: str) -> str:
    return f"'{name}' is not in the cast; use one of {', '.join(sorted(spec.cast))}"


# ---------------------------------------------------------------- checks against the catalog


def catalog_problems(spec: Scenario) -> Iterator[tuple[Location, str]]:
    """What the scenario names must exist in the catalog and the playbook library in force.
    Needs the database; call only once a catalog is active."""
    from watchfloor.coordination.models import RequestKind
    from watchfloor.crises.config import crisis_config
    from watchfloor.crises.models import RoleKind
    from watchfloor.escalations.models import EscalationType, SourceKind, Status, Subject
    from watchfloor.markets.models import Market, StatutoryRule
    from watchfloor.people.models import Team
    from watchfloor.playbooks.selectors import active_playbooks
    from watchfloor.policy.models import EnforcementAction, Policy

    types = set(EscalationType.objects.values_list("code", flat=True))
    markets = set(Market.objects.values_list("code", flat=True))
    rules = set(StatutoryRule.objects.values_list("code", flat=True))
    policies = set(Policy.objects.values_list("code", flat=True))
    actions = set(EnforcementAction.objects.values_list("code", flat=True))
    teams = dict(Team.objects.values_list("code", "kind"))
    partner_teams = {code for code, kind in teams.items() if kind == Team.Kind.PARTNER}
    playbooks = active_playbooks()
    codes = [(p.code, s) for p, s in playbooks]

    def market_problems(codes: Iterable[str], where: Location) -> Iterator[tuple[Location, str]]:
        for i, code in enumerate(codes):
            if code not in markets:
                yield (*where, i), f"unknown market '{code}'"

    yield from market_problems(spec.markets, ("markets",))
    for name, member in spec.cast.items():
        if member.team is not None and member.team not in teams:
            yield ("cast", name, "team"), f"unknown team '{member.team}'"
    steps_by_inject: dict[str, set[str]] = {}
    roles_by_inject: dict[str, set[str]] = {}
    for index, inject in enumerate(spec.injects):
        where: Location = ("injects", index)
        if inject.escalation is not None:
            esc = inject.escalation
            type_code = esc.type or DEFAULT_TYPES.get(inject.kind)
            if type_code is None:
                yield (*where, "escalation", "type"), "say which escalation type it is"
            elif type_code not in types:
                yield (*where, "escalation", "type"), f"unknown escalation type '{type_code}'"
            yield from market_problems(esc.markets, (*where, "escalation", "markets"))
            source = esc.source or DEFAULT_SOURCES.get(inject.kind, "internal")
            if source not in SourceKind.values:
                yield (
                    (*where, "escalation", "source"),
                    f"unknown source '{source}'; use one of {', '.join(SourceKind.values)}",
                )
            for i, team in enumerate(esc.shared_with):
                if team not in partner_teams:
                    yield (*where, "escalation", "shared_with", i), f"unknown partner team '{team}'"
            for i, subject in enumerate(esc.subjects):
                if subject.kind not in Subject.Kind.values:
                    yield (
                        (*where, "escalation", "subjects", i, "kind"),
                        f"unknown subject kind '{subject.kind}'; use one of "
                        + ", ".join(Subject.Kind.values),
                    )
            if inject.id and type_code:
                fitting = [
                    s
                    for _, s in playbooks
                    if not s.applies_to.escalation_types
                    or type_code in s.applies_to.escalation_types
                ]
                steps_by_inject[inject.id] = {st.id for s in fitting for st in s.steps}
                roles_by_inject[inject.id] = {r.code for s in fitting for r in s.roles}
        if inject.notice is not None and inject.notice.rule not in rules:
            yield (*where, "notice", "rule"), f"unknown statutory rule '{inject.notice.rule}'"
        if inject.signals is not None:
            if inject.signals.market not in markets:
                yield (*where, "signals", "market"), f"unknown market '{inject.signals.market}'"
            if inject.signals.policy not in policies:
                yield (*where, "signals", "policy"), f"unknown policy '{inject.signals.policy}'"
        if inject.ask is not None:
            if inject.ask.team not in partner_teams:
                yield (*where, "ask", "team"), f"unknown partner team '{inject.ask.team}'"
            if inject.ask.kind not in RequestKind.values:
                yield (
                    (*where, "ask", "kind"),
                    f"unknown request kind '{inject.ask.kind}'; use one of "
                    + ", ".join(RequestKind.values),
                )
    audiences = {a.code for a in crisis_config().settings.sitreps.audiences}
    for index, response in enumerate(spec.responses):
        where = ("responses", index)
        known_steps = steps_by_inject.get(response.escalation or "", set())
        if response.step and response.escalation and response.step not in known_steps:
            yield (
                (*where, "step"),
                f"no playbook for '{response.escalation}' has a step '{response.step}'; "
                "its steps are " + (", ".join(sorted(known_steps)) or "(none)"),
            )
        if response.do == "assign_playbook_role" and response.role not in roles_by_inject.get(
            response.escalation or "", set()
        ):
            yield (
                (*where, "role"),
                f"no playbook for '{response.escalation}' has a role '{response.role}'",
            )
        if response.playbook is not None and response.playbook not in {c for c, _ in codes}:
            yield (*where, "playbook"), f"no active playbook '{response.playbook}'"
        if response.do == "hand_over_role" and response.role not in RoleKind.values:
            yield (
                (*where, "role"),
                f"unknown crisis role '{response.role}'; use one of {', '.join(RoleKind.values)}",
            )
        if response.do == "transition" and response.to not in Status.values:
            yield (
                (*where, "to"),
                f"unknown status '{response.to}'; use one of {', '.join(Status.values)}",
            )
        if response.do == "change_level" and response.to not in (
            "monitoring",
            "incident",
            "crisis_protocol",
            "stand_down",
        ):
            yield (*where, "to"), f"unknown level '{response.to}'"
        if response.do == "send_sitrep" and response.audience not in audiences:
            yield (
                (*where, "audience"),
                f"unknown audience '{response.audience}'; use one of "
                + ", ".join(sorted(audiences)),
            )
        if response.decision is not None:
            if response.decision.policy not in policies:
                yield (*where, "decision", "policy"), f"unknown policy '{response.decision.policy}'"
            if response.decision.action not in actions:
                yield (
                    (*where, "decision", "action"),
                    f"unknown enforcement action '{response.decision.action}'",
                )
    for index, key in enumerate(spec.expect.on_time):
        prefix, _, item = key.partition(":")
        if prefix in steps_by_inject and item not in (
            steps_by_inject[prefix] | {"acknowledge", "first_action", "statutory"}
        ):
            yield ("expect", "on_time", index), f"'{key}': '{item}' is no step or clock of {prefix}"


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedScenario:
    spec: Scenario
    # SHA-256 of the file as read: a drill run keeps it beside its snapshot.
    digest: str
    path: Path

    @property
    def code(self) -> str:
        return self.spec.code


class ScenarioError(ConfigFileError):
    """A scenario cannot be used."""

    code = "invalid_scenario"
    subject = "the drill scenarios"
    verb = "have"


def scenarios_directory() -> Path:
    catalog = Path(settings.WATCHFLOOR_CATALOG_DIR) / SCENARIOS_DIR
    return catalog if catalog.is_dir() and any(catalog.glob("*.yaml")) else PACKAGE_SCENARIOS


def scenario_paths(directory: Path | None = None) -> list[Path]:
    directory = directory or scenarios_directory()
    return sorted(directory.glob("*.yaml"))


def read_scenario(path: Path, *, check_catalog: bool = False) -> LoadedScenario:
    """Read and check one scenario file (raises :class:`ScenarioError`)."""
    loaded, problems = _read(Path(path), check_catalog=check_catalog)
    if problems or loaded is None:
        raise ScenarioError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return loaded


def read_scenarios(
    paths: Iterable[Path], *, check_catalog: bool = False
) -> tuple[list[LoadedScenario], list[Problem]]:
    """Every file read, and every problem found across them (codes must be unique)."""
    loaded: list[LoadedScenario] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in paths:
        scenario, found = _read(Path(path), check_catalog=check_catalog)
        problems.extend(found)
        if scenario is None or found:
            continue
        if scenario.code in seen:
            problems.append(
                Problem(
                    path.name,
                    "code",
                    None,
                    f"code '{scenario.code}' is also the code of {seen[scenario.code].name}",
                )
            )
            continue
        seen[scenario.code] = path
        loaded.append(scenario)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return loaded, problems


def find_scenario(code_or_path: str, *, directory: Path | None = None) -> LoadedScenario:
    """A scenario by its code (in the scenarios directory) or by its file's path."""
    candidate = Path(code_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise InvalidInput(f"no such file: {candidate}", field="scenario")
        return read_scenario(candidate, check_catalog=True)
    for path in scenario_paths(directory):
        if path.stem == code_or_path:
            return read_scenario(path, check_catalog=True)
    known = ", ".join(p.stem for p in scenario_paths(directory)) or "(none)"
    raise InvalidInput(f"no drill scenario '{code_or_path}'; use one of {known}", field="scenario")


def _read(path: Path, *, check_catalog: bool) -> tuple[LoadedScenario | None, list[Problem]]:
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, "", None, f"cannot be read: {exc.strerror or exc}")]
    file: YamlFile = parse_yaml_file(name, raw)
    problems = list(file.problems)
    if not file.readable:
        return None, problems
    if file.data is None:
        return None, [*problems, file.problem_at((), "the file is empty")]
    try:
        spec = Scenario.model_validate(file.data)
    except ValidationError as exc:
        return None, [*problems, *file.schema_problems(exc, Scenario)]
    problems.extend(file.problem_at(where, message) for where, message in scenario_problems(spec))
    if spec.code != path.stem:
        problems.append(
            file.problem_at(
                ("code",),
                f"code '{spec.code}' differs from the file name; name the file "
                f"{spec.code}.yaml or change the code to '{path.stem}'",
            )
        )
    if check_catalog and not problems:
        problems.extend(
            file.problem_at(where, message) for where, message in catalog_problems(spec)
        )
    if problems:
        return None, problems
    return LoadedScenario(spec=spec, digest=hashlib.sha256(raw).hexdigest(), path=path), []
