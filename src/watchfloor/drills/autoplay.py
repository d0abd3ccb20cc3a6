"""Autoplay: a scenario played with nobody at the keyboard.

``core.clock`` is frozen at the scenario's start and moved through the merged timeline
of injects, scripted responses (``drills.responses``) and housekeeping ticks, so a whole
day plays in seconds with every timestamp as it would have been; then the drill is
finished, scored and checked against the scenario's ``expect`` block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound, WatchfloorError
from watchfloor.drills.models import DrillRun
from watchfloor.drills.responses import perform_response
from watchfloor.drills.scenario_files import LoadedScenario
from watchfloor.drills.scenarios import ResponseSpec, Scenario, format_offset
from watchfloor.drills.scoring import expectation_failures
from watchfloor.drills.selectors import drill_escalations
from watchfloor.drills.services import (
    advance_drill,
    finish_drill,
    record_drill_event,
    start_drill,
)
from watchfloor.people.models import User

HOUSEKEEPING_TICK = timedelta(minutes=15)


@dataclass
class _Moment:
    at: timedelta
    order: int
    response: ResponseSpec | None = None
    index: int = -1


@dataclass
class AutoplayResult:
    run: DrillRun
    score: dict[str, Any]
    failures: list[str]
    created_accounts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def autoplay_drill(*, scenario: LoadedScenario, start: datetime | None = None) -> AutoplayResult:
    """Play ``scenario`` with nobody at the keyboard: its scripted responses, on a frozen
    clock moved from the scenario's start (``starts_at``, else now) to its end, with the
    housekeeping run between moments and at least every :data:`HOUSEKEEPING_TICK`; then
    finish and score it. The clock is restored afterwards."""
    spec = scenario.spec
    sim_start = start or spec.starts_at or clock.now().replace(second=0, microsecond=0)
    cast, created = resolve_cast(spec)
    director = cast[spec.crisis.commander]
    moments: list[_Moment] = []
    tick = timedelta(0)
    while tick <= spec.length:
        moments.append(_Moment(at=tick, order=0))
        tick += HOUSEKEEPING_TICK
    moments.extend(_Moment(at=i.offset, order=0) for i in spec.injects)
    moments.extend(
        _Moment(at=r.offset, order=1, response=r, index=n) for n, r in enumerate(spec.responses)
    )
    moments.sort(key=lambda m: (m.at, m.order, m.index))
    log: dict[str, Any] = {"responses": [], "sitrep_reminders": []}
    reminded: set[str] = set()
    with clock.frozen_at(sim_start):
        run = start_drill(scenario=scenario, actor=director, autoplay=True)
    for moment in moments:
        with clock.frozen_at(sim_start + moment.at):
            now = clock.now()
            advance_drill(run=run, to=now, actor=director)
            if moment.response is not None:
                log["responses"].append(_play(run, moment.response, cast))
            _housekeeping(run, now=now, reminded=reminded, log=log)
    with clock.frozen_at(sim_start + spec.length):
        _housekeeping(run, now=clock.now(), reminded=reminded, log=log)
        run = finish_drill(run=run, actor=director, autoplay_log=log)
    return AutoplayResult(
        run=run,
        score=run.score,
        failures=expectation_failures(run.score, spec),
        created_accounts=created,
    )


def resolve_cast(spec: Scenario) -> tuple[dict[str, User], list[str]]:
    """The scenario's people as accounts: existing ones by username, the rest created
    (with no usable password: nobody signs in as a cast member)."""
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    cast: dict[str, User] = {}
    created = []
    for name, member in spec.cast.items():
        user = User.objects.filter(username=member.username).first()
        if user is None:
            first, _, last = (member.name or name).partition(" ")
            user = create_user(
                username=member.username,
                password=None,
                role=member.role,
                actor=None,
                team=Team.objects.get(code=member.team) if member.team else None,
                time_zone=member.time_zone,
                first_name=first,
                last_name=last,
            )
            created.append(member.username)
        elif not user.is_active:
            raise Conflict(f"cast member {member.username} has a deactivated account", field="cast")
        cast[name] = user
    return cast, created


def _housekeeping(run: DrillRun, *, now: datetime, reminded: set[str], log: dict[str, Any]) -> None:
    """The sweeps a worker would run, for this drill only: escalation-policy stages that
    fell due (their notifications are recorded as suppressed), and the sitrep reminders
    the commander would have had. The partner-request chase sweep is global (it would
    chase real requests at drill time), so it is left to the worker."""
    from watchfloor.crises.selectors import sitrep_reminders
    from watchfloor.notify.models import Engagement, EngagementStatus
    from watchfloor.notify.services import reach_stage

    escalation_ids = [e.pk for e in drill_escalations(run)]
    due = Engagement.objects.filter(
        escalation_id__in=escalation_ids,
        status=EngagementStatus.ACTIVE,
        next_stage_at__lte=now,
    )
    for engagement in due:
        reach_stage(engagement_id=engagement.pk, stage=engagement.current_stage + 1)
    for reminder in sitrep_reminders(now=now):
        if reminder.crisis.pk != run.crisis_id:
            continue
        due_at = reminder.crisis.next_sitrep_due_at
        key = due_at.isoformat() if due_at else ""
        if due_at is not None and key not in reminded:
            reminded.add(key)
            log["sitrep_reminders"].append(
                {
                    "at": format_offset(now - run.sim_started_at),
                    "due": format_offset(due_at - run.sim_started_at),
                }
            )


def _play(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> dict[str, Any]:
    entry = {"at": response.at, "what": response.describe(), "ok": True, "error": ""}
    try:
        perform_response(run, response, cast)
    except (WatchfloorError, NotFound) as error:
        entry.update(ok=False, error=str(getattr(error, "message", error)))
        with transaction.atomic():
            record_drill_event(
                AuditAction.CRISIS_DRILL_RESPONSE_FAILED,
                run=run,
                actor=cast[response.actor],
                response=entry["what"],
                at=response.at,
                error=entry["error"],
            )
    return entry
