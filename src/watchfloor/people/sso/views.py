"""Sign-in with the identity provider: ``/sso/start/`` sends the browser there, and
``/sso/callback/`` receives it back. Both answer 404 when single sign-on is off."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from watchfloor.people.sso.accounts import SSOAccessRefused
from watchfloor.people.sso.config import current_config


def _require_sso() -> None:
    if current_config() is None:
        raise Http404("single sign-on is not configured")


class SSOStartView(OIDCAuthenticationRequestView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _require_sso()
        return super().dispatch(request, *args, **kwargs)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _require_sso()
        try:
            return super().dispatch(request, *args, **kwargs)
        except SSOAccessRefused as refusal:
            return sso_refused(request, message=refusal.message)

    def login_failure(self) -> HttpResponse:
        # A cancelled sign-in, a stale or replayed callback, or a token that failed a
        # check: no account is involved, so there is nothing more to say than to retry.
        return sso_refused(
            self.request,
            message="Signing in did not complete. Start again from the sign-in page.",
        )


def sso_refused(request: HttpRequest, *, message: str) -> HttpResponse:
    config = current_config()
    return render(
        request,
        "people/sso_refused.html",
        {"message": message, "provider_name": config.provider_name if config else ""},
        status=403,
    )
