"""When a step falls due: offsets in elapsed time, business days or business hours.

Everything is computed in UTC from the anchors it is given (which come from
``core.clock`` and the escalation's clocks). Elapsed time is added in UTC, so a
one-hour step is one real hour across a daylight-saving change; business time is
counted on the wall clock of the owner team's zone.

Business hours are 09:00–18:00, Monday to Friday. Public holidays are not counted yet:
markets carry no holiday calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from watchfloor.severity.rubric import Target

WORKDAY_START = time(9, 0)
WORKDAY_END = time(18, 0)
WORKDAY = timedelta(hours=9)
_BUSINESS_HOURS = re.compile(r"^(?P<n>\d+) business hours?$")


@dataclass(frozen=True)
class Offset:
    """An elapsed duration (via :class:`Target`), N business days, or N business hours."""

    text: str
    target: Target | None = None
    business_hours: int | None = None

    @property
    def is_zero(self) -> bool:
        if self.business_hours is not None:
            return self.business_hours == 0
        assert self.target is not None
        return self.target.duration == timedelta() or self.target.business_days == 0

    def add_to(self, start: datetime, zone: ZoneInfo) -> datetime:
        if self.business_hours is not None:
            return add_business_hours(start, self.business_hours, zone)
        assert self.target is not None
        return self.target.due_from(start, zone).astimezone(UTC)

    def subtract_from(self, end: datetime) -> datetime:
        """Only elapsed durations count backwards (the schema allows nothing else)."""
        assert self.target is not None and self.target.duration is not None
        return end.astimezone(UTC) - self.target.duration

    def longest(self) -> timedelta:
        """The most elapsed time it can take, whatever moment it starts from."""
        return max(self._spans())

    def shortest(self) -> timedelta:
        return min(self._spans())

    def _spans(self) -> list[timedelta]:
        if self.target is not None and self.target.duration is not None:
            return [self.target.duration]
        # Business time depends on where in the week it starts: try every quarter hour of
        # one week (in UTC; a zone's wall clock gives the same spans away from DST).
        monday = datetime(2026, 1, 5, tzinfo=UTC)
        zone = ZoneInfo("UTC")
        starts = [monday + timedelta(minutes=15 * n) for n in range(7 * 24 * 4)]
        return [self.add_to(start, zone) - start for start in starts]

    def describe(self) -> str:
        if self.business_hours is not None:
            count = self.business_hours
            return f"{count} business hour{'s' if count != 1 else ''}"
        assert self.target is not None
        return self.target.describe()


def parse_offset(text: str) -> Offset:
    """``PT30M``, ``P1D``, ``2 business days`` or ``4 business hours``."""
    clean = (text or "").strip()
    hours = _BUSINESS_HOURS.match(clean)
    if hours:
        return Offset(text=clean, business_hours=int(hours.group("n")))
    try:
        return Offset(text=clean, target=Target.parse(clean))
    except ValueError:
        raise ValueError(
            f"'{text}' is not an offset: write an ISO 8601 duration (PT30M, PT4H, P1D), "
            "'N business days' or 'N business hours'"
        ) from None


def add_business_hours(start: datetime, hours: int, zone: ZoneInfo) -> datetime:
    """``hours`` working hours after ``start``, counting 09:00–18:00 Monday to Friday in
    ``zone``. Work that would run past 18:00 carries on at 09:00 the next working day."""
    local = start.astimezone(zone).replace(tzinfo=None)
    remaining = timedelta(hours=hours)
    cursor = _next_working_moment(local)
    while True:
        closing = datetime.combine(cursor.date(), WORKDAY_END)
        available = closing - cursor
        if remaining <= available:
            return (cursor + remaining).replace(tzinfo=zone).astimezone(UTC)
        remaining -= available
        cursor = _next_working_moment(closing)


def _next_working_moment(local: datetime) -> datetime:
    """``local`` itself when inside working hours, else the next opening (wall time)."""
    if local.weekday() < 5 and WORKDAY_START <= local.time() < WORKDAY_END:
        return local
    day = local.date()
    if local.weekday() < 5 and local.time() < WORKDAY_START:
        return datetime.combine(day, WORKDAY_START)
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, WORKDAY_START)
