"""The partner inbox, a request's page with its answer form, and the escalation's
partner-requests page (the panel of the escalation page, on a page of its own).

Each view finds what it works on through ``access_escalation`` or
``access_partner_request`` first (a hidden one is as missing as a missing one), calls one
service or selector, and renders or redirects.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.coordination import hooks, permissions, selectors, services
from watchfloor.coordination.forms import AnswerForm, InboxFilterForm, WithdrawForm
from watchfloor.coordination.models import AnswerOutcome, PartnerRequest, RequestKind
from watchfloor.coordination.panel import ask_form, requests_panel
from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied, WatchfloorError
from watchfloor.core.roles import Role
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import access_escalation
from watchfloor.escalations.services import record_restricted_view
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors

INBOX_PAGE_SIZE = 50


@login_required
@require_GET
@shows_domain_errors
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    """A partner's requests (their team's), or for site policy every request they may see:
    open ones first, the nearest deadline first, so the overdue lead."""
    user = request.user
    is_partner = user.role == Role.PARTNER
    form = InboxFilterForm(request.GET, show_team=not is_partner)
    data = form.cleaned_data if form.is_valid() else {}
    now = clock.now()
    filters = selectors.InboxFilters(
        statuses=form.statuses(),
        team=data.get("team", ""),
        kind=data.get("kind", ""),
        overdue_only=bool(data.get("overdue")),
    )
    page = Paginator(
        selectors.inbox(user=user, filters=filters, now=now), INBOX_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "coordination/inbox.html",
        {
            "form": form,
            "page": page,
            "rows": selectors.request_rows(list(page.object_list), now=now),
            "counts": selectors.inbox_counts(user=user, now=now),
            "is_partner": is_partner,
            "now": now,
        },
    )


def _request_page(
    request: AuthenticatedRequest,
    partner_request: PartnerRequest,
    *,
    answer_form: AnswerForm | None = None,
    withdraw_form: WithdrawForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    now = clock.now()
    may_answer = partner_request.is_open and permissions.may_answer(user, partner_request)
    may_withdraw = partner_request.is_open and permissions.may_withdraw(user)
    return render(
        request,
        "coordination/request_detail.html",
        {
            "partner_request": partner_request,
            "row": selectors.request_rows([partner_request], now=now)[0],
            "escalation": partner_request.escalation,
            "answer_form": (answer_form or AnswerForm(prefix="answer")) if may_answer else None,
            "withdraw_form": (withdraw_form or WithdrawForm(prefix="withdraw"))
            if may_withdraw
            else None,
            "outcomes": AnswerOutcome.choices,
            "now": now,
            **hooks.request_panels(partner_request=partner_request, viewer=user, now=now),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def request_detail(request: AuthenticatedRequest, request_id: int) -> HttpResponse:
    """The request, the escalation it is about, and (for the team asked) the answer form."""
    partner_request = selectors.access_partner_request(actor=request.user, request_id=request_id)
    if request.method == "GET":
        record_restricted_view(
            escalation=partner_request.escalation, actor=request.user, channel="web"
        )
        return _request_page(request, partner_request)
    if not permissions.may_answer(request.user, partner_request):
        raise PermissionDenied(
            f"only members of {partner_request.team.name} may answer this request"
        )
    form = AnswerForm(request.POST, prefix="answer")
    status = 400
    if form.is_valid():
        try:
            services.answer_partner_request(
                partner_request=partner_request,
                actor=request.user,
                outcome=form.cleaned_data["outcome"],
                answer=form.cleaned_data["answer"],
                attachments=form.cleaned_data["attachments"],
            )
        except WatchfloorError as error:
            if error.http_status in (403, 404):
                raise
            form.add_service_error(error)
            status = error.http_status
        else:
            messages.success(
                request,
                f"{partner_request.reference} answered: "
                f"{AnswerOutcome(form.cleaned_data['outcome']).label.lower()}. "
                f"It is on {partner_request.escalation.reference}'s timeline.",
            )
            return redirect("partner-request", request_id=partner_request.pk)
    return _request_page(request, partner_request, answer_form=form, status=status)


@login_required
@require_POST
@shows_domain_errors
def request_withdraw(request: AuthenticatedRequest, request_id: int) -> HttpResponse:
    partner_request = selectors.access_partner_request(actor=request.user, request_id=request_id)
    if not permissions.may_withdraw(request.user):
        raise PermissionDenied("your role cannot withdraw partner requests")
    form = WithdrawForm(request.POST, prefix="withdraw")
    status = 400
    if form.is_valid():
        try:
            services.withdraw_partner_request(
                partner_request=partner_request,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except WatchfloorError as error:
            if error.http_status in (403, 404):
                raise
            form.add_service_error(error)
            status = error.http_status
        else:
            messages.success(request, f"{partner_request.reference} withdrawn.")
            return redirect("partner-request", request_id=partner_request.pk)
    return _request_page(request, partner_request, withdraw_form=form, status=status)


def _back_to(request: AuthenticatedRequest, escalation: Escalation) -> str:
    """Where the ask form came from (the escalation page or this app's page), else here."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if allowed and target.startswith(f"/escalations/{escalation.pk}/"):
        return target.split("#")[0] + "#partner-requests"
    return reverse("escalation-partner-requests", args=[escalation.pk]) + "#partner-requests"


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def escalation_requests(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
    """GET: the escalation's requests and the ask form on a page of their own. POST: ask."""
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    form = None
    status = 200
    if request.method == "GET":
        record_restricted_view(escalation=escalation, actor=request.user, channel="web")
    if request.method == "POST":
        if not permissions.may_ask_partners(request.user):
            raise PermissionDenied("your role cannot ask partner teams")
        form = ask_form(escalation=escalation, viewer=request.user, data=request.POST)
        status = 400
        if form.is_valid():
            try:
                sent = services.send_partner_request(
                    escalation=escalation, actor=request.user, **form.service_arguments()
                )
            except WatchfloorError as error:
                if error.http_status in (403, 404):
                    raise
                form.add_service_error(error)
                status = error.http_status
            else:
                shared = (
                    f" {escalation.reference} is now shared with them."
                    if sent.shared_escalation
                    else ""
                )
                messages.success(
                    request,
                    f"{RequestKind(sent.kind).label} asked of {sent.team.name} ({sent.reference})."
                    + shared,
                )
                return redirect(_back_to(request, escalation))
    now = clock.now()
    return render(
        request,
        "coordination/escalation_requests.html",
        {
            "escalation": escalation,
            "partner_requests": requests_panel(
                escalation=escalation, viewer=request.user, now=now, form=form
            ),
            "now": now,
        },
        status=status,
    )
