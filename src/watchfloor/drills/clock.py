"""The drill clock in UI play: when the scenario's events arrive, at ×1, ×10 or ×60.

The scenario's timeline runs on drill time: an inject is due at ``sim_started_at`` + its
offset. Until a commander sets the clock, drill time is the real time (×1, as it always
was). Setting it (a new speed, or a step to the next event) records the moment
(``clock_set_at``, real) and the drill time then (``clock_set_to``); from there drill
time runs at ``speed`` times the real clock::

    drill time = clock_set_to + speed × (now − clock_set_at)

The speed compresses when the scenario's events arrive, not the time the team has for
each: escalations, playbooks, SLA and statutory clocks and sitreps are kept by the real
services on the real clock, so every due time counts from when its event actually
arrived and the score judges real times. A faster drill is a denser one, never an easier
one. Autoplay never sets the clock: it moves ``core.clock`` itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from watchfloor.drills.models import DrillRun

# The speeds offered on the drill page.
SPEEDS = (1, 10, 60)


def drill_time(run: DrillRun, *, now: datetime) -> datetime:
    """Where the drill clock stands at real time ``now``."""
    if run.clock_set_at is None or run.clock_set_to is None:
        return now
    return run.clock_set_to + (now - run.clock_set_at) * run.speed


def real_time_of(run: DrillRun, moment: datetime) -> datetime:
    """When, in real time, the drill clock reaches drill time ``moment``."""
    if run.clock_set_at is None or run.clock_set_to is None:
        return moment
    return run.clock_set_at + (moment - run.clock_set_to) / run.speed


def drill_elapsed(run: DrillRun, *, now: datetime) -> timedelta:
    """How far into the scenario's timeline the drill clock is at real time ``now``."""
    return drill_time(run, now=now) - run.sim_started_at
