"""The drill scenario format: a timeline of injected events at offsets, the crisis they
open, scripted responses for autoplay and what the run is expected to score.

The pydantic models here check each value's shape; what must hold across a file, and
against the catalog in force, is in ``scenario_checks``; reading files (with every
problem's file and line) is in ``scenario_files``. See docs/drills.md.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from watchfloor.catalog.values import Code, LanguageTag, MarketCode, Name, RuleId

_OFFSET = re.compile(r"^\+?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")

# What an inject can be, and what each one does when the drill clock reaches it.
InjectKind = Literal[
    "signals",  # a batch of reports: counted on the drill, never ingested (docs/drills.md)
    "partner_message",  # a message from outside or a partner team; may ask a team something
    "regulator_notice",  # a drill escalation with its statutory clock
    "media_inquiry",  # a drill escalation of type media_inquiry
    "escalation",  # any other drill escalation
]
INJECT_KINDS: tuple[InjectKind, ...] = get_args(InjectKind)
# How each kind of inject reads on the drill pages.
KIND_LABELS = {
    "signals": "Signals",
    "partner_message": "Message",
    "regulator_notice": "Regulator notice",
    "media_inquiry": "Media inquiry",
    "escalation": "Escalation",
}
ESCALATION_KINDS = frozenset({"regulator_notice", "media_inquiry", "escalation"})
DEFAULT_TYPES = {"regulator_notice": "regulator_notice", "media_inquiry": "media_inquiry"}
DEFAULT_SOURCES = {"regulator_notice": "regulator", "media_inquiry": "media"}

# What a scripted response can do; each one calls the service a person would.
ResponseAction = Literal[
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
]
RESPONSE_ACTIONS: tuple[ResponseAction, ...] = get_args(ResponseAction)
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
# The actions whose ``to`` names a member of the cast.
TO_IS_CAST = frozenset({"assign", "assign_playbook_role", "hand_over_role"})


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
    kind: InjectKind
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
    do: ResponseAction
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
