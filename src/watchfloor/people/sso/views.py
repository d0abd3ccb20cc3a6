"""Sign-in with the identity provider: ``/sso/start/`` sends the browser there, and
``/sso/callback/`` receives it back. Both answer 404 when single sign-on is off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import requests
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from watchfloor.people.sso.accounts import SSOAccessRefused, record_refusal
from watchfloor.people.sso.config import SSOConfig, current_config

logger = logging.getLogger(__name__)

DID_NOT_COMPLETE = "Signing in did not complete. Start again from the sign-in page."


def _require_sso() -> SSOConfig:
    config = current_config()
    if config is None:
        raise Http404("single sign-on is not configured")
    return config


def only_with_sso(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 before the library's view is even made (it reads its settings when made)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _require_sso()
        return view(request, *args, **kwargs)

    return guarded


class SSOStartView(OIDCAuthenticationRequestView):
    pass


class SSOCallbackView(OIDCAuthenticationCallbackView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        config = _require_sso()
        try:
            return super().dispatch(request, *args, **kwargs)
        except SSOAccessRefused as refusal:
            return sso_refused(request, message=refusal.message)
        except SuspiciousOperation as exc:
            # A replayed or forged callback, or an ID token that failed a check (issuer,
            # audience, signature, nonce): nobody is signed in, and an administrator can
            # see why in the audit log.
            logger.warning("single sign-on refused: %s", exc)
            record_refusal(reason="token_rejected", data={"problem": str(exc)[:500]})
            return sso_refused(request, message=DID_NOT_COMPLETE)
        except requests.RequestException as exc:
            logger.warning("single sign-on: the identity provider did not answer: %s", exc)
            return sso_refused(
                request,
                message=(
                    f"{config.provider_name} did not answer Watchfloor. "
                    "Try again in a minute; if it persists, tell your administrator."
                ),
                status=502,
            )

    def login_failure(self) -> HttpResponse:
        # A cancelled sign-in, a stale or replayed callback, or a token that failed a
        # check: no account is involved, so there is nothing more to say than to retry.
        return sso_refused(self.request, message=DID_NOT_COMPLETE)


def sso_refused(request: HttpRequest, *, message: str, status: int = 403) -> HttpResponse:
    config = current_config()
    return render(
        request,
        "people/sso_refused.html",
        {"message": message, "provider_name": config.provider_name if config else ""},
        status=status,
    )
