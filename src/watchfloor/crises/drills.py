"""Crisis drills: a scenario played as a drill crisis on its own clock, then scored.

A drill is a real crisis with ``is_drill`` set, opened and fed by the real services: its
escalations are real escalations marked as drills (their playbooks start, their SLA and
statutory clocks run, their escalation policies record notifications and deliver none).
What the scenario injects arrives when the drill clock reaches it; what the team does is
scored against the playbooks' due times, the severity targets, the statutory clocks and
the sitrep cadence (:func:`score_drill`).

Two ways to play (docs/drills.md):

- **In the UI** the drill clock is the real clock: ``sim_started_at`` is when the drill
  started and every inject is due at its offset from then. The drill page catches the
  injects up each time it is read (:func:`advance_drill`, idempotent), and a commander
  can bring the next one forward.
- **Autoplay** (:func:`autoplay_drill`) freezes ``core.clock`` at the scenario's start and
  moves it through the merged timeline of injects, scripted responses and housekeeping
  ticks, so a whole day plays in seconds with every timestamp as it would have been.

Drill signals are counted on the drill, never ingested: intake would cluster them with
real reports and feed real surge detection and auto-escalation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, WatchfloorError
from watchfloor.core.roles import Role, is_admin
from watchfloor.core.validation import require as _require
from watchfloor.crises import services as crisis_services
from watchfloor.crises.models import Crisis, DrillInject, DrillRun, Level, Sitrep
from watchfloor.crises.permissions import may_command_crisis
from watchfloor.crises.scenarios import (
    DEFAULT_SOURCES,
    DEFAULT_TYPES,
    InjectSpec,
    LoadedScenario,
    ResponseSpec,
    Scenario,
    format_offset,
    parse_offset,
)
from watchfloor.escalations.models import Clock, Escalation, Status
from watchfloor.escalations.services import StatutoryTriggerInput, SubjectInput, create_escalation
from watchfloor.people.models import User

DRILL_MARK = "[DRILL] "
# Autoplay runs the housekeeping at least this often between scripted moments.
HOUSEKEEPING_TICK = timedelta(minutes=15)
# The clock kinds scored: resolution targets run for days and a drill lasts hours.
SCORED_CLOCKS = (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION, Clock.Kind.STATUTORY)
# Credit per result: a late item is worth half an on-time one; a missed one nothing.
CREDIT = {"on_time": 1.0, "late": 0.5, "missed": 0.0}
KIND_LABELS = {
    "signals": "Signals",
    "partner_message": "Message",
    "regulator_notice": "Regulator notice",
    "media_inquiry": "Media inquiry",
    "escalation": "Escalation",
}
RESULT_LABELS = {
    "on_time": "on time",
    "late": "late",
    "missed": "missed",
    "not_due": "not yet due",
    "skipped": "skipped",
}


def may_start_drill(user: User) -> bool:
    """Leads and admins run exercises; the drill's commander then commands it as usual."""
    return user.is_authenticated and user.is_active and (is_admin(user) or user.role == Role.LEAD)


def _marked(title: str) -> str:
    return (DRILL_MARK + title)[:200]


def _record(action: AuditAction, *, run: DrillRun, actor: User | None, **data: Any) -> None:
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


def scenario_of(run: DrillRun) -> Scenario:
    """The scenario as it was played (the snapshot, not today's file)."""
    return Scenario.model_validate(run.scenario)


# ---------------------------------------------------------------- reading


def drills_visible_to(user: User):
    """Drill runs whose crisis ``user`` may see (need to know, as for any crisis)."""
    from watchfloor.crises.selectors import crises_visible_to

    return (
        DrillRun.objects.filter(crisis__in=crises_visible_to(user))
        .select_related("crisis", "started_by")
        .order_by("-started_at", "-id")
    )


