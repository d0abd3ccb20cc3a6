"""Shift handoffs of a crisis: the next one due, the one in play, and the history of those
recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.models import Crisis, Handoff, Level
from watchfloor.crises.shifts import HandoffTime, next_handoff_time, previous_handoff_time


def next_handoff(crisis: Crisis, now: datetime, *, config: CrisisConfig | None = None):
    """The next change of shift for ``crisis``, or None when it is not handed over at its
    level (closed, or a level left out of ``handoffs.levels``)."""
    config = config or crisis_config()
    if crisis.level == Level.CLOSED or crisis.level not in config.settings.handoffs.levels:
        return None
    return next_handoff_time(config.settings.handoffs.regions, now)


def handoff_in_play(
    crisis: Crisis, now: datetime, *, config: CrisisConfig, recorded: Iterable[Handoff]
) -> HandoffTime | None:
    """The handoff to confirm or acknowledge now: the one that just happened while it is
    not yet acknowledged (for ``acknowledge_within``), otherwise the next one."""
    upcoming = next_handoff(crisis, now, config=config)
    if upcoming is None:
        return None
    settings = config.settings.handoffs
    latest = previous_handoff_time(settings.regions, now)
    # A handoff before the crisis existed was never one of its own.
    if latest.at >= crisis.declared_at and now - latest.at <= settings.acknowledge_window:
        acknowledged = {h.handoff_at for h in recorded if h.status == Handoff.Status.ACKNOWLEDGED}
        if latest.at not in acknowledged:
            return latest
    return upcoming


@dataclass(frozen=True)
class HandoffRecord:
    """An earlier handoff as the handoff page lists it: when it was confirmed (not the
    scheduled shift change), between regions named as the crisis settings name them."""

    handoff: Handoff
    from_region: str
    to_region: str

    @property
    def label(self) -> str:
        return f"{self.from_region} → {self.to_region}"


def handoff_history(recorded: Iterable[Handoff], *, config: CrisisConfig) -> list[HandoffRecord]:
    names = {region.code: region.name for region in config.settings.handoffs.regions}

    def name(code: str) -> str:
        # A region since removed from the settings keeps a readable name.
        return names.get(code) or code.replace("_", " ").replace("-", " ").title()

    return [HandoffRecord(h, name(h.from_region), name(h.to_region)) for h in recorded]
