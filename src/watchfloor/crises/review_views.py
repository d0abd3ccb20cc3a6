"""Post-incident review pages: the review and its Markdown export, its edits, and the
status of its action items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from watchfloor.core import clock
from watchfloor.core.errors import NotFound, PermissionDenied, WatchfloorError
from watchfloor.core.validation import require
from watchfloor.crises import selectors, services
from watchfloor.crises.charts import containment_chart
from watchfloor.crises.forms import ActionItemForm, ActionItemStatusForm, ReviewForm, RootCauseForm
from watchfloor.crises.models import ActionItem, Crisis, Level
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.review import review_facts
from watchfloor.crises.review_markdown import review_markdown
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.services import get_user_named_in
from watchfloor.web.forms import ServiceErrorForm
from watchfloor.web.views import shows_domain_errors

REVIEW_FORMS: dict[str, Callable[[AuthenticatedRequest, Any, Any], ServiceErrorForm]] = {
    "review": lambda request, review, data: ReviewForm(
        data,
        prefix="review",
        viewer_time_zone=request.user.time_zone,
        initial={
            "summary": review.summary if review else "",
            "went_well": review.went_well if review else "",
            "went_badly": review.went_badly if review else "",
            "contributing_factors": review.contributing_factors if review else "",
        },
    ),
    "cause": lambda request, review, data: RootCauseForm(data, prefix="cause"),
    "item": lambda request, review, data: ActionItemForm(data, prefix="item"),
}


def _render_review(
    request: AuthenticatedRequest,
    crisis: Crisis,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    facts = review_facts(crisis=crisis, viewer=request.user, now=clock.now())
    editable = may_work_crisis(request.user) and facts.crisis.level in (
        Level.STAND_DOWN,
        Level.CLOSED,
    )
    review_forms = {}
    if editable:
        review_forms = {
            name: bound[1] if bound and bound[0] == name else build(request, facts.review, None)
            for name, build in REVIEW_FORMS.items()
        }
    return render(
        request,
        "crises/review.html",
        {
            "crisis": facts.crisis,
            "facts": facts,
            "volume_chart": containment_chart(
                facts.volume.hours, zone=timezone.get_current_timezone_name()
            )
            if facts.volume and facts.volume.signals_in_window + facts.volume.matches_in_window
            else "",
            "review": facts.review,
            "forms": review_forms,
            "editable": editable,
            "may_update_items": may_work_crisis(request.user),
            "item_statuses": ActionItem.Status.choices,
            "bound_form": bound[0] if bound else "",
            "now": facts.now,
        },
        status=status,
    )


@login_required
@require_GET
@shows_domain_errors
def crisis_review(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    services.record_restricted_view(crisis=crisis, actor=request.user, channel="review")
    return _render_review(request, crisis)


@login_required
@require_GET
@shows_domain_errors
def crisis_review_markdown(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    facts = review_facts(crisis=crisis, viewer=request.user, now=clock.now())
    services.record_review_export(crisis=crisis, actor=request.user, format="markdown")
    response = HttpResponse(review_markdown(facts), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{crisis.reference}-review.md"'
    return response


@login_required
@require_POST
@shows_domain_errors
def crisis_review_update(request: AuthenticatedRequest, crisis_id: int, part: str) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    require(may_work_crisis(request.user), "your role cannot write the post-incident review")
    if part not in REVIEW_FORMS:
        raise NotFound(f"no part '{part}' in a review", field="part")
    review = crisis.review if hasattr(crisis, "review") else None
    form = REVIEW_FORMS[part](request, review, request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            if part == "review":
                services.update_review(
                    crisis=crisis,
                    actor=request.user,
                    summary=data["summary"],
                    went_well=data["went_well"],
                    went_badly=data["went_badly"],
                    contributing_factors=data["contributing_factors"],
                    incident_started_at=data.get("incident_started_at"),
                    contained_at=data.get("contained_at"),
                )
                outcome = "Review saved."
            elif part == "cause":
                assert isinstance(form, RootCauseForm), "REVIEW_FORMS['cause'] is one"
                services.add_root_cause(
                    crisis=crisis,
                    actor=request.user,
                    problem=data["problem"],
                    whys=form.whys(),
                    root_cause=data["root_cause"],
                )
                outcome = "Root cause recorded."
            else:
                services.add_action_item(
                    crisis=crisis,
                    actor=request.user,
                    title=data["title"],
                    owner=get_user_named_in(data["owner"], field="owner"),
                    due_on=data["due_on"],
                )
                outcome = "Action item added."
        except PermissionDenied:
            raise
        except WatchfloorError as error:
            form.add_service_error(error)
            status = error.http_status
        else:
            messages.success(request, outcome)
            return redirect(reverse("crisis-review", args=[crisis.pk]) + f"#review-{part}")
    return _render_review(request, crisis, bound=(part, form), status=status)


@login_required
@require_POST
@shows_domain_errors
def action_item_status(request: AuthenticatedRequest, crisis_id: int, item_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    item = ActionItem.objects.filter(review__crisis=crisis, pk=item_id).first()
    if item is None:
        raise NotFound(f"no action item {item_id} in {crisis.reference}'s review", field="item_id")
    form = ActionItemStatusForm(request.POST, prefix=f"item-{item.pk}")
    if not form.is_valid():
        messages.error(request, "Choose a status.")
    else:
        try:
            services.change_action_item(
                item=item,
                actor=request.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except WatchfloorError as error:
            if error.http_status in (403, 404):
                raise
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"'{item.title}': {ActionItem.Status(form.cleaned_data['status']).label.lower()}.",
            )
    return redirect(reverse("crisis-review", args=[crisis.pk]) + "#review-items")