def access_drill(*, actor: User, run_id: int | str) -> DrillRun:
    """The run, or the same NotFound whether it is missing or its crisis is hidden."""
    try:
        pk = int(run_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no drill '{run_id}'", field="drill_id") from exc
    run = drills_visible_to(actor).filter(pk=pk).first()
    if run is None:
        raise NotFound(f"no drill '{run_id}'", field="drill_id")
    return run


def next_inject(run: DrillRun) -> DrillInject | None:
    return run.injects.filter(injected_at__isnull=True).order_by("sequence").first()


# ---------------------------------------------------------------- starting


@transaction.atomic
def start_drill(*, scenario: LoadedScenario, actor: User, autoplay: bool = False) -> DrillRun:
    """Open the drill crisis (``is_drill``), its run and its injects, on the drill clock
    starting now (``core.clock``); the injects due at +0m arrive at once."""
    _require(may_start_drill(actor), "only a lead or an admin may start a drill")
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
    _record(
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


@transaction.atomic
def inject_next_now(*, run: DrillRun, actor: User) -> DrillInject:
    """Bring the next inject forward to now (the drill's own "something happens")."""
    run = _lock(run)
    _require_running(run)
    _require(
        may_command_crisis(actor, run.crisis),
        "only the drill's commander, the deputy, a lead or an admin may inject events",
    )
    inject = run.injects.filter(injected_at__isnull=True).order_by("sequence").first()
    if inject is None:
        raise Conflict("every event of this drill has been injected", field="drill")
    _inject(run, inject, actor=actor, early=True)
    return inject


def _inject(run: DrillRun, inject: DrillInject, *, actor: User, early: bool = False) -> None:
    spec = InjectSpec.model_validate(inject.payload)
    crisis = run.crisis
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
    escalation = _escalation_of(run, ask.escalation)
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
    inject.outcome = outcome
    inject.save(update_fields=["injected_at", "outcome"])
    _record(
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


def _escalation_of(run: DrillRun, inject_id: str) -> Escalation | None:
    """The escalation an inject opened, by the inject's id in the scenario."""
    spec = scenario_of(run)
    sequence = next((i for i, s in enumerate(spec.injects) if s.id == inject_id), None)
    if sequence is None:
        return None
    inject = run.injects.filter(sequence=sequence).first()
    escalation_id = (inject.outcome or {}).get("escalation_id") if inject else None
    return Escalation.objects.filter(pk=escalation_id).first() if escalation_id else None


# ---------------------------------------------------------------- finishing


@transaction.atomic
def finish_drill(
    *, run: DrillRun, actor: User, autoplay_log: dict[str, Any] | None = None
) -> DrillRun:
    """Score the drill as it stands at drill time now, keep the score, then stand the
    drill crisis down and close it and its escalations (so no drill stays in a queue)."""
    run = _lock(run)
    _require_running(run)
    _require(
        may_command_crisis(actor, run.crisis),
        "only the drill's commander, the deputy, a lead or an admin may finish it",
    )
    now = clock.now()
    _advance(run, to=now, actor=actor)
    score = score_drill(run, at=now)
    if autoplay_log is not None:
        score["autoplay"] = autoplay_log
    run.score = score
    run.status = DrillRun.Status.FINISHED
    run.finished_at = now
    run.save(update_fields=["score", "status", "finished_at"])
    _record(
        AuditAction.CRISIS_DRILL_FINISHED,
        run=run,
        actor=actor,
        percent=score["percent"],
        totals=score["totals"],
    )
    _close_drill(run, actor=actor, why="drill finished")
    return run


@transaction.atomic
def abandon_drill(*, run: DrillRun, actor: User, reason: str) -> DrillRun:
    run = _lock(run)
    _require_running(run)
    _require(
        may_command_crisis(actor, run.crisis),
        "only the drill's commander, the deputy, a lead or an admin may abandon it",
    )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the drill is abandoned", field="reason")
    run.status = DrillRun.Status.ABANDONED
    run.finished_at = clock.now()
    run.save(update_fields=["status", "finished_at"])
    _record(AuditAction.CRISIS_DRILL_ABANDONED, run=run, actor=actor, reason=reason[:2000])
    _close_drill(run, actor=actor, why=f"drill abandoned: {reason[:200]}")
    return run


def _close_drill(run: DrillRun, *, actor: User, why: str) -> None:
    from watchfloor.escalations.services import transition_escalation

    crisis = run.crisis
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
    run.crisis.refresh_from_db()


def drill_escalations(run: DrillRun) -> list[Escalation]:
    """The escalations the drill's injects opened, in the order they arrived."""
    ids = [
        (inject.outcome or {}).get("escalation_id")
        for inject in run.injects.exclude(injected_at__isnull=True).order_by(
            "injected_at", "sequence"
        )
    ]
    ids = [pk for pk in ids if pk]
    found = Escalation.objects.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


# ---------------------------------------------------------------- scoring


def score_drill(run: DrillRun, *, at: datetime | None = None) -> dict[str, Any]:
    """The drill scored at drill time ``at`` (default: how far its clock has got).

    One item per playbook step of the drill's escalations (skipped-by-condition steps are
    not part of the plan and not listed), per acknowledge, first-action and statutory
    clock, and per sitrep of record that fell due. Each is on time, late, missed (due by
    ``at`` and not done) or not yet due; steps a person skipped are listed, not scored.
    The percentage counts on time as 1, late as ½ and missed as 0 over the scored items.
    """
    from watchfloor.playbooks.models import RunStatus, RunStep, StepState

    end = at or run.sim_now
    start = run.sim_started_at
    spec = scenario_of(run)
    keys = _inject_keys(run, spec)
    items: list[dict[str, Any]] = []

    def add(
        key: str,
        kind: str,
        label: str,
        due: datetime | None,
        done: datetime | None,
        result: str,
        where: str,
    ) -> None:
        items.append(
            {
                "key": key,
                "kind": kind,
                "label": label,
                "where": where,
                "due_at": due.isoformat() if due else None,
                "done_at": done.isoformat() if done else None,
                "due": format_offset(due - start) if due else "",
                "done": format_offset(done - start) if done else "",
                "result": result,
                "result_label": RESULT_LABELS[result],
            }
        )

    def judge(due: datetime, done: datetime | None) -> str:
        if done is not None:
            return "on_time" if done <= due else "late"
        return "missed" if due <= end else "not_due"

    escalations = drill_escalations(run)
    for escalation in escalations:
        prefix = keys.get(escalation.pk, escalation.reference)
        where = f"{escalation.reference} {escalation.type.code}"
        steps = (
            RunStep.objects.filter(run__escalation=escalation, skipped_by_condition=False)
            .exclude(run__status=RunStatus.CANCELLED)
            .select_related("run__version")
            .order_by("run__started_at", "position")
        )
        for step in steps:
            label = f"{step.title} ({step.run.version.code})"
            key = f"{prefix}:{step.step_id}"
            if step.due_at is None:
                continue
            if step.state == StepState.SKIPPED:
                add(key, "step", label, step.due_at, None, "skipped", where)
                continue
            done = step.changed_at if step.state == StepState.DONE else None
            add(key, "step", label, step.due_at, done, judge(step.due_at, done), where)
        for kept in escalation.clocks.filter(kind__in=SCORED_CLOCKS).order_by("due_at", "pk"):
            kind = "statutory" if kept.kind == Clock.Kind.STATUTORY else "severity target"
            add(
                f"{prefix}:{kept.kind}",
                kind,
                kept.label
                + (f" — {kept.basis}" if kept.basis and kept.kind != Clock.Kind.STATUTORY else ""),
                kept.due_at,
                kept.met_at,
                judge(kept.due_at, kept.met_at),
                where,
            )
    crisis = run.crisis
    for sitrep in Sitrep.objects.filter(crisis=crisis, was_due_at__isnull=False).order_by("number"):
        add(
            f"sitrep:{sitrep.number}",
            "sitrep",
            f"{sitrep.audience} sitrep {sitrep.number}",
            sitrep.was_due_at,
            sitrep.sent_at,
            judge(sitrep.was_due_at, sitrep.sent_at),
            crisis.reference,
        )
    crisis.refresh_from_db(fields=["next_sitrep_due_at"])
    if crisis.next_sitrep_due_at is not None and crisis.next_sitrep_due_at <= end:
        number = Sitrep.objects.filter(crisis=crisis, was_due_at__isnull=False).count() + 1
        add(
            f"sitrep:{number}",
            "sitrep",
            f"sitrep {number} (cadence)",
            crisis.next_sitrep_due_at,
            None,
            "missed",
            crisis.reference,
        )
    items.sort(key=lambda item: (item["due_at"] or "", item["key"]))
    totals = Counter(item["result"] for item in items)
    scored = sum(totals[r] for r in CREDIT)
    points = sum(CREDIT[r] * totals[r] for r in CREDIT)
    percent = round(100 * points / scored, 1) if scored else 0.0
    return {
        "scenario": run.scenario_code,
        "title": run.scenario_title,
        "digest": run.scenario_digest,
        "sim_started_at": start.isoformat(),
        "scored_at": end.isoformat(),
        "elapsed": format_offset(end - start),
        "percent": percent,
        "points": points,
        "scored": scored,
        "totals": {result: totals.get(result, 0) for result in RESULT_LABELS},
        "items": items,
        "figures": drill_figures(run),
    }


def _inject_keys(run: DrillRun, spec: Scenario) -> dict[int, str]:
    """escalation id → the id its inject has in the scenario (the score's key prefix)."""
    keys = {}
    for inject in run.injects.all():
        escalation_id = (inject.outcome or {}).get("escalation_id")
        scenario_id = (
            spec.injects[inject.sequence].id if inject.sequence < len(spec.injects) else None
        )
        if escalation_id:
            keys[escalation_id] = scenario_id or f"inject{inject.sequence}"
    return keys


def drill_figures(run: DrillRun) -> dict[str, Any]:
    """What the drill injected: events by kind, and the drill signals by language."""
    by_kind: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    injected = 0
    injects = list(run.injects.all())
    for inject in injects:
        if inject.injected_at is None:
            continue
        injected += 1
        by_kind[inject.kind] += 1
        for language, count in (inject.outcome or {}).get("by_language", {}).items():
            languages[language] += int(count)
    return {
        "injects": len(injects),
        "injected": injected,
        "by_kind": dict(by_kind),
        "signals": sum(languages.values()),
        "signals_by_language": dict(languages.most_common()),
    }


def expectation_failures(score: dict[str, Any], spec: Scenario) -> list[str]:
    """What the scenario's ``expect`` asks that the score does not give (empty: passed)."""
    failures = []
    expect = spec.expect
    if expect.min_score is not None and score["percent"] < expect.min_score:
        failures.append(f"score {score['percent']}% is below the expected {expect.min_score}%")
    by_key: dict[str, list[str]] = {}
    for item in score["items"]:
        by_key.setdefault(item["key"], []).append(item["result"])
    for key in expect.on_time:
        results = by_key.get(key)
        if not results:
            failures.append(f"{key}: not in the score (was it never planned?)")
        elif any(r != "on_time" for r in results):
            failures.append(f"{key}: {', '.join(RESULT_LABELS[r] for r in results)}, not on time")
    if expect.no_failed_responses:
        failed = [r for r in (score.get("autoplay") or {}).get("responses", []) if not r["ok"]]
        for response in failed:
            failures.append(
                f"response at {response['at']} failed: {response['what']}: {response['error']}"
            )
    return failures


# ---------------------------------------------------------------- autoplay


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
        if key and key not in reminded:
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
        _PLAYERS[response.do](run, response, cast)
    except (WatchfloorError, NotFound) as error:
        entry.update(ok=False, error=str(getattr(error, "message", error)))
        with transaction.atomic():
            _record(
                AuditAction.CRISIS_DRILL_RESPONSE_FAILED,
                run=run,
                actor=cast[response.actor],
                response=entry["what"],
                at=response.at,
                error=entry["error"],
            )
    return entry


def _target(run: DrillRun, response: ResponseSpec) -> Escalation:
    escalation = _escalation_of(run, response.escalation or "")
    if escalation is None:
        raise NotFound(f"'{response.escalation}' has not opened an escalation yet")
    return escalation


def _step(run: DrillRun, response: ResponseSpec):
    from watchfloor.playbooks.models import RunStatus, RunStep

    escalation = _target(run, response)
    step = (
        RunStep.objects.filter(run__escalation=escalation, step_id=response.step)
        .exclude(run__status=RunStatus.CANCELLED)
        .select_related("run__version", "run__escalation")
        .order_by("-run__started_at")
        .first()
    )
    if step is None:
        raise NotFound(f"no playbook run on {escalation.reference} has a step '{response.step}'")
    return step


def _acknowledge(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import transition_escalation

    transition_escalation(
        escalation=_target(run, response), to_status=Status.TRIAGED, actor=cast[response.actor]
    )


def _assign(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import assign_escalation

    assign_escalation(
        escalation=_target(run, response), owner=cast[response.to or ""], actor=cast[response.actor]
    )


def _transition(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import transition_escalation

    transition_escalation(
        escalation=_target(run, response),
        to_status=response.to or "",
        actor=cast[response.actor],
        reason=response.reason,
    )


def _complete_step(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    """As a person would: tick the required checklist, approve where asked, record the
    evidence (the file's, or a drill reference) and mark it done."""
    from watchfloor.playbooks.selectors import playbook_spec
    from watchfloor.playbooks.services import approve_step, set_step_state, tick_checklist_item

    step = _step(run, response)
    actor = cast[response.actor]
    step_spec = playbook_spec(step.run.version).step(step.step_id)
    for item in step_spec.checklist:
        if not item.optional:
            step = tick_checklist_item(step=step, item_id=item.id, checked=True, actor=actor)
    if step_spec.approval is not None and step.approved_by_id is None:
        if response.approve_as is None:
            raise InvalidInput(
                f"step '{step.step_id}' needs an approval; say who gives it (approve_as)",
                field="approve_as",
            )
        step = approve_step(step=step, actor=cast[response.approve_as], comment="drill")
    evidence = {item.id: f"DRILL-{run.pk}-{item.id}" for item in step_spec.requires.evidence}
    evidence.update(response.evidence)
    set_step_state(step=step, state="done", actor=actor, evidence=evidence)


def _skip_step(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.services import set_step_state

    set_step_state(
        step=_step(run, response),
        state="skipped",
        actor=cast[response.actor],
        reason=response.reason,
    )


def _start_playbook(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.services import start_playbook_run

    start_playbook_run(
        escalation=_target(run, response),
        playbook_code=response.playbook or "",
        actor=cast[response.actor],
    )


def _assign_playbook_role(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.playbooks.models import PlaybookRun, RunStatus
    from watchfloor.playbooks.services import assign_run_role

    escalation = _target(run, response)
    playbook_run = (
        PlaybookRun.objects.filter(escalation=escalation, status=RunStatus.ACTIVE)
        .order_by("-started_at")
        .first()
    )
    if playbook_run is None:
        raise NotFound(f"no active playbook run on {escalation.reference}")
    assign_run_role(
        run=playbook_run,
        role=response.role or "",
        user=cast[response.to or ""],
        actor=cast[response.actor],
    )


def _record_decision(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import approve_decision, record_decision

    decision_spec = response.decision
    assert decision_spec is not None
    decision = record_decision(
        escalation=_target(run, response),
        actor=cast[response.actor],
        policy_code=decision_spec.policy,
        action_code=decision_spec.action,
        scope=decision_spec.scope,
        rationale=decision_spec.rationale,
        countries=list(decision_spec.countries),
    )
    if decision.state == decision.State.PENDING_APPROVAL:
        if response.approve_as is None:
            raise InvalidInput(
                "the decision needs approval; say who gives it (approve_as)", field="approve_as"
            )
        approve_decision(decision=decision, actor=cast[response.approve_as], comment="drill")


def _send_sitrep(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.crises.drafting import draft_sitrep

    crisis = Crisis.objects.get(pk=run.crisis_id)
    actor = cast[response.actor]
    draft = draft_sitrep(
        crisis=crisis,
        audience=response.audience,
        language=response.language,
        viewer=actor,
        now=clock.now(),
    )
    crisis_services.send_sitrep(
        crisis=crisis,
        audience=response.audience,
        language=response.language,
        subject=draft.subject or f"{crisis.reference} sitrep {draft.number}",
        body=(response.body + "\n\n" if response.body else "") + (draft.body or "(empty draft)"),
        actor=actor,
    )


def _hand_over_role(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    crisis_services.hand_over_role(
        crisis=Crisis.objects.get(pk=run.crisis_id),
        role=response.role or "",
        to_user=cast[response.to or ""],
        actor=cast[response.actor],
        note=response.body,
        market=response.market,
    )


def _change_level(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    crisis_services.change_level(
        crisis=Crisis.objects.get(pk=run.crisis_id),
        to_level=response.to or "",
        actor=cast[response.actor],
        reason=response.reason,
        confirmed_criteria=list(response.confirmed),
    )


def _add_note(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.escalations.services import add_note

    actor = cast[response.actor]
    if response.escalation:
        add_note(escalation=_target(run, response), body=response.body, actor=actor)
    else:
        crisis_services.add_crisis_note(
            crisis=Crisis.objects.get(pk=run.crisis_id),
            body=response.body,
            actor=actor,
            pinned=response.pinned,
        )


def _answer_partner_request(run: DrillRun, response: ResponseSpec, cast: dict[str, User]) -> None:
    from watchfloor.coordination.models import PartnerRequest
    from watchfloor.coordination.services import answer_partner_request

    spec = scenario_of(run)
    sequence = next((i for i, s in enumerate(spec.injects) if s.id == response.inject), None)
    inject = run.injects.filter(sequence=sequence).first() if sequence is not None else None
    request_id = (inject.outcome or {}).get("partner_request_id") if inject else None
    partner_request = PartnerRequest.objects.filter(pk=request_id).first() if request_id else None
    if partner_request is None:
        raise NotFound(f"'{response.inject}' has asked nothing yet")
    answer_partner_request(
        partner_request=partner_request,
        actor=cast[response.actor],
        outcome=response.outcome or "",
        answer=response.answer,
    )


_PLAYERS: dict[str, Callable[[DrillRun, ResponseSpec, dict[str, User]], None]] = {
    "acknowledge": _acknowledge,
    "assign": _assign,
    "transition": _transition,
    "complete_step": _complete_step,
    "skip_step": _skip_step,
    "start_playbook": _start_playbook,
    "assign_playbook_role": _assign_playbook_role,
    "record_decision": _record_decision,
    "send_sitrep": _send_sitrep,
    "hand_over_role": _hand_over_role,
    "change_level": _change_level,
    "add_note": _add_note,
    "answer_partner_request": _answer_partner_request,
}
