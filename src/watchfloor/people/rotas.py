"""On-call arithmetic: whom a rotation puts on call at an instant, and its schedule over a
window. Pure functions over plain values; ``people.selectors`` builds the plans from the
database and ``people.oncall`` asks the questions.

The rules, which the rota file's documentation repeats (docs/coordination.md):

- A shift takes over at its wall-clock time in its own zone, on each of its days, and
  runs until the next shift of the rotation takes over. With APAC at 09:00 Asia/Tokyo,
  EMEA at 09:00 Europe/London and the Americas at 09:00 America/New_York, the shifts
  stretch and shrink as London and New York change their clocks while Tokyo does not.
- Weeks are counted from the rotation's ``start_date`` (week 0). A shift belongs to the
  week of the local date it starts on, and its members take a week each, in order.
- A wall-clock time the clocks skip (spring forward) is read with the offset in force
  before the change, so a 02:30 handoff happens at 03:30 by the new clock; a time the
  clocks repeat (fall back) is the first of the two.
- An override puts someone on call from ``starts_at`` up to ``ends_at``: instead of one
  member (``replaces``) or, without it, instead of whoever the rotation says. When two
  apply, the later one in the plan (the most recently added) wins.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

Member = TypeVar("Member", bound=Hashable)

EVERY_DAY = frozenset(range(1, 8))
WEEK = timedelta(days=7)
# How far back a shift's previous start is looked for: a week covers any set of days.
_LOOKBACK_DAYS = 8


@dataclass(frozen=True)
class ShiftPlan(Generic[Member]):
    label: str
    zone: str
    starts: time
    members: tuple[Member, ...]
    days: frozenset[int] = EVERY_DAY
    graphic_content_duty: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


@dataclass(frozen=True)
class OverridePlan(Generic[Member]):
    user: Member
    starts_at: datetime
    ends_at: datetime
    replaces: Member | None = None
    reason: str = ""
    key: Hashable = None

    def applies_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class RotaPlan(Generic[Member]):
    key: Hashable
    start_date: date
    shifts: tuple[ShiftPlan[Member], ...]
    overrides: tuple[OverridePlan[Member], ...] = field(default=())


@dataclass(frozen=True)
class Duty(Generic[Member]):
    """Who is on call, in which shift, and whether an override put them there."""

    member: Member
    scheduled: Member
    shift: ShiftPlan[Member]
    shift_index: int
    shift_started_at: datetime
    week: int
    override: OverridePlan[Member] | None = None

    def same_watch(self, other: Duty[Member]) -> bool:
        """The same person on the same shift for the same reason: one stretch of duty."""
        return (
            self.member == other.member
            and self.shift_index == other.shift_index
            and self.override == other.override
        )


@dataclass(frozen=True)
class Segment(Generic[Member]):
    starts_at: datetime
    ends_at: datetime
    duty: Duty[Member]


def wall_time_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``day`` in ``zone`` as a UTC instant (skipped times read with the offset
    before the change, repeated ones as their first occurrence: Python's ``fold=0``)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def shift_start_on(shift: ShiftPlan, day: date) -> datetime:
    return wall_time_to_utc(day, shift.starts, shift.tz)


def latest_shift_start(
    plan: RotaPlan[Member], shift: ShiftPlan[Member], at: datetime
) -> tuple[datetime, date] | None:
    """When ``shift`` last took over at or before ``at``, and on which local date."""
    local_day = at.astimezone(shift.tz).date()
    for back in range(_LOOKBACK_DAYS):
        day = local_day - timedelta(days=back)
        if day < plan.start_date:
            return None
        if day.isoweekday() not in shift.days:
            continue
        start = shift_start_on(shift, day)
        if start <= at:
            return start, day
    return None


def scheduled_duty(plan: RotaPlan[Member], at: datetime) -> Duty[Member] | None:
    """Whom the rotation itself puts on call at ``at``, before any override."""
    _require_aware(at)
    best: tuple[datetime, int, date] | None = None
    for index, shift in enumerate(plan.shifts):
        if not shift.members:
            continue
        found = latest_shift_start(plan, shift, at)
        if found is None:
            continue
        start, day = found
        # The shift that took over most recently is on; at the same instant, the later one.
        if best is None or (start, index) > (best[0], best[1]):
            best = (start, index, day)
    if best is None:
        return None
    start, index, day = best
    shift = plan.shifts[index]
    week = (day - plan.start_date).days // 7
    member = shift.members[week % len(shift.members)]
    return Duty(
        member=member,
        scheduled=member,
        shift=shift,
        shift_index=index,
        shift_started_at=start,
        week=week,
    )


def duty_at(plan: RotaPlan[Member], at: datetime) -> Duty[Member] | None:
    """Who is on call at ``at``, overrides applied."""
    duty = scheduled_duty(plan, at)
    if duty is None:
        return None
    chosen = None
    for override in plan.overrides:
        if override.applies_at(at) and override.replaces in (None, duty.scheduled):
            chosen = override
    if chosen is None:
        return duty
    return replace(duty, member=chosen.user, override=chosen)


def _change_points(plan: RotaPlan, start: datetime, end: datetime) -> list[datetime]:
    """Every instant in (start, end) at which the answer may change, and ``start``."""
    points = {start}
    for shift in plan.shifts:
        zone = shift.tz
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            if day >= plan.start_date and day.isoweekday() in shift.days:
                moment = wall_time_to_utc(day, shift.starts, zone)
                if start < moment < end:
                    points.add(moment)
            day += timedelta(days=1)
    for override in plan.overrides:
        for edge in (override.starts_at, override.ends_at):
            if start < edge < end:
                points.add(edge)
    return sorted(points)


def segments(plan: RotaPlan[Member], start: datetime, end: datetime) -> list[Segment[Member]]:
    """The rotation's duty from ``start`` to ``end``: one segment per unbroken stretch of
    one person on one shift (cut at ``start`` and ``end``)."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return []
    result: list[Segment[Member]] = []
    for begin, finish in pairwise([*_change_points(plan, start, end), end]):
        duty = duty_at(plan, begin)
        if duty is None:
            continue
        previous = result[-1] if result else None
        if previous and previous.ends_at == begin and previous.duty.same_watch(duty):
            result[-1] = replace(previous, ends_at=finish)
        else:
            result.append(Segment(starts_at=begin, ends_at=finish, duty=duty))
    return result


def watch_around(
    plan: RotaPlan[Member],
    at: datetime,
    *,
    back: timedelta = WEEK,
    ahead: timedelta = 5 * WEEK,
) -> Segment[Member] | None:
    """The stretch of duty that ``at`` falls in, looked for from ``at - back`` to
    ``at + ahead``; an end at either edge means "longer than that"."""
    for segment in segments(plan, at - back, at + ahead):
        if segment.starts_at <= at < segment.ends_at:
            return segment
    return None


def is_working_time(
    at: datetime,
    *,
    zone: str,
    starts: time | None,
    ends: time | None,
    days: Iterable[int],
) -> bool | None:
    """Whether ``at`` falls in working hours (``None`` when none are set). Hours that end
    before they start run overnight, and count for the day they start on."""
    if starts is None or ends is None:
        return None
    local = at.astimezone(ZoneInfo(zone))
    working_days = set(days)
    clock_time = local.time().replace(tzinfo=None)
    if starts <= ends:
        return local.isoweekday() in working_days and starts <= clock_time < ends
    if clock_time >= starts:
        return local.isoweekday() in working_days
    if clock_time < ends:
        yesterday = (local - timedelta(days=1)).isoweekday()
        return yesterday in working_days
    return False


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"on-call times must be timezone-aware, got {moment!r}")
