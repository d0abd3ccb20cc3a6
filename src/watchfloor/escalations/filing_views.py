"""Filing an escalation in the pages: the form, sent once (a one-time token), and the
rubric's verdict on it as typed so far. The filing itself is ``filing.create_escalation``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core.errors import PermissionDenied, WatchfloorError
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import require
from watchfloor.escalations import filing
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.form_tokens import already_redeemed, new_form_token, redeem
from watchfloor.web.views import shows_domain_errors

from .forms import EscalationForm


def _escalation_form(request: AuthenticatedRequest, data: Any = None) -> EscalationForm:
    return EscalationForm(
        data,
        rubric=rubric_for(active_catalog_version()),
        viewer_time_zone=request.user.time_zone,
        initial={"form_token": new_form_token()},
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the back button shows a fresh form, not the one already sent
@shows_domain_errors
def escalation_create(request: AuthenticatedRequest) -> HttpResponse:
    """Post/redirect/get, sent once: a form whose one-time token was already redeemed
    goes to the escalation it filed instead of filing a duplicate."""
    require(can_work_escalations(request.user), "your role cannot create escalations")
    form = _escalation_form(request, request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        token = str(request.POST.get("form_token", ""))
        filed = already_redeemed(request, token)
        if filed is not None:
            messages.info(request, "This form was already sent; here is what it filed.")
            return redirect(filed)
        status = 400
        if form.is_valid():
            try:
                escalation = filing.create_escalation(
                    actor=request.user, details=form.as_service_input()
                )
            except PermissionDenied:
                raise
            except WatchfloorError as error:
                form.add_service_error(error)
                status = error.http_status
            else:
                messages.success(
                    request, f"{escalation.reference} created as {escalation.severity_name}."
                )
                detail = reverse("escalation-detail", args=[escalation.pk])
                redeem(request, token, led_to=detail)
                return redirect(detail)
    return render(request, "escalations/escalation_create.html", {"form": form}, status=status)


@login_required
@require_POST
@shows_domain_errors
def escalation_preview(request: AuthenticatedRequest) -> HttpResponse:
    """The rubric's verdict on the form as typed so far; nothing is saved."""
    require(can_work_escalations(request.user), "your role cannot create escalations")
    form = _escalation_form(request, request.POST)
    form.is_valid()
    form.keep_only_preview_errors()
    explanation = None
    if not form.errors:
        try:
            assessment = filing.preview_severity(
                type_code=form.cleaned_data["type"],
                rubric_answers=form.rubric_answers(),
                statutory_rule_codes=form.statutory_rule_codes(),
            )
        except WatchfloorError as error:
            form.add_service_error(error)
        else:
            explanation = assessment.as_dict()
    return render(
        request,
        "escalations/escalation_create.html",
        {"form": form, "preview": explanation},
        status=400 if form.errors else 200,
    )
