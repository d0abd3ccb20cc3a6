"""A rotation as an iCalendar file (RFC 5545): one event per stretch of duty.

Events are in UTC, so a calendar shows each in its reader's own zone without needing
the rotation's zones; the description says when the shift starts in its own zone. Each
event's UID is stable for the same stretch, so re-importing the file updates rather than
duplicates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from watchfloor.core.errors import InvalidInput
from watchfloor.people.models import Rotation, User
from watchfloor.people.rotas import Segment, segments

PRODUCT_ID = "-//Watchfloor//On-call rota//EN"
DEFAULT_WEEKS_BEFORE = 1
DEFAULT_WEEKS_AHEAD = 8
MAX_WEEKS = 53


@dataclass(frozen=True)
class ExportWindow:
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def around(cls, now: datetime, *, weeks: int = DEFAULT_WEEKS_AHEAD) -> ExportWindow:
        """From the start of the UTC day a week before ``now``, for ``weeks`` weeks ahead."""
        day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls.starting(day_start - timedelta(weeks=DEFAULT_WEEKS_BEFORE), weeks=weeks + 1)

    @classmethod
    def starting(cls, starts_at: datetime, *, weeks: int) -> ExportWindow:
        if not 1 <= weeks <= MAX_WEEKS:
            raise InvalidInput(f"weeks must be between 1 and {MAX_WEEKS}", field="weeks")
        if starts_at.tzinfo is None:
            raise InvalidInput("the start of the export needs a zone", field="from")
        return cls(starts_at.astimezone(UTC), starts_at.astimezone(UTC) + timedelta(weeks=weeks))


def rotation_events(rotation: Rotation, plan_segments: list[Segment[User]]) -> list[Event]:
    events = []
    for segment in plan_segments:
        duty = segment.duty
        user = duty.member
        shift = f" ({duty.shift.label})" if duty.shift.label else ""
        event = Event()
        event.add("uid", _uid(rotation, segment))
        event.add("summary", f"{rotation.team.name} on call{shift}: {user.display_name}")
        event.add("dtstart", segment.starts_at)
        event.add("dtend", segment.ends_at)
        event.add("x-watchfloor-username", user.username)
        event.add("x-watchfloor-rotation", rotation.code)
        lines = [
            f"Rotation: {rotation.name} ({rotation.code})",
            f"Covers: {', '.join(rotation.markets) if rotation.markets else 'every market'}",
            f"Shift starts at {duty.shift.starts:%H:%M} {duty.shift.zone}",
            f"{user.display_name} works in {user.time_zone}",
        ]
        if duty.override is not None:
            lines.append(
                f"Override, instead of {duty.scheduled.display_name}: {duty.override.reason}"
            )
        event.add("description", "\n".join(lines))
        if duty.override is not None:
            event.add("categories", ["override"])
        events.append(event)
    return events


def rotation_calendar(
    rotation: Rotation, *, plan, window: ExportWindow, generated_at: datetime
) -> bytes:
    """The rotation's duty within ``window`` as an .ics file."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"On call: {rotation.name}")
    for event in rotation_events(rotation, segments(plan, window.starts_at, window.ends_at)):
        event.add("dtstamp", generated_at.astimezone(UTC))
        calendar.add_component(event)
    return calendar.to_ical()


def _uid(rotation: Rotation, segment: Segment[User]) -> str:
    override = f"-o{segment.duty.override.key}" if segment.duty.override else ""
    return (
        f"{rotation.code}-{segment.duty.shift_index}-{segment.duty.shift_started_at:%Y%m%dT%H%M%SZ}"
        f"-{segment.duty.member.username}{override}@watchfloor"
    )
