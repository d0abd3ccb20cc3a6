"""Scoring a drill: each playbook step, severity target, statutory clock and sitrep of
record that fell due, judged on time, late or missed; and what a scenario's ``expect``
asks of the score."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from watchfloor.crises.config import crisis_config
from watchfloor.crises.models import Sitrep
from watchfloor.drills.models import DrillRun
from watchfloor.drills.scenarios import Scenario, format_offset
from watchfloor.drills.selectors import drill_escalations, drill_figures, scenario_of
from watchfloor.escalations.models import Clock

# The clock kinds scored: resolution targets run for days and a drill lasts hours.
SCORED_CLOCKS = (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION, Clock.Kind.STATUTORY)
# Credit per result: a late item is worth half an on-time one; a missed one nothing.
CREDIT = {"on_time": 1.0, "late": 0.5, "missed": 0.0}
# A drill finished before anything fell due has nothing to score: it says so, rather
# than showing 0.0% as if everything had been missed.
NOT_SCORED = "not scored: nothing was due"
KIND_LABELS = {
    "step": "Playbook step",
    "severity target": "Severity target",
    "statutory": "Statutory deadline",
    "sitrep": "Sitrep",
}
RESULT_LABELS = {
    "on_time": "on time",
    "late": "late",
    "missed": "missed",
    "not_due": "not yet due",
    "skipped": "skipped",
}


def score_text(score: dict[str, Any] | None) -> str:
    """How a kept score reads: "95.5%", or that nothing was due to be scored ("" for a
    drill with no score, such as an abandoned one)."""
    if not score:
        return ""
    if not score.get("scored"):
        return NOT_SCORED
    return f"{score['percent']}%"


def score_drill(run: DrillRun, *, at: datetime | None = None) -> dict[str, Any]:
    """The drill scored at time ``at`` (default: how far its clock has got). The team's
    due times are real ones, so the views and ``finish_drill`` score at the real now.

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
                "kind_label": KIND_LABELS[kind],
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
        where = f"{escalation.reference} · {escalation.type.name}"
        steps = (
            RunStep.objects.filter(run__escalation=escalation, skipped_by_condition=False)
            .exclude(run__status=RunStatus.CANCELLED)
            .order_by("run__started_at", "position")
        )
        for step in steps:
            label = step.title
            key = f"{prefix}:{step.step_id}"
            if step.due_at is None:
                continue
            if step.state == StepState.SKIPPED:
                add(key, "step", label, step.due_at, None, "skipped", where)
                continue
            done = step.changed_at if step.state == StepState.DONE else None
            add(key, "step", label, step.due_at, done, judge(step.due_at, done), where)
        for kept in escalation.clocks.filter(kind__in=SCORED_CLOCKS).order_by("due_at", "pk"):
            if kept.kind == Clock.Kind.STATUTORY:
                # The clock's own label names the rule by its code; its basis is the
                # instrument and the deadline, which is what people know it by.
                kind, label = "statutory", kept.basis or KIND_LABELS["statutory"]
            else:
                kind = "severity target"
                label = kept.label + (f" — {kept.basis}" if kept.basis else "")
            add(
                f"{prefix}:{kept.kind}",
                kind,
                label,
                kept.due_at,
                kept.met_at,
                judge(kept.due_at, kept.met_at),
                where,
            )
    crisis = run.crisis
    assert crisis is not None, "a started drill has its crisis"
    audiences = {a.code: a.name for a in crisis_config().settings.sitreps.audiences}
    for sitrep in Sitrep.objects.filter(crisis=crisis, was_due_at__isnull=False).order_by("number"):
        if sitrep.was_due_at is None:  # pragma: no cover - filtered out by the query
            continue
        add(
            f"sitrep:{sitrep.number}",
            "sitrep",
            f"Sitrep {sitrep.number} to {audiences.get(sitrep.audience, sitrep.audience)}",
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
            f"Sitrep {number}, due on the cadence and not sent",
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


def expectation_failures(score: dict[str, Any], spec: Scenario) -> list[str]:
    """What the scenario's ``expect`` asks that the score does not give (empty: passed)."""
    failures = []
    expect = spec.expect
    if expect.min_score is not None and not score.get("scored"):
        failures.append(f"{NOT_SCORED}; expected at least {expect.min_score}%")
    elif expect.min_score is not None and score["percent"] < expect.min_score:
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
