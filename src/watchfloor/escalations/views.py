"""The escalation page and its actions (the queue is ``queue_views``, filing
``filing_views``). Each view parses its form, finds the escalation through
``access_escalation`` (so a hidden one is as missing as a missing one), calls one
service or selector, and renders or redirects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from watchfloor.audit.selectors import log_position
from watchfloor.catalog.selectors import rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import NotFound, PermissionDenied, WatchfloorError
from watchfloor.core.roles import can_add_notes, can_override_severity, can_work_escalations
from watchfloor.core.validation import require
from watchfloor.escalations import selectors, services, severity_changes
from watchfloor.escalations.decisions import record_decision, review_refusal
from watchfloor.escalations.hooks import escalation_panels
from watchfloor.escalations.models import Clock, Decision, Escalation, SeverityDowngrade, Status
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import User
from watchfloor.people.services import get_user_by_username
from watchfloor.web.forms import carry_read_version
from watchfloor.web.views import shows_domain_errors

from .forms import (
    AccessForm,
    AssignForm,
    DecisionForm,
    LinkForm,
    MergeForm,
    NoteForm,
    OverrideSeverityForm,
    ReviewForm,
    ServiceErrorForm,
    TransitionForm,
)
from .timeline import (
    CLOCK_STATE_LABELS,
    DELIVERY_ATTEMPT_WORDS,
    TIMELINE_VIEWS,
    fold_delivery_attempts,
    readable_timeline,
)


@dataclass(frozen=True)
class ClockRow:
    clock: Clock
    state: str

    @property
    def state_label(self) -> str:
        return CLOCK_STATE_LABELS.get(self.state, self.state)

    @property
    def is_open(self) -> bool:
        return self.state in ("running", "breached")


@dataclass(frozen=True)
class DowngradeRow:
    downgrade: SeverityDowngrade
    review_form: forms.Form | None  # a ReviewForm, bound when it was just sent
    review_refusal: str = ""


def _downgrade_row(
    downgrade: SeverityDowngrade, user: User, bound: tuple[str, forms.Form] | None
) -> DowngradeRow:
    refusal = severity_changes.downgrade_review_refusal(downgrade=downgrade, actor=user)
    if refusal:
        return DowngradeRow(downgrade, None, refusal)
    name = f"downgrade-{downgrade.pk}"
    form = bound[1] if bound and bound[0] == name else ReviewForm(prefix=name, refusal="reject it")
    return DowngradeRow(downgrade, form)


@dataclass(frozen=True)
class DecisionRow:
    decision: Decision
    review_form: forms.Form | None  # a ReviewForm, bound when it was just sent
    # Why Approve / Send back are not offered to this viewer (e.g. they proposed it).
    review_refusal: str = ""


def _transition_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return TransitionForm(data, prefix="transition", current_status=escalation.status)


def _assign_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return AssignForm(
        data,
        prefix="assign",
        current_owner=escalation.owner.username if escalation.owner else "",
    )


def _note_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return NoteForm(data, prefix="note")


def _link_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return LinkForm(data, prefix="link")


def _merge_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return MergeForm(data, prefix="merge")


def _override_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return OverrideSeverityForm(
        data,
        prefix="override",
        rubric=rubric_for(escalation.catalog_version),
        current=escalation.severity,
    )


def _decision_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return DecisionForm(
        data,
        prefix="decision",
        default_policy=escalation.policy.code if escalation.policy else "",
        final_decisions=[
            (d.pk, d.action.label)
            for d in escalation.decisions.all()
            if d.state == Decision.State.FINAL
        ],
    )


def _access_form(escalation: Escalation, data: Any) -> ServiceErrorForm:
    return AccessForm(
        data,
        prefix="access",
        version=escalation.access_version,
        is_restricted=escalation.is_restricted,
        access_list=[u.username for u in escalation.access_list.all()],
        teams=[t.code for t in escalation.shared_with_teams.all()],
    )


@dataclass(frozen=True)
class ActionForm:
    build: Callable[[Escalation, Any], ServiceErrorForm]
    allowed: Callable[[User], bool]
    refusal: str
    # Work on an escalation happens on the one it was merged into.
    after_merge: bool = False


ACTION_FORMS: dict[str, ActionForm] = {
    "transition": ActionForm(
        _transition_form, can_work_escalations, "your role cannot change an escalation's status"
    ),
    "assign": ActionForm(_assign_form, can_work_escalations, "your role cannot assign escalations"),
    "note": ActionForm(_note_form, can_add_notes, "your role cannot add notes", after_merge=True),
    "decision": ActionForm(
        _decision_form, can_work_escalations, "your role cannot record decisions"
    ),
    "link": ActionForm(
        _link_form, can_work_escalations, "your role cannot link escalations", after_merge=True
    ),
    "merge": ActionForm(_merge_form, can_work_escalations, "your role cannot merge escalations"),
    "override": ActionForm(
        _override_form, can_override_severity, "only a lead or an admin may override severity"
    ),
    "access": ActionForm(
        _access_form,
        can_override_severity,
        "only a lead or an admin may change who can see this",
        after_merge=True,
    ),
}


def _render_detail(
    request: AuthenticatedRequest,
    escalation: Escalation,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    version = log_position()  # before reading, so nothing shown is newer than it
    escalation = selectors.escalation_detail(escalation)
    now = clock.now()
    merged = escalation.merged_into_id is not None
    action_forms = {
        name: bound[1] if bound and bound[0] == name else action.build(escalation, None)
        for name, action in ACTION_FORMS.items()
        if action.allowed(user) and (action.after_merge or not merged)
    }
    downgrades = [
        _downgrade_row(downgrade, user, bound)
        for downgrade in escalation.severity_downgrades.all()
        if downgrade.state == SeverityDowngrade.State.PENDING
    ]
    carry_read_version(action_forms, version)
    decisions = []
    for decision in escalation.decisions.all():
        refusal = review_refusal(decision=decision, actor=user)
        form = None
        if not refusal:
            form = (
                bound[1]
                if bound and bound[0] == f"review-{decision.pk}"
                else ReviewForm(prefix=f"review-{decision.pk}")
            )
        pending = decision.state == Decision.State.PENDING_APPROVAL
        decisions.append(DecisionRow(decision, form, refusal if pending else ""))
    rubric = rubric_for(escalation.catalog_version)
    linked = list(selectors.linked_escalations(escalation=escalation, user=user))
    # The primary market is one of the (prefetched) markets: no query of its own.
    primary_market = next(
        (m for m in escalation.markets.all() if m.pk == escalation.primary_market_id), None
    )
    timeline = readable_timeline(
        selectors.escalation_timeline(
            escalation, viewer=user, linked_visible=[other.pk for other in linked]
        )
    )
    # "work" (the default) folds notification delivery attempts into one line.
    timeline_view = request.GET.get("timeline", "")
    if timeline_view not in TIMELINE_VIEWS:
        timeline_view = "work"
    context = {
        "escalation": escalation,
        "now": now,
        "severity_level": rubric.level(escalation.severity),
        "computed_level": rubric.level(escalation.computed_severity),
        "is_overridden": escalation.severity_overridden_by_id is not None,
        "explanation": escalation.severity_explanation,
        "clocks": [ClockRow(c, c.state(now)) for c in escalation.clocks.all()],
        "primary_market": primary_market,
        "market_zone": primary_market.primary_time_zone if primary_market else "",
        "decisions": decisions,
        "pending_downgrades": downgrades,
        "approval_reason": severity_changes.approval_reason(escalation),
        "linked": linked,
        "timeline": timeline if timeline_view == "all" else fold_delivery_attempts(timeline),
        "timeline_view": timeline_view,
        "delivery_attempts": sum(line.action in DELIVERY_ATTEMPT_WORDS for line in timeline),
        "forms": action_forms,
        "bound_form": bound[0] if bound else "",
    }
    context.update(escalation_panels(escalation=escalation, viewer=user, now=now))
    return render(request, "escalations/escalation_detail.html", context, status=status)


@login_required
@require_GET
@shows_domain_errors
def escalation_detail(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
    escalation = selectors.access_escalation(actor=request.user, escalation_id=escalation_id)
    services.record_restricted_view(escalation=escalation, actor=request.user, channel="web")
    return _render_detail(request, escalation)


Perform = Callable[[AuthenticatedRequest, Escalation, dict[str, Any]], str]


def escalation_action(form_name: str) -> Callable[[Perform], Callable[..., HttpResponseBase]]:
    """A POST that runs one service on a visible escalation.

    The role is checked before the input (so a refused role gets a 403 whatever it sent);
    on success the page redirects back to the escalation with the service's outcome; on
    a service error it is shown again with the input kept and the message at its field.
    """
    action = ACTION_FORMS[form_name]

    def decorate(perform: Perform) -> Callable[..., HttpResponseBase]:
        @login_required
        @require_POST
        @shows_domain_errors
        @wraps(perform)
        def view(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
            escalation = selectors.access_escalation(
                actor=request.user, escalation_id=escalation_id
            )
            require(action.allowed(request.user), action.refusal)
            form = action.build(escalation, request.POST)
            return run_action_form(request, escalation, form_name, form, perform)

        return view

    return decorate


def run_action_form(
    request: AuthenticatedRequest,
    escalation: Escalation,
    form_name: str,
    form: ServiceErrorForm,
    perform: Perform,
) -> HttpResponse:
    status = 400
    if form.is_valid():
        try:
            outcome = perform(request, escalation, form.cleaned_data)
        except WatchfloorError as error:
            if isinstance(error, PermissionDenied) and form.form_field_for(error.field) is None:
                raise
            form.add_service_error(error)
            # A missing other escalation is a mistake in this form, not a missing page.
            status = 400 if isinstance(error, NotFound) else error.http_status
        else:
            messages.success(request, outcome)
            return redirect("escalation-detail", escalation_id=escalation.pk)
    return _render_detail(request, escalation, bound=(form_name, form), status=status)


@escalation_action("transition")
def escalation_transition(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    services.transition_escalation(
        escalation=escalation,
        to_status=data["to_status"],
        actor=request.user,
        reason=data["reason"],
    )
    return f"{escalation.reference} moved to {Status(data['to_status']).label}."


@escalation_action("assign")
def escalation_assign(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    owner = get_user_by_username(data["owner"]) if data["owner"] else None
    services.assign_escalation(
        escalation=escalation, owner=owner, actor=request.user, read_version=data["read_version"]
    )
    return f"{escalation.reference} is now owned by {owner.display_name if owner else 'nobody'}."


@escalation_action("note")
def escalation_note(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    services.add_note(escalation=escalation, body=data["body"], actor=request.user)
    return "Note added."


@escalation_action("link")
def escalation_link(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    other = selectors.access_escalation(actor=request.user, escalation_id=data["other"])
    services.link_escalations(
        escalation=escalation, other=other, actor=request.user, reason=data["reason"]
    )
    return f"{escalation.reference} linked with {other.reference}."


@escalation_action("merge")
def escalation_merge(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    into = selectors.access_escalation(actor=request.user, escalation_id=data["into"])
    services.merge_escalation(
        duplicate=escalation, into=into, actor=request.user, reason=data["reason"]
    )
    return f"{escalation.reference} merged into {into.reference}."


@escalation_action("override")
def escalation_override(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    updated = services.override_severity(
        escalation=escalation,
        severity=data["severity"],
        reason=data["reason"],
        actor=request.user,
    )
    if updated.severity != data["severity"]:
        return (
            f"Lowering {updated.reference} to SEV{data['severity']} is proposed; it stays "
            f"{updated.severity_name} until a second lead or admin approves."
        )
    return f"Severity set to SEV{data['severity']}."


@escalation_action("decision")
def escalation_decide(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    decision = record_decision(
        escalation=escalation,
        actor=request.user,
        policy_code=data["policy"],
        policy_version=data["policy_version"],
        action_code=data["action"],
        countries=data["countries"],
        scope=data["scope"],
        rationale=data["rationale"],
        supersedes=data["supersedes"],
        read_version=data["read_version"],
    )
    if decision.state == Decision.State.PENDING_APPROVAL:
        return "Decision recorded; it needs a second person's approval."
    return "Decision recorded."


@escalation_action("access")
def escalation_access(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
    services.set_access(
        escalation=escalation,
        actor=request.user,
        is_restricted=data["is_restricted"],
        access_usernames=data["access_list"],
        shared_with_team_codes=data["shared_with_teams"],
        expected_version=data["expected_version"],
    )
    return "Access updated."
