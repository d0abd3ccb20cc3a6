"""The drill pages: the scenarios and past runs, starting a drill, the drill page (its
clock, the next inject, what has arrived, "inject the next event now", finish) and the
score.

In UI play the drill clock is the real clock, so reading the drill page brings the
injects up to now (``services.advance_drill``, idempotent, acting as the person who
started the drill); ``static/drills/drill.js`` reloads the page when the next one falls
due. Each view finds the run through ``selectors.access_drill`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied, WatchfloorError
from watchfloor.crises.permissions import may_command_crisis
from watchfloor.drills import clock as drill_clock
from watchfloor.drills import scoring, selectors, services
from watchfloor.drills.models import DrillInject, DrillRun
from watchfloor.drills.permissions import may_start_drill
from watchfloor.drills.scenario_files import (
    ScenarioError,
    read_scenario,
    read_scenarios,
    scenario_paths,
)
from watchfloor.drills.scenarios import KIND_LABELS, format_offset
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors


@login_required
@require_GET
@shows_domain_errors
def drill_list(request: AuthenticatedRequest) -> HttpResponse:
    scenarios, problems = read_scenarios(scenario_paths())
    return render(
        request,
        "drills/list.html",
        {
            "scenarios": scenarios,
            "problems": problems,
            "runs": list(selectors.drills_visible_to(request.user)[:50]),
            "may_start": may_start_drill(request.user),
        },
    )


@login_required
@require_POST
@shows_domain_errors
def drill_start(request: AuthenticatedRequest) -> HttpResponse:
    if not may_start_drill(request.user):
        raise PermissionDenied("only a lead or an admin may start a drill")
    code = request.POST.get("scenario", "")
    path = next((p for p in scenario_paths() if p.stem == code), None)
    if path is None:
        messages.error(request, "choose one of the scenarios listed")
        return redirect("drills")
    try:
        scenario = read_scenario(path, check_catalog=True)
    except ScenarioError as error:
        messages.error(request, f"{code} cannot be played: {error.problems[0]}")
        return redirect("drills")
    run = services.start_drill(scenario=scenario, actor=request.user)
    assert run.crisis is not None, "start_drill declares the drill crisis"
    messages.success(
        request, f"Drill started: {run.crisis.reference} is the drill crisis. Nobody is notified."
    )
    return redirect("drill-detail", run_id=run.pk)


@dataclass(frozen=True)
class Upcoming:
    inject: DrillInject
    # When it arrives in real time, at the drill clock's speed now.
    arrives_at: datetime


def _drill_context(request: AuthenticatedRequest, run: DrillRun) -> dict[str, Any]:
    now = clock.now()
    spec = selectors.scenario_of(run)
    injects = list(run.injects.order_by("sequence"))
    upcoming = sorted(
        (i for i in injects if i.injected_at is None), key=lambda i: (i.due_at, i.sequence)
    )
    ends_at = run.sim_started_at + spec.length
    running = run.status == DrillRun.Status.RUNNING
    drill_now = drill_clock.drill_time(run, now=now) if running else run.sim_now
    return {
        "run": run,
        "crisis": run.crisis,
        "spec": spec,
        "now": now,
        "drill_now": drill_now,
        "drill_elapsed": format_offset(drill_now - run.sim_started_at),
        "ends_at": ends_at,
        "ends_real_at": drill_clock.real_time_of(run, ends_at),
        "arrived": sorted(
            (i for i in injects if i.injected_at is not None), key=lambda i: i.injected_at
        ),
        "upcoming": [Upcoming(i, drill_clock.real_time_of(run, i.due_at)) for i in upcoming],
        "next_inject": upcoming[0] if upcoming else None,
        "next_arrives_at": drill_clock.real_time_of(run, upcoming[0].due_at) if upcoming else None,
        "figures": selectors.drill_figures(run),
        "kind_labels": KIND_LABELS,
        "names": selectors.inject_names(injects),
        "speeds": drill_clock.SPEEDS,
        "may_command": running
        and run.crisis is not None
        and may_command_crisis(request.user, run.crisis),
    }


@login_required
@require_GET
@shows_domain_errors
def drill_detail(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    if run.status == DrillRun.Status.RUNNING:
        services.advance_drill(
            run=run, to=drill_clock.drill_time(run, now=clock.now()), actor=run.started_by
        )
        run.refresh_from_db()
    return render(request, "drills/detail.html", _drill_context(request, run))


@login_required
@require_POST
@shows_domain_errors
def drill_speed(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    try:
        speed = int(request.POST.get("speed", ""))
    except ValueError:
        speed = 0
    try:
        run = services.set_drill_speed(run=run, speed=speed, actor=request.user)
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The drill clock runs at ×{run.speed}.")
    return redirect("drill-detail", run_id=run.pk)


@login_required
@require_POST
@shows_domain_errors
def drill_step(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    try:
        inject = services.step_to_next_inject(run=run, actor=request.user)
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"The drill clock moved on to {format_offset(inject.offset)}: {inject.title}"
        )
    return redirect("drill-detail", run_id=run.pk)


@login_required
@require_POST
@shows_domain_errors
def drill_inject(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    try:
        inject = services.inject_next_now(run=run, actor=request.user)
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Injected now: {inject.title}")
    return redirect("drill-detail", run_id=run.pk)


@login_required
@require_POST
@shows_domain_errors
def drill_finish(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    try:
        run = services.finish_drill(run=run, actor=request.user)
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
        return redirect("drill-detail", run_id=run.pk)
    if run.score.get("scored"):
        messages.success(request, f"Drill finished: {scoring.score_text(run.score)}.")
    else:
        messages.success(request, f"Drill finished, {scoring.NOT_SCORED}.")
    return redirect("drill-score", run_id=run.pk)


@login_required
@require_POST
@shows_domain_errors
def drill_abandon(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    try:
        services.abandon_drill(run=run, actor=request.user, reason=request.POST.get("reason", ""))
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
        return redirect("drill-detail", run_id=run.pk)
    messages.success(request, "Drill abandoned; its crisis and escalations are closed.")
    return redirect(reverse("drills"))


@login_required
@require_GET
@shows_domain_errors
def drill_score(request: AuthenticatedRequest, run_id: int) -> HttpResponse:
    """The kept score of a finished drill; for one still running, the score so far."""
    run = selectors.access_drill(actor=request.user, run_id=run_id)
    provisional = run.status == DrillRun.Status.RUNNING
    score = scoring.score_drill(run, at=clock.now()) if provisional else run.score
    failures = []
    # A scenario's expectations are written for its scripted play (autoplay).
    if run.autoplay and run.status == DrillRun.Status.FINISHED and score:
        failures = scoring.expectation_failures(score, selectors.scenario_of(run))
    return render(
        request,
        "drills/score.html",
        {
            "run": run,
            "crisis": run.crisis,
            "score": score,
            "provisional": provisional,
            "failures": failures,
            "responses": (score.get("autoplay") or {}).get("responses", []) if score else [],
        },
    )
