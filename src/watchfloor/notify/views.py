"""The notification pages: the delivery log, acknowledging (in the UI and by link), and
a person's own quiet hours. Each view finds what it acts on through a selector that
applies need to know, then calls one service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.core.errors import NotFound, WatchfloorError
from watchfloor.core.validation import require
from watchfloor.escalations.selectors import access_escalation
from watchfloor.notify import acknowledgement, channels, delivery, permissions, selectors
from watchfloor.notify.forms import DeliveryFilterForm, QuietHoursForm
from watchfloor.notify.models import NotificationPreference
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors

DELIVERIES_PAGE_SIZE = 50


@login_required
@require_GET
@shows_domain_errors
def deliveries(request: AuthenticatedRequest) -> HttpResponse:
    require(
        permissions.may_manage_deliveries(request.user),
        "the delivery log is for leads and administrators",
    )
    form = DeliveryFilterForm(request.GET)
    notifications = selectors.delivery_log(user=request.user, filters=form.filters())
    page = Paginator(notifications, DELIVERIES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notify/deliveries.html",
        {"form": form, "page": page, "counts": selectors.status_counts(user=request.user)},
    )


@login_required
@require_POST
@shows_domain_errors
def retry_delivery(request: AuthenticatedRequest, notification_id: int) -> HttpResponse:
    notification = selectors.get_visible_notification(
        user=request.user, notification_id=notification_id
    )
    try:
        delivery.retry_notification(notification=notification, actor=request.user)
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, f"Notification {notification.pk} queued to be tried again.")
    return redirect(reverse("notify-deliveries") + f"#notification-{notification.pk}")


@login_required
@require_POST
@shows_domain_errors
def acknowledge(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    try:
        acknowledgement.acknowledge_escalation(escalation=escalation, actor=request.user)
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, "Acknowledged: nobody else will be paged for this.")
    return redirect(reverse("escalation-detail", args=[escalation.pk]) + "#pager")


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a notification email. GET only shows what it will do (mail scanners
    and link previews fetch links); the button POSTs, which is what acknowledges."""
    context: dict[str, Any] = {"token": token, "link": None, "done": None, "problem": ""}
    status = 200
    try:
        if request.method == "POST":
            context["done"] = acknowledgement.acknowledge_by_link(token=token)
        else:
            context["link"] = acknowledgement.inspect_ack_link(token)
            context["problem"] = context["link"].message
    except NotFound as error:
        context["problem"], status = error.message, 404
    except WatchfloorError as error:
        context["problem"], status = error.message, error.http_status
    return render(request, "notify/acknowledge.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def preferences(request: AuthenticatedRequest) -> HttpResponse:
    current = NotificationPreference.objects.filter(user=request.user).first()
    initial = {
        "quiet_hours_start": current.quiet_hours_start if current else None,
        "quiet_hours_end": current.quiet_hours_end if current else None,
    }
    form = QuietHoursForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                channels.set_quiet_hours(
                    user=request.user,
                    start=form.cleaned_data["quiet_hours_start"],
                    end=form.cleaned_data["quiet_hours_end"],
                    actor=request.user,
                )
            except WatchfloorError as error:
                if error.http_status in (403, 404):
                    raise
                form.add_service_error(error)
                status = 400
            else:
                messages.success(request, "Quiet hours saved.")
                return redirect("notify-preferences")
        else:
            status = 400
    return render(
        request,
        "notify/preferences.html",
        {"form": form, "time_zone": request.user.time_zone},
        status=status,
    )
