"""Signing in safely: the second step after the password, setting up an authenticator app,
recovery codes, and the sign-in page's answer when too many attempts failed.

Thin views over ``people.services`` (the audited writes) and ``people.second_factor``
(where the session stands)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from watchfloor.core.errors import WatchfloorError
from watchfloor.people import second_factor
from watchfloor.people.authenticator import (
    check_second_factor,
    confirm_authenticator,
    remove_second_factor,
    replace_recovery_codes,
    start_authenticator_enrolment,
)
from watchfloor.people.http import AuthenticatedRequest


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _refuse(form: forms.Form, error: WatchfloorError) -> None:
    form.add_error("code" if error.field == "code" else None, error.message)


@login_required
def verify(request: AuthenticatedRequest) -> HttpResponse:
    """The second step of signing in: a code from the app, or a recovery code."""
    if second_factor.pending_step(request) != "verify":
        return HttpResponseRedirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = check_second_factor(user=request.user, code=form.cleaned_data["code"])
        except WatchfloorError as error:
            _refuse(form, error)
        else:
            second_factor.complete(request, result.device)
            if result.used_recovery_code:
                return render(
                    request,
                    "people/mfa_recovery_used.html",
                    {"left": result.recovery_codes_left, "next": _next_url(request)},
                )
            return HttpResponseRedirect(_next_url(request))
    return render(request, "people/mfa_verify.html", {"form": form, "next": _next_url(request)})


@login_required
def enrol(request: AuthenticatedRequest) -> HttpResponse:
    """Set up an authenticator app: scan the code (or type the key), confirm with a code."""
    user = request.user
    if second_factor.has_authenticator(user):
        return HttpResponseRedirect(reverse("account-security"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = confirm_authenticator(
                user=user, code=form.cleaned_data["code"], actor=user
            )
        except WatchfloorError as error:
            _refuse(form, error)
        else:
            second_factor.complete(request, device)
            return render(
                request,
                "people/mfa_recovery_codes.html",
                {"codes": codes, "next": _next_url(request), "first_time": True},
            )
    device = start_authenticator_enrolment(user=user)
    context: dict[str, Any] = {
        "form": form,
        "next": _next_url(request),
        "otpauth_uri": device.config_url,
        "qr_code": second_factor.qr_code_data_uri(device.config_url),
        "secret": second_factor.authenticator_secret(device),
        "required": second_factor.requires_second_factor(user),
    }
    return render(request, "people/mfa_enrol.html", context)


@login_required
def security(request: AuthenticatedRequest) -> HttpResponse:
    """A person's own sign-in security: their app, their recovery codes."""
    user = request.user
    context = {
        "has_authenticator": second_factor.has_authenticator(user),
        "recovery_codes_left": second_factor.recovery_codes_left(user),
        "required": second_factor.requires_second_factor(user),
    }
    return render(request, "people/account_security.html", context)


@login_required
@require_POST
def new_recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    try:
        codes = replace_recovery_codes(user=request.user, actor=request.user)
    except WatchfloorError as error:
        return render(
            request,
            "web/error.html",
            {"title": "No recovery codes", "message": error.message},
            status=409,
        )
    return render(
        request,
        "people/mfa_recovery_codes.html",
        {"codes": codes, "next": reverse("account-security"), "first_time": False},
    )


@login_required
@require_POST
def remove(request: AuthenticatedRequest) -> HttpResponse:
    try:
        remove_second_factor(user=request.user, actor=request.user, reason="removed by its owner")
    except WatchfloorError as error:
        return render(
            request,
            "web/error.html",
            {"title": "Nothing to remove", "message": error.message},
            status=409,
        )
    second_factor.after_removal(request, request.user)
    return HttpResponseRedirect(reverse("account-security"))


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer when sign-ins are refused: the sign-in page, saying why and for
    how long (``AXES_LOCKOUT_CALLABLE``)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        "Too many failed sign-ins for this account or from this address. Signing in is "
        f"paused for {minutes} minutes, even with the right password. If it was not you, "
        "tell an administrator."
    )
    form = AuthenticationForm(request, data=None)
    return render(
        request,
        "web/login.html",
        {"form": form, "lockout_message": message, "next": _next_url(request)},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
