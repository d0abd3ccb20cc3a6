"""When the next sitrep is due, and how urgent that is. Pure functions of the record.

The level sets the cadence (``crisis.yaml``: hourly for crisis protocol, four-hourly for
an incident, daily while monitoring). The next sitrep of record is due one interval after
the later of the last one sent and the latest level change: raising the level brings the
next sitrep forward to one new interval from the change, and a crisis just declared owes
its first sitrep one interval after the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from watchfloor.crises.config import CrisisSettings
from watchfloor.crises.models import Level


class SitrepState(StrEnum):
    NONE = "none"  # no cadence at this level (closed, or a level without sitrep_every)
    SCHEDULED = "scheduled"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


SITREP_STATE_LABELS = {
    SitrepState.NONE: "No sitrep scheduled",
    SitrepState.SCHEDULED: "Scheduled",
    SitrepState.DUE_SOON: "Due soon",
    SitrepState.OVERDUE: "Overdue",
}


def sitrep_due_at(
    *,
    settings: CrisisSettings,
    level: str,
    declared_at: datetime,
    level_changed_at: datetime,
    last_sent_at: datetime | None,
) -> datetime | None:
    if level == Level.CLOSED:
        return None
    interval = settings.sitrep_interval(level)
    if interval is None:
        return None
    anchor = max(last_sent_at or declared_at, level_changed_at)
    return anchor + interval


def sitrep_state(*, due_at: datetime | None, now: datetime, due_soon: timedelta) -> SitrepState:
    if due_at is None:
        return SitrepState.NONE
    if now > due_at:
        return SitrepState.OVERDUE
    if due_at - now <= due_soon:
        return SitrepState.DUE_SOON
    return SitrepState.SCHEDULED


@dataclass(frozen=True)
class SitrepClock:
    due_at: datetime | None
    state: SitrepState
    interval: timedelta | None

    @property
    def label(self) -> str:
        return SITREP_STATE_LABELS[self.state]

    @property
    def needs_attention(self) -> bool:
        return self.state in (SitrepState.DUE_SOON, SitrepState.OVERDUE)
