"""The on-call API: who is on call, the rotations, and overrides. Thin handlers over
``people.oncall``, ``people.selectors`` and ``people.services``."""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.people import rota_changes, selectors
from watchfloor.people.auth import request_actor
from watchfloor.people.oncall import OnCallEntry, TeamOnCall, on_call
from watchfloor.people.rota_changes import OVERRIDE_REASON_MAX
from watchfloor.people.rotafile import weekday_names
from watchfloor.people.services import get_user_by_username
from watchfloor.web.api import (
    READ_ERRORS,
    WRITE_ERRORS,
    Code,
    Id,
    Input,
    Moment,
    PersonOut,
    Username,
    UtcTime,
    text,
)

if TYPE_CHECKING:
    from watchfloor.people.models import RotaOverride, Rotation, User

router = Router(tags=["on call"])


RotationCode = Annotated[str, StringConstraints(max_length=80)]


# ---------------------------------------------------------------- schemas


class OnCallQuery(Schema):
    team: Code = Field("", description="a team code, e.g. legal; empty for every team")
    market: Code = Field("", description="an ISO market code, e.g. JP; empty for any market")
    at: Moment | None = Field(None, description="RFC 3339 with offset; default now")


class OnCallPersonOut(Schema):
    username: str
    display_name: str
    email: str
    time_zone: str
    local_time: str = Field(description="the time where they are, ISO 8601 with offset")
    languages: list[str]
    rotation: str
    rotation_name: str
    shift: str
    covers: list[str] = Field(description="market codes; empty for every market")
    since: UtcTime | None
    until: UtcTime | None
    instead_of: PersonOut | None = Field(description="who the rotation says, when overridden")
    override_reason: str

    @classmethod
    def build(cls, entry: OnCallEntry, *, at: datetime) -> OnCallPersonOut:
        user = entry.user
        return cls(
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            time_zone=user.time_zone,
            local_time=at.astimezone(ZoneInfo(user.time_zone)).isoformat(timespec="minutes"),
            languages=list(user.languages or []),
            rotation=entry.rotation.code,
            rotation_name=entry.rotation.name,
            shift=entry.shift_label,
            covers=list(entry.rotation.markets),
            since=entry.since,
            until=entry.until,
            instead_of=PersonOut.build(entry.scheduled) if entry.is_override else None,
            override_reason=entry.override_reason,
        )


class TeamOnCallOut(Schema):
    team: str
    team_name: str
    basis: str = Field(description="which rotations answered, and why")
    within_working_hours: bool | None
    people: list[OnCallPersonOut]

    @classmethod
    def build(cls, answer: TeamOnCall, *, at: datetime) -> TeamOnCallOut:
        return cls(
            team=answer.team.code,
            team_name=answer.team.name,
            basis=answer.basis,
            within_working_hours=answer.within_working_hours,
            people=[OnCallPersonOut.build(entry, at=at) for entry in answer.entries],
        )


class OnCallOut(Schema):
    at: UtcTime
    market: str | None
    teams: list[TeamOnCallOut]


class ShiftOut(Schema):
    label: str
    time_zone: str
    starts: time = Field(description="local wall-clock time the shift takes over")
    days: str
    members: list[PersonOut]


class RotationOut(Schema):
    code: str
    name: str
    team: str
    kind: str
    start_date: str
    region: str
    covers: list[str]
    is_active: bool
    shifts: list[ShiftOut]

    @classmethod
    def build(cls, rotation: Rotation) -> RotationOut:
        return cls(
            code=rotation.code,
            name=rotation.name,
            team=rotation.team.code,
            kind=rotation.kind,
            start_date=rotation.start_date.isoformat(),
            region=rotation.region_code,
            covers=list(rotation.markets),
            is_active=rotation.is_active,
            shifts=[
                ShiftOut(
                    label=shift.label,
                    time_zone=shift.time_zone,
                    starts=shift.starts,
                    days=weekday_names(shift.days),
                    members=[PersonOut.build(m.user) for m in shift.members.all()],
                )
                for shift in rotation.shifts.all()
            ],
        )


class OverrideIn(Input):
    user: Username = Field(description="who is on call instead")
    replaces: Username | None = Field(None, description="whom they stand in for; null: anyone")
    starts_at: Moment
    ends_at: Moment
    reason: Annotated[str, text(OVERRIDE_REASON_MAX, min_length=1)]


class OverrideOut(Schema):
    id: int
    rotation: str
    user: PersonOut
    replaces: PersonOut | None
    starts_at: UtcTime
    ends_at: UtcTime
    reason: str
    cancelled_at: UtcTime | None

    @classmethod
    def build(cls, override: RotaOverride) -> OverrideOut:
        return cls(
            id=override.pk,
            rotation=override.rotation.code,
            user=PersonOut.build(override.user),
            replaces=PersonOut.build(override.replaces),
            starts_at=override.starts_at,
            ends_at=override.ends_at,
            reason=override.reason,
            cancelled_at=override.cancelled_at,
        )


# ---------------------------------------------------------------- handlers


@router.get("/oncall", response={200: OnCallOut, **READ_ERRORS})
def who_is_on_call(request: HttpRequest, filters: Query[OnCallQuery]):
    """Who is on call for a team (or every team) in a market, now or at ``at``. Asked
    about a market, the rotations that cover it answer before those for every market."""
    at = filters.at or clock.now()
    answers = on_call(team_code=filters.team or None, market=filters.market or None, at=at)
    return OnCallOut(
        at=at,
        market=filters.market.strip().upper() or None,
        teams=[TeamOnCallOut.build(answer, at=at) for answer in answers],
    )


@router.get("/rotations", response={200: list[RotationOut], **READ_ERRORS})
def list_rotations(request: HttpRequest, team: Code = ""):
    """The rotations in force (loaded from the rota file), with shifts and members."""
    rows = selectors.rotations(team_codes=[team] if team else None)
    return [RotationOut.build(rotation) for rotation in rows]


@router.post("/rotations/{code}/overrides", response={201: OverrideOut, **WRITE_ERRORS})
def create_override(request: HttpRequest, code: Path[RotationCode], payload: OverrideIn):
    """Put someone on call instead of a member (``replaces``) or of whoever is due, for a
    period. Leads, admins and the rotation's own team may."""
    rotation = selectors.get_rotation(code)
    override = rota_changes.create_rota_override(
        rotation=rotation,
        user=_person(payload.user, field="user"),
        replaces=_person(payload.replaces, field="replaces") if payload.replaces else None,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        reason=payload.reason,
        actor=request_actor(request),
    )
    return Status(201, OverrideOut.build(override))


@router.post(
    "/rotations/{code}/overrides/{override_id}/cancel",
    response={200: OverrideOut, **WRITE_ERRORS},
)
def cancel_override(request: HttpRequest, code: Path[RotationCode], override_id: Path[Id]):
    rotation = selectors.get_rotation(code)
    override = rota_changes.cancel_rota_override(
        override=selectors.get_override(rotation=rotation, override_id=override_id),
        actor=request_actor(request),
    )
    return OverrideOut.build(override)


def _person(username: str, *, field: str) -> User:
    try:
        return get_user_by_username(username)
    except NotFound as exc:
        raise InvalidInput(exc.message, field=field) from exc
