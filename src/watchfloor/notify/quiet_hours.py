"""Quiet hours: a daily period, in a person's own time zone, when mild news waits.

Pure functions over wall times. A period may wrap midnight (22:00–07:00). The end of a
period is found on the wall clock of the person's zone, so across a daylight-saving
change "until 07:00" is still 07:00 local, whatever the elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")

    def _covers_wall_time(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end  # wraps midnight

    def is_quiet(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self._covers_wall_time(local.time().replace(tzinfo=None))

    def ends_after(self, moment: datetime) -> datetime:
        """When the quiet period that covers ``moment`` ends (UTC); ``moment`` if none does."""
        if not self.is_quiet(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day = day + timedelta(days=1)  # the evening half: it ends tomorrow morning
        end = datetime.combine(day, self.end, tzinfo=self.zone)
        # A wall time skipped by a spring-forward change does not exist; zoneinfo reads
        # it with the offset before the change, which lands just after the gap: fine.
        return end.astimezone(UTC)

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M} {self.zone.key}"
