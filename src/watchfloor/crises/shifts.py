"""Follow-the-sun shifts: when each region takes over, in its own wall time. Pure functions.

Each region hands over at a local time of day (09:00 in Singapore, London and New York
by default). The instants are worked out day by day in each region's zone, so a region
whose clocks change keeps its local handoff time and the UTC instant moves instead: in
late March, London's 09:00 is 09:00 UTC before its change and 08:00 UTC after, while New
York (which changed three weeks earlier) is already at 13:00 UTC.

A local time that does not exist on a given day (skipped when the clocks go forward)
is read with the offset in force before the change, so it falls as far after the change
as it was into the gap; a time that happens twice (when the clocks go back) is taken at
its first occurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from watchfloor.crises.config import Region


def local_handoff(region: Region, day: date) -> datetime:
    """The instant (UTC) of ``region``'s handoff on ``day``, its own calendar date."""
    zone = ZoneInfo(region.time_zone)
    # fold=0: a repeated wall time is its first occurrence, and a skipped one is read with
    # the offset before the change (02:30 on the morning the clocks skip 02:00–03:00
    # becomes 03:30, as late after the change as it was into the gap).
    return datetime.combine(day, region.handoff_time, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class HandoffTime:
    """The shift changes from one region to the next at ``at`` (UTC)."""

    at: datetime
    from_region: Region
    to_region: Region

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.to_region.time_zone))

    @property
    def from_local_at(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.from_region.time_zone))

    @property
    def label(self) -> str:
        return f"{self.from_region.name} → {self.to_region.name}"


def _handoffs_around(regions: Sequence[Region], moment: datetime) -> list[tuple[datetime, Region]]:
    """Every region's handoff from two days before ``moment`` to two days after, in order."""
    events = []
    for region in regions:
        today = moment.astimezone(ZoneInfo(region.time_zone)).date()
        for offset in range(-2, 3):
            events.append((local_handoff(region, today + timedelta(days=offset)), region))
    events.sort(key=lambda event: event[0])
    return events


def next_handoff_time(regions: Sequence[Region], now: datetime) -> HandoffTime:
    """The next change of shift strictly after ``now``: from the region on shift now to
    the region whose local handoff time comes first."""
    events = _handoffs_around(regions, now)
    index = next(i for i, (at, _) in enumerate(events) if at > now)
    return HandoffTime(
        at=events[index][0], from_region=events[index - 1][1], to_region=events[index][1]
    )


def previous_handoff_time(regions: Sequence[Region], now: datetime) -> HandoffTime:
    """The latest change of shift at or before ``now``."""
    events = _handoffs_around(regions, now)
    index = max(i for i, (at, _) in enumerate(events) if at <= now)
    return HandoffTime(
        at=events[index][0], from_region=events[index - 1][1], to_region=events[index][1]
    )


def region_on_shift(regions: Sequence[Region], now: datetime) -> Region:
    return previous_handoff_time(regions, now).to_region


def following_handoff(regions: Sequence[Region], handoff: HandoffTime) -> HandoffTime:
    """The change of shift after ``handoff``: the end of the shift it starts."""
    return next_handoff_time(regions, handoff.at)
