"""The playbook actions on an escalation page, and the template preview page.

Each view finds the escalation through ``access_escalation`` first (so a hidden one is
as missing as a missing one, and a partner reaches only escalations shared with their
team), then calls one service. Actions come back to the escalation page, at the run
panel, with the service's outcome or its error as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import access_escalation
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import User
from watchfloor.playbooks import communications, selectors, services, step_work
from watchfloor.playbooks.forms import (
    ApproveStepForm,
    CancelRunForm,
    ChecklistForm,
    CommunicationForm,
    RoleForm,
    StartRunForm,
    StepStateForm,
)
from watchfloor.playbooks.models import StepState
from watchfloor.web.views import shows_domain_errors


def _back(escalation: Escalation, anchor: str = "playbooks") -> HttpResponse:
    return redirect(reverse("escalation-detail", args=[escalation.pk]) + f"#{anchor}")


def _form_problem(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(map(str, errors))}" if name != "__all__" else " ".join(map(str, errors))
        for name, errors in form.errors.items()
    )


Action = Callable[Concatenate[AuthenticatedRequest, Escalation, ...], tuple[str, str]]


def escalation_post(action: Action) -> Callable[..., HttpResponseBase]:
    """A POST on a visible escalation: run ``action``; show its outcome or its error."""

    @login_required
    @require_POST
    @shows_domain_errors
    @wraps(action)
    def view(request: AuthenticatedRequest, escalation_id: int, **kwargs: Any) -> HttpResponse:
        escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
        try:
            outcome, anchor = action(request, escalation, **kwargs)
        except WatchfloorError as error:
            if error.http_status in (403, 404):
                raise
            messages.error(request, error.message)
            return _back(escalation)
        messages.success(request, outcome)
        return _back(escalation, anchor)

    return view


def _valid(form: forms.Form) -> dict[str, Any]:
    if not form.is_valid():
        raise InvalidInput(_form_problem(form))
    return form.cleaned_data


@escalation_post
def run_start(request: AuthenticatedRequest, escalation: Escalation) -> tuple[str, str]:
    data = _valid(StartRunForm(request.POST))
    run = services.start_playbook_run(
        escalation=escalation, playbook_code=data["playbook"], actor=request.user
    )
    return f"Playbook '{run.version.name}' started.", f"run-{run.pk}"


@escalation_post
def run_cancel(
    request: AuthenticatedRequest, escalation: Escalation, run_id: int
) -> tuple[str, str]:
    run = selectors.get_run(escalation=escalation, run_id=run_id)
    data = _valid(CancelRunForm(request.POST))
    services.cancel_playbook_run(run=run, actor=request.user, reason=data["reason"])
    return f"Playbook '{run.version.name}' cancelled.", f"run-{run.pk}"


@escalation_post
def run_role(request: AuthenticatedRequest, escalation: Escalation, run_id: int) -> tuple[str, str]:
    run = selectors.get_run(escalation=escalation, run_id=run_id)
    data = _valid(RoleForm(request.POST))
    user = None
    if data["user"]:
        user = User.objects.filter(username=data["user"], is_active=True).first()
        if user is None:
            raise InvalidInput(f"no user named '{data['user']}'", field="user")
    services.assign_run_role(run=run, role=data["role"], user=user, actor=request.user)
    who = user.display_name if user else "nobody"
    return f"{data['role'].replace('_', ' ').capitalize()}: {who}.", f"run-{run.pk}"


@escalation_post
def step_state(
    request: AuthenticatedRequest, escalation: Escalation, step_id: int
) -> tuple[str, str]:
    step = selectors.get_step(escalation=escalation, step_id=step_id)
    spec = selectors.playbook_spec(step.run.version).step(step.step_id)
    form = StepStateForm(request.POST, step=spec)
    data = _valid(form)
    step_work.set_step_state(
        step=step,
        state=data["state"],
        actor=request.user,
        reason=data["reason"],
        evidence=form.evidence(),
    )
    return f"'{step.title}': {StepState(data['state']).label.lower()}.", f"step-{step.pk}"


@escalation_post
def step_checklist(
    request: AuthenticatedRequest, escalation: Escalation, step_id: int
) -> tuple[str, str]:
    step = selectors.get_step(escalation=escalation, step_id=step_id)
    data = _valid(ChecklistForm(request.POST))
    step_work.tick_checklist_item(
        step=step, item_id=data["item"], checked=bool(data["checked"]), actor=request.user
    )
    return ("Ticked." if data["checked"] else "Unticked."), f"step-{step.pk}"


@escalation_post
def step_approve(
    request: AuthenticatedRequest, escalation: Escalation, step_id: int
) -> tuple[str, str]:
    step = selectors.get_step(escalation=escalation, step_id=step_id)
    data = _valid(ApproveStepForm(request.POST))
    step_work.approve_step(step=step, actor=request.user, comment=data["comment"])
    return f"'{step.title}' approved.", f"step-{step.pk}"


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def template_preview(
    request: AuthenticatedRequest,
    escalation_id: int,
    template_code: str,
    step_id: int | None = None,
) -> HttpResponse:
    """Preview a template filled in for this escalation (GET, or POST with ``preview``);
    POST with ``send`` records it as sent and returns to the escalation."""
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    step = selectors.get_step(escalation=escalation, step_id=step_id) if step_id else None
    _, spec = selectors.get_template(template_code)
    form = CommunicationForm(
        request.POST if request.method == "POST" else request.GET or None, template=spec
    )
    status = 200
    language, inputs = "", {}
    if form.is_bound and form.is_valid():
        language, inputs = form.cleaned_data["language"], form.inputs()
    preview = None
    try:
        preview = communications.preview_template(
            escalation=escalation,
            template_code=template_code,
            language=language,
            inputs=inputs,
            step=step,
        )
    except WatchfloorError as error:
        form.add_service_error(error)
        status = 400
    if request.method == "POST" and "send" in request.POST and preview is not None:
        if form.is_valid():
            try:
                communications.record_communication_sent(
                    escalation=escalation,
                    template_code=template_code,
                    language=preview.language,
                    channel=form.cleaned_data["channel"],
                    recipient=form.cleaned_data["recipient"],
                    actor=request.user,
                    inputs=inputs,
                    step=step,
                )
            except WatchfloorError as error:
                if error.http_status in (403, 404):
                    raise
                form.add_service_error(error)
                status = 400
            else:
                messages.success(request, f"Recorded as sent: {spec.name} ({preview.language}).")
                return _back(escalation, f"step-{step.pk}" if step else "playbooks")
        else:
            status = 400
    return render(
        request,
        "playbooks/template_preview.html",
        {
            "escalation": escalation,
            "step": step,
            "template": spec,
            "preview": preview,
            "form": form,
        },
        status=status,
    )
