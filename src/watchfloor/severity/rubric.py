"""The severity rubric: its schema (config as code) and the engine that applies it.

Score = Σ weight × points of each factor's answer. The score falls into a band
(SEV4 … SEV0 by ``min_score``); floor rules may then raise the severity, never lower
it. Floors test factors with "at least this answer", so the whole function is
monotonic: a worse answer on any factor never yields a milder severity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchfloor.core.errors import InvalidInput

_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_BUSINESS_DAYS = re.compile(r"^(?P<n>\d+) business days?$")


def parse_iso_duration(text: str) -> timedelta:
    """ISO 8601 durations as catalogs write them (PT15M, PT24H, P3D, P1W)."""
    match = _ISO_DURATION.match(text.strip()) if text else None
    if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT15M, PT24H or P3D")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)


def add_business_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """``days`` working days (Mon–Fri in ``zone``) after ``start``, at the same wall time.

    Wall time, not elapsed time: one business day from 18:00 Friday is 18:00 Monday,
    even across a daylight-saving change in between.
    """
    local = start.astimezone(zone)
    counted = 0
    day = local
    while counted < days:
        day = day + timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    wall = datetime(
        day.year,
        day.month,
        day.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
        tzinfo=zone,
    )
    return wall.astimezone(start.tzinfo)


@dataclass(frozen=True)
class Target:
    """A response target: an elapsed duration, or a number of business days."""

    text: str
    duration: timedelta | None = None
    business_days: int | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        business = _BUSINESS_DAYS.match(text.strip())
        if business:
            return cls(text=text, business_days=int(business.group("n")))
        return cls(text=text, duration=parse_iso_duration(text))

    def due_from(self, start: datetime, zone: ZoneInfo) -> datetime:
        if self.business_days is not None:
            return add_business_days(start, self.business_days, zone)
        assert self.duration is not None
        # Elapsed time: add in UTC, never in a zone's wall time (DST would stretch it).
        return (start.astimezone(UTC) + self.duration).astimezone(start.tzinfo)

    def describe(self) -> str:
        if self.business_days is not None:
            return f"{self.business_days} business day{'s' if self.business_days != 1 else ''}"
        assert self.duration is not None
        return describe_duration(self.duration)


def describe_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    # Up to two days reads better in hours ("24 hours", as the law says it).
    if minutes % (60 * 24) == 0 and minutes > 60 * 48:
        days = minutes // (60 * 24)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} min"


def describe_delay(delta: timedelta) -> str:
    """When something happens, counted from a start: "at once", "after 10 min"."""
    return "at once" if delta <= timedelta(0) else f"after {describe_duration(delta)}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaTargets(_Strict):
    acknowledge: str
    first_action: str
    resolve: str

    @field_validator("acknowledge", "first_action", "resolve")
    @classmethod
    def _parse(cls, value: str) -> str:
        Target.parse(value)
        return value

    def target(self, kind: str) -> Target:
        return Target.parse(getattr(self, kind))


class SeverityLevel(_Strict):
    level: int = Field(ge=0, le=9)
    name: str
    label: str
    min_score: int = Field(ge=0)
    sla: SlaTargets
    description: str = ""


class FactorOption(_Strict):
    value: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    points: int = Field(ge=0)


class Factor(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    question: str
    weight: int = Field(ge=1, le=100)
    options: list[FactorOption] = Field(min_length=2)

    @model_validator(mode="after")
    def _ordered(self) -> Factor:
        points = [option.points for option in self.options]
        if points != sorted(points) or len(set(points)) != len(points):
            raise ValueError(
                f"factor '{self.code}': options must be listed from mildest to worst "
                f"with strictly increasing points (got {points})"
            )
        values = [option.value for option in self.options]
        if len(set(values)) != len(values):
            raise ValueError(f"factor '{self.code}': option values must be unique")
        return self

    def option(self, value: str) -> FactorOption:
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(value)

    def rank(self, value: str) -> int:
        return [option.value for option in self.options].index(value)


class FloorCondition(_Strict):
    escalation_types: list[str] = Field(default_factory=list)
    # factor code → the mildest answer that fires the floor ("at least this bad").
    factors_at_least: dict[str, str] = Field(default_factory=dict)
    # True: the escalation carries a statutory clock (a statutory rule was set on it),
    # whatever the rubric's answers say.
    statutory_trigger: bool = False


class FloorRule(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    reason: str
    min_severity: int = Field(ge=0)
    when: FloorCondition

    @model_validator(mode="after")
    def _has_condition(self) -> FloorRule:
        when = self.when
        if not when.escalation_types and not when.factors_at_least and not when.statutory_trigger:
            raise ValueError(f"floor '{self.code}' needs at least one condition under 'when'")
        return self


class Rubric(_Strict):
    version: str
    severities: list[SeverityLevel] = Field(min_length=2)
    factors: list[Factor] = Field(min_length=1)
    floors: list[FloorRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        levels = [s.level for s in self.severities]
        if levels != list(range(len(levels))):
            raise ValueError(
                f"severities must be listed SEV0 first with levels 0..n (got {levels})"
            )
        scores = [s.min_score for s in self.severities]
        if any(a <= b for a, b in pairwise(scores)):
            raise ValueError(
                f"min_score must fall strictly from SEV0 to the mildest severity (got {scores})"
            )
        if scores[-1] != 0:
            raise ValueError("the mildest severity must have min_score 0 so every score has a band")
        codes = {f.code for f in self.factors}
        if len(codes) != len(self.factors):
            raise ValueError("factor codes must be unique")
        for floor in self.floors:
            if floor.min_severity > levels[-1]:
                raise ValueError(
                    f"floor '{floor.code}': min_severity {floor.min_severity} does not exist"
                )
            for code, value in floor.when.factors_at_least.items():
                factor = next((f for f in self.factors if f.code == code), None)
                if factor is None:
                    raise ValueError(f"floor '{floor.code}' names unknown factor '{code}'")
                if value not in [o.value for o in factor.options]:
                    raise ValueError(
                        f"floor '{floor.code}': '{value}' is not an answer of factor '{code}'"
                    )
        return self

    @property
    def mildest_level(self) -> int:
        return self.severities[-1].level

    def level(self, severity: int) -> SeverityLevel:
        return self.severities[severity]

    def factor(self, code: str) -> Factor:
        for factor in self.factors:
            if factor.code == code:
                return factor
        raise KeyError(code)


@dataclass(frozen=True)
class Contribution:
    factor: str
    label: str
    answer: str
    answer_label: str
    answered: bool
    points: int
    weight: int
    contribution: int


@dataclass(frozen=True)
class StatutoryTrigger:
    """A statutory clock set on the escalation, as the rubric sees it.

    ``min_severity`` is the rule's own floor (a removal order due in hours cannot wait in
    the queue), or None where the rule has none.
    """

    rule: str
    min_severity: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class FiredFloor:
    code: str
    reason: str
    min_severity: int


@dataclass(frozen=True)
class Assessment:
    severity: int
    band_severity: int
    score: int
    max_score: int
    rubric_version: str
    contributions: list[Contribution] = field(default_factory=list)
    floors: list[FiredFloor] = field(default_factory=list)

    @property
    def summary(self) -> str:
        text = f"Score {self.score} of {self.max_score} falls in the SEV{self.band_severity} band"
        raising = [f for f in self.floors if f.min_severity < self.band_severity]
        if raising:
            strongest = min(raising, key=lambda f: f.min_severity)
            text += f"; floor rule '{strongest.code}' raises it to SEV{self.severity}"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary
        return data


def validate_answers(rubric: Rubric, answers: dict[str, Any]) -> dict[str, str]:
    """Check each answer against the rubric; errors name the factor and the allowed answers."""
    if not isinstance(answers, dict):
        raise InvalidInput(
            "rubric answers must be an object of factor → answer", field="rubric_answers"
        )
    clean: dict[str, str] = {}
    known = {f.code: f for f in rubric.factors}
    for code, value in answers.items():
        factor = known.get(code)
        if factor is None:
            raise InvalidInput(
                f"unknown rubric factor '{code}'; the factors are {', '.join(known)}",
                field=f"rubric_answers.{code}",
            )
        if value in (None, ""):
            continue
        allowed = [o.value for o in factor.options]
        if value not in allowed:
            raise InvalidInput(
                f"'{value}' is not an answer for '{code}'; choose one of {', '.join(allowed)}",
                field=f"rubric_answers.{code}",
            )
        clean[code] = value
    return clean


def evaluate(
    rubric: Rubric,
    *,
    answers: dict[str, Any],
    escalation_type: str | None,
    statutory_triggers: Sequence[StatutoryTrigger] = (),
) -> Assessment:
    """Apply the rubric. Unanswered factors count as their mildest answer, and say so.

    A statutory trigger raises the severity by itself: it fires the floors that ask for
    one, and its rule's own floor, whatever the answers (a notice filed with the rubric
    left "not assessed" is still a notice).
    """
    clean = validate_answers(rubric, answers)
    contributions = []
    score = 0
    max_score = 0
    for factor in rubric.factors:
        answered = factor.code in clean
        option = factor.option(clean[factor.code]) if answered else factor.options[0]
        contribution = factor.weight * option.points
        score += contribution
        max_score += factor.weight * factor.options[-1].points
        contributions.append(
            Contribution(
                factor=factor.code,
                label=factor.label,
                answer=option.value,
                answer_label=option.label,
                answered=answered,
                points=option.points,
                weight=factor.weight,
                contribution=contribution,
            )
        )
    band = next(s.level for s in rubric.severities if score >= s.min_score)
    fired = []
    for floor in rubric.floors:
        if floor.when.escalation_types and escalation_type not in floor.when.escalation_types:
            continue
        if floor.when.statutory_trigger and not statutory_triggers:
            continue
        if all(
            code in clean
            and rubric.factor(code).rank(clean[code]) >= rubric.factor(code).rank(least)
            for code, least in floor.when.factors_at_least.items()
        ):
            fired.append(FiredFloor(floor.code, floor.reason, floor.min_severity))
    for trigger in statutory_triggers:
        if trigger.min_severity is not None:
            reason = trigger.reason or f"The statutory rule {trigger.rule} sets its own floor."
            fired.append(FiredFloor(trigger.rule, reason, trigger.min_severity))
    severity = min([band, *(f.min_severity for f in fired)])
    return Assessment(
        severity=severity,
        band_severity=band,
        score=score,
        max_score=max_score,
        rubric_version=rubric.version,
        contributions=contributions,
        floors=fired,
    )
