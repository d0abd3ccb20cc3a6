"""Crisis drills: a scenario played as a drill crisis on its own clock, then scored.

A drill is a real crisis with ``is_drill`` set, opened and fed by the real services: its
escalations are real escalations marked as drills (their playbooks start, their SLA and
statutory clocks run, their escalation policies record notifications and deliver none).
What the scenario injects arrives when the drill clock reaches it; what the team does is
scored against the playbooks' due times, the severity targets, the statutory clocks and
the sitrep cadence (``drills.scoring``).

Two ways to play (docs/drills.md):

- **In the UI** the drill clock starts as the real clock: ``sim_started_at`` is when the
  drill started and every inject is due at its offset from then. The drill page catches
  the injects up each time it is read (:func:`advance_drill`, idempotent); a commander
  can bring the next one forward, run the clock at ×10 or ×60, or step it to the next
  inject (``drills.clock``).
- **Autoplay** (``drills.autoplay``) freezes ``core.clock`` at the scenario's start and
  moves it through the merged timeline of injects, scripted responses and housekeeping
  ticks, so a whole day plays in seconds with every timestamp as it would have been.

Drill signals are counted on the drill, never ingested: intake would cluster them with
real reports and feed real surge detection and auto-escalation.

This module holds the writes: start, the drill clock's injects, finish and abandon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.validation import require
from watchfloor.crises import services as crisis_services
from watchfloor.crises.models import Level
from watchfloor.crises.permissions import may_command_crisis
from watchfloor.drills.clock import SPEEDS, drill_time
from watchfloor.drills.models import DrillInject, DrillRun
from watchfloor.drills.permissions import may_start_drill
from watchfloor.drills.scenario_files import LoadedScenario
from watchfloor.drills.scenarios import (
    DEFAULT_SOURCES,
    DEFAULT_TYPES,
    InjectSpec,
    format_offset,
    parse_offset,
)
from watchfloor.drills.scoring import score_drill
from watchfloor.drills.selectors import drill_escalations, escalation_opened_by
from watchfloor.escalations.filing import create_escalation
from watchfloor.escalations.inputs import EscalationInput, StatutoryTriggerInput, SubjectInput
from watchfloor.escalations.models import Escalation, Status
from watchfloor.people.models import User

DRILL_MARK = "[DRILL] "


def _marked(title: str) -> str:
    return (DRILL_MARK + title)[:200]


def record_drill_event(
    action: AuditAction, *, run: DrillRun, actor: User | None, **data: Any
) -> None:
    crisis = run.crisis
    escalation_id = data.pop("escalation_id", None)
    record_event(
        action=action,
        actor=actor,
        target=run,
        escalation_id=escalation_id,
        data={
            "crisis_id": crisis.pk if crisis else None,
            "crisis": crisis.reference if crisis else None,
            "drill_id": run.pk,
            "scenario": run.scenario_code,
            **data,
        },
    )


def _lock(run: DrillRun) -> DrillRun:
    # Only the run row: its crisis may be empty (an outer join PostgreSQL will not lock).
    return DrillRun.objects.select_for_update(of=("self",)).select_related("crisis").get(pk=run.pk)


def _require_running(run: DrillRun) -> None:
    if run.status != DrillRun.Status.RUNNING:
        raise Conflict(f"drill {run.pk} is {run.get_status_display().lower()}", field="drill")


# ---------------------------------------------------------------- starting


@transaction.atomic
def start_drill(*, scenario: LoadedScenario, actor: User, autoplay: bool = False) -> DrillRun:
    """Open the drill crisis (``is_drill``), its run and its injects, on the drill clock
    starting now (``core.clock``); the injects due at +0m arrive at once."""
    require(may_start_drill(actor), "only a lead or an admin may start a drill")
    spec = scenario.spec
    now = clock.now()
    snapshot = spec.model_dump(mode="json", by_alias=True)
    run = DrillRun.objects.create(
        scenario_code=spec.code,
        scenario_title=spec.title,
        scenario=snapshot,
        scenario_digest=scenario.digest,
        autoplay=autoplay,
        sim_started_at=now,
        sim_now=now,
        started_at=now,
        started_by=actor,
    )
    DrillInject.objects.bulk_create(
        DrillInject(
            run=run,
            sequence=index,
            offset=inject.offset,
            kind=inject.kind,
            title=inject.title,
            payload=inject.model_dump(mode="json", by_alias=True, exclude_none=True),
            due_at=now + inject.offset,
        )
        for index, inject in enumerate(spec.injects)
    )
    opening: Escalation | None = None
    opening_inject: DrillInject | None = None
    if spec.crisis.opens_with:
        opening_inject = run.injects.get(
            sequence=next(i for i, s in enumerate(spec.injects) if s.id == spec.crisis.opens_with)
        )
        opening = _open_escalation(spec.injects[opening_inject.sequence], actor=actor, now=now)
    crisis = crisis_services.declare_crisis(
        actor=actor,
        title=_marked(spec.crisis.title),
        level=spec.crisis.level,
        summary=spec.crisis.summary or spec.summary,
        markets=list(spec.markets),
        languages=list(spec.languages),
        declared_from=opening,
        reason=f"drill: {spec.code}",
    )
    crisis.is_drill = True
    crisis.save(update_fields=["is_drill"])
    run.crisis = crisis
    run.save(update_fields=["crisis"])
    record_drill_event(
        AuditAction.CRISIS_DRILL_STARTED,
        run=run,
        actor=actor,
        title=spec.title,
        digest=scenario.digest[:12],
        autoplay=autoplay,
        injects=len(spec.injects),
        responses=len(spec.responses),
        sim_started_at=now,
        ends_at=now + spec.length,
    )
    if opening_inject is not None and opening is not None:
        _mark_injected(
            run,
            opening_inject,
            actor=actor,
            outcome={"escalation_id": opening.pk, "escalation": opening.reference},
        )
    _advance(run, to=now, actor=actor)
    return run


def _open_escalation(inject: InjectSpec, *, actor: User, now: datetime) -> Escalation:
    esc = inject.escalation
    assert esc is not None  # the schema requires it for these kinds
    summary = esc.summary
    triggers: list[StatutoryTriggerInput] = []
    if inject.notice is not None:
        notice = inject.notice
        due_at = now + parse_offset(notice.due_in) if notice.due_in else None
        triggers.append(
            StatutoryTriggerInput(
                rule=notice.rule,
                received_at=now,
                due_at=due_at,
                notice_reference=notice.reference,
            )
        )
        summary = f"From {notice.regulator}. {summary}".strip()
    if inject.inquiry is not None:
        inquiry = inject.inquiry
        deadline = ""
        if inquiry.deadline_in:
            deadline = f" Deadline: {format_offset(parse_offset(inquiry.deadline_in))} from now."
        summary = f"{inquiry.outlet} asks: {inquiry.question}{deadline}\n\n{summary}".strip()
    return create_escalation(
        actor=actor,
        details=EscalationInput(
            type_code=esc.type or DEFAULT_TYPES[inject.kind],
            title=_marked(esc.title),
            summary=summary,
            markets=list(esc.markets),
            languages=list(esc.languages),
            subjects=[SubjectInput(s.kind, s.reference) for s in esc.subjects],
            source_kind=esc.source or DEFAULT_SOURCES.get(inject.kind, "internal"),
            source_team_code=esc.source_team or "",
            rubric_answers=dict(esc.severity_answers),
            statutory_triggers=triggers,
            is_high_visibility=esc.high_visibility,
            shared_with_team_codes=list(esc.shared_with),
            is_drill=True,
        ),
    )


# ---------------------------------------------------------------- the drill clock


@transaction.atomic
def advance_drill(*, run: DrillRun, to: datetime, actor: User) -> list[DrillInject]:
    """Inject whatever falls due up to drill time ``to``; returns what it injected.
    Idempotent: an inject arrives once, however often this runs."""
    run = _lock(run)
    _require_running(run)
    return _advance(run, to=to, actor=actor)


def _advance(run: DrillRun, *, to: datetime, actor: User) -> list[DrillInject]:
    injected = []
    for inject in run.injects.filter(injected_at__isnull=True, due_at__lte=to).order_by("sequence"):
        _inject(run, inject, actor=actor)
        injected.append(inject)
    if to > run.sim_now:
        run.sim_now = to
        run.save(update_fields=["sim_now"])
    return injected


def _require_command(run: DrillRun, actor: User, what: str) -> None:
    require(
        run.crisis is not None and may_command_crisis(actor, run.crisis),
        f"only the drill's commander, the deputy, a lead or an admin may {what}",
    )


@transaction.atomic
def set_drill_speed(*, run: DrillRun, speed: int, actor: User) -> DrillRun:
    """Run the drill clock at ``speed`` times the real clock from now on (UI play).

    What fell due at the old speed arrives first; the clock then goes on from where it
    stands. Only the scenario's timeline speeds up: the team's due times stay real
    (``drills.clock``)."""
    if speed not in SPEEDS:
        raise InvalidInput(
            f"{speed!r} is not a drill speed; use one of " + ", ".join(f"×{s}" for s in SPEEDS),
            field="speed",
        )
    run = _lock(run)
    _require_running(run)
    _require_command(run, actor, "change the drill's speed")
    now = clock.now()
    at = drill_time(run, now=now)
    _advance(run, to=at, actor=actor)
    previous = run.speed
    _set_clock(run, now=now, to=at, speed=speed)
    record_drill_event(
        AuditAction.CRISIS_DRILL_CLOCK_SET,
        run=run,
        actor=actor,
        speed=speed,
        previous_speed=previous,
        drill_time=at,
        elapsed=format_offset(at - run.sim_started_at),
    )
    return run


@transaction.atomic
def step_to_next_inject(*, run: DrillRun, actor: User) -> DrillInject:
    """Move the drill clock on to the next inject's due time, so it arrives now and every
    later one comes that much sooner (at the same speed)."""
    run = _lock(run)
    _require_running(run)
    _require_command(run, actor, "move the drill's clock")
    now = clock.now()
    at = drill_time(run, now=now)
    _advance(run, to=at, actor=actor)
    upcoming = run.injects.filter(injected_at__isnull=True).order_by("due_at", "sequence").first()
    if upcoming is None:
        raise Conflict("every event of this drill has been injected", field="drill")
    to = max(at, upcoming.due_at)
    _set_clock(run, now=now, to=to, speed=run.speed)
    record_drill_event(
        AuditAction.CRISIS_DRILL_CLOCK_SET,
        run=run,
        actor=actor,
        speed=run.speed,
        previous_speed=run.speed,
        drill_time=to,
        elapsed=format_offset(to - run.sim_started_at),
        stepped_from=format_offset(at - run.sim_started_at),
    )
    _advance(run, to=to, actor=actor)
    upcoming.refresh_from_db()
    return upcoming


def _set_clock(run: DrillRun, *, now: datetime, to: datetime, speed: int) -> None:
    run.clock_set_at = now
    run.clock_set_to = to
    run.speed = speed
    run.save(update_fields=["clock_set_at", "clock_set_to", "speed"])


@transaction.atomic
def inject_next_now(*, run: DrillRun, actor: User) -> DrillInject:
    """Bring the next inject forward to now (the drill's own "something happens")."""
    run = _lock(run)
    _require_running(run)
    _require_command(run, actor, "inject events")
    inject = run.injects.filter(injected_at__isnull=True).order_by("sequence").first()
    if inject is None:
        raise Conflict("every event of this drill has been injected", field="drill")
    _inject(run, inject, actor=actor, early=True)
    return inject


def _inject(run: DrillRun, inject: DrillInject, *, actor: User, early: bool = False) -> None:
    spec = InjectSpec.model_validate(inject.payload)
    crisis = run.crisis
    assert crisis is not None, "a started drill has its crisis"
    director = run.started_by
    outcome: dict[str, Any] = {}
    if spec.creates_escalation:
        escalation = _open_escalation(spec, actor=director, now=clock.now())
        crisis_services.link_escalation(
            crisis=crisis,
            escalation=escalation,
            actor=director,
            reason=f"drill inject: {spec.title}",
        )
        outcome = {"escalation_id": escalation.pk, "escalation": escalation.reference}
    elif spec.signals is not None:
        batches = spec.signals.batches
        outcome = {
            "signals": spec.signals.count,
            "by_language": {b.language: b.count for b in batches},
            "market": spec.signals.market,
            "policy": spec.signals.policy,
            "samples": [{"language": b.language, "text": t} for b in batches for t in b.samples],
        }
    elif spec.message is not None:
        outcome = {"from": spec.message.sender, "body": spec.message.body}
        if spec.ask is not None:
            outcome.update(_ask(run, spec, actor=director))
    _mark_injected(run, inject, actor=actor, outcome=outcome, early=early)


def _ask(run: DrillRun, spec: InjectSpec, *, actor: User) -> dict[str, Any]:
    from watchfloor.coordination.services import send_partner_request

    ask = spec.ask
    assert ask is not None
    escalation = escalation_opened_by(run, ask.escalation)
    if escalation is None or not escalation.is_open:
        return {"ask": f"not sent: '{ask.escalation}' is not open"}
    partner_request = send_partner_request(
        escalation=escalation,
        actor=actor,
        team_code=ask.team,
        kind=ask.kind,
        question=ask.question,
        due_within=parse_offset(ask.due_in),
        context=f"{spec.message.sender if spec.message else ''}: {spec.title}",
    )
    return {
        "partner_request_id": partner_request.pk,
        "ask_team": ask.team,
        "ask_team_name": partner_request.team.name,
    }


def _mark_injected(
    run: DrillRun,
    inject: DrillInject,
    *,
    actor: User,
    outcome: dict[str, Any],
    early: bool = False,
) -> None:
    now = clock.now()
    inject.injected_at = now
    # Said in so many words: with the drill clock sped up, every inject arrives before
    # its drill-time due_at in real time, brought forward or not.
    inject.outcome = {**outcome, "brought_forward": True} if early else outcome
    inject.save(update_fields=["injected_at", "outcome"])
    record_drill_event(
        AuditAction.CRISIS_DRILL_INJECTED,
        run=run,
        actor=actor,
        escalation_id=outcome.get("escalation_id"),
        sequence=inject.sequence,
        kind=inject.kind,
        title=inject.title,
        offset=format_offset(inject.offset),
        due_at=inject.due_at,
        early=early,
        outcome={k: v for k, v in outcome.items() if k != "samples"},
        samples=outcome.get("samples", [])[:8],
    )


# ---------------------------------------------------------------- finishing


@transaction.atomic
def finish_drill(
    *, run: DrillRun, actor: User, autoplay_log: dict[str, Any] | None = None
) -> DrillRun:
    """Score the drill as it stands at drill time now, keep the score, then stand the
    drill crisis down and close it and its escalations (so no drill stays in a queue)."""
    run = _lock(run)
    _require_running(run)
    _require_command(run, actor, "finish it")
    now = clock.now()
    _advance(run, to=drill_time(run, now=now), actor=actor)
    # Scored on the real clock: the team's due times are real ones (``drills.clock``).
    score = score_drill(run, at=now)
    if autoplay_log is not None:
        score["autoplay"] = autoplay_log
    run.score = score
    run.status = DrillRun.Status.FINISHED
    run.finished_at = now
    run.save(update_fields=["score", "status", "finished_at"])
    record_drill_event(
        AuditAction.CRISIS_DRILL_FINISHED,
        run=run,
        actor=actor,
        percent=score["percent"],
        scored=score["scored"],
        totals=score["totals"],
    )
    _close_drill(run, actor=actor, why="drill finished")
    return run


@transaction.atomic
def abandon_drill(*, run: DrillRun, actor: User, reason: str) -> DrillRun:
    run = _lock(run)
    _require_running(run)
    _require_command(run, actor, "abandon it")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the drill is abandoned", field="reason")
    run.status = DrillRun.Status.ABANDONED
    run.finished_at = clock.now()
    run.save(update_fields=["status", "finished_at"])
    record_drill_event(
        AuditAction.CRISIS_DRILL_ABANDONED, run=run, actor=actor, reason=reason[:2000]
    )
    _close_drill(run, actor=actor, why=f"drill abandoned: {reason[:200]}")
    return run


def _close_drill(run: DrillRun, *, actor: User, why: str) -> None:
    from watchfloor.escalations.services import transition_escalation

    crisis = run.crisis
    assert crisis is not None, "a started drill has its crisis"
    for escalation in drill_escalations(run):
        if escalation.is_open and escalation.merged_into_id is None:
            transition_escalation(
                escalation=escalation, to_status=Status.CLOSED, actor=actor, reason=why
            )
    crisis.refresh_from_db()
    if crisis.level not in (Level.STAND_DOWN, Level.CLOSED):
        crisis = crisis_services.change_level(
            crisis=crisis, to_level=Level.STAND_DOWN, actor=actor, reason=why
        )
    if crisis.level == Level.STAND_DOWN:
        crisis_services.change_level(crisis=crisis, to_level=Level.CLOSED, actor=actor, reason=why)
    run_crisis = run.crisis
    assert run_crisis is not None
    run_crisis.refresh_from_db()
