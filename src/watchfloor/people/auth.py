"""Who is calling the API: a system with a bearer token, or a person in the browser.

Both authenticators return the acting :class:`~watchfloor.people.models.User`, which the
API handlers read from ``request.auth``. A token also carries scopes: each request needs
one of them (``read`` for GET, ``write`` for other methods, ``ingest`` for the signal
batch endpoint), and a token without it is refused with 403 before the handler runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from watchfloor.core.errors import PermissionDenied
from watchfloor.people.api_tokens import check_api_token
from watchfloor.people.http import ApiRequest, TokenRequest
from watchfloor.people.models import TokenScope
from watchfloor.people.second_factor import session_needs_second_factor

if TYPE_CHECKING:
    from django.http import HttpRequest

    from watchfloor.people.models import APIToken, User

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def scope_for_method(method: str | None) -> TokenScope:
    return TokenScope.READ if (method or "GET").upper() in READ_METHODS else TokenScope.WRITE


class TokenAuth(HttpBearer):
    """``Authorization: Bearer wf_…`` with a token made by ``people.api_tokens.create_api_token``.

    ``scope`` names the one scope an operation needs whatever its method (the signal
    batch endpoint needs ``ingest``); without it the method decides."""

    def __init__(self, *, scope: TokenScope | None = None) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> User:
        # A token that was presented but does not work is refused outright (TokenRefused,
        # 401) rather than quietly falling back to a browser session: the system sending
        # it must learn that its token is wrong, expired, revoked or its account inactive.
        api_token = check_api_token(token.strip())
        needed = self.scope or scope_for_method(request.method)
        if needed not in api_token.scopes:
            granted = ", ".join(api_token.scopes) or "none"
            raise PermissionDenied(
                f"the API token {api_token.prefix}… ({api_token.name}) lacks the '{needed}' "
                f"scope this request needs (it has: {granted}); create a token with "
                f"`watchfloor token create {api_token.user.get_username()} --scope {needed}`",
                code="token_scope",
            )
        cast(TokenRequest, request).api_token = api_token
        return api_token.user


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser session, with Django's CSRF check on unsafe methods.

    The CSRF question only arises once a session has identified someone; a request with
    no session at all is simply unauthenticated (401), not forbidden. A session that has
    passed the password but still owes its second factor is not signed in yet."""

    def __call__(self, request: HttpRequest) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if session_needs_second_factor(request):
            raise PermissionDenied(
                "finish signing in: this session still needs its second factor "
                "(open Watchfloor in the browser), or use an API token",
                code="second_factor_required",
            )
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise PermissionDenied(
                "the CSRF token is missing or wrong: send the value of the csrftoken cookie "
                "in an X-CSRFToken header, or use an API token instead of the session",
                code="csrf_failed",
            )
        return user


def api_authenticators(*, scope: TokenScope | None = None) -> list[HttpBearer | SessionAuth]:
    """Tried in order: a token first, so a system never needs a CSRF token."""
    return [TokenAuth(scope=scope), BrowserSessionAuth()]


def request_actor(request: HttpRequest) -> User:
    """The person (or system) an API request acts for: the token's user or the session's,
    as set by :func:`api_authenticators`."""
    return cast(ApiRequest, request).auth


def request_token(request: HttpRequest) -> APIToken | None:
    """The API token the request was authenticated with; None for a browser session."""
    return getattr(request, "api_token", None)
