"""Who is calling the API: a system with a bearer token, or a person in the browser.

Both authenticators return the acting :class:`~watchfloor.people.models.User`, which the
API handlers read from ``request.auth``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from watchfloor.core.errors import PermissionDenied
from watchfloor.people.services import user_for_token

if TYPE_CHECKING:
    from django.http import HttpRequest

    from watchfloor.people.models import User


class TokenAuth(HttpBearer):
    """``Authorization: Bearer wf_…`` with a token made by ``people.services.create_api_token``."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = user_for_token(token.strip())
        if user is None:
            # A token that was presented but does not work is refused outright rather than
            # quietly falling back to a browser session: the system sending it must learn
            # that its token is wrong, revoked or belongs to a deactivated account.
            raise AuthenticationError(
                message="the API token is not valid: it is unknown, revoked, or its account is "
                "inactive; create a new one with `watchfloor token create USERNAME`"
            )
        return user


class BrowserSessionAuth(SessionAuth):
    """The signed-in browser session, with Django's CSRF check on unsafe methods.

    The CSRF question only arises once a session has identified someone; a request with
    no session at all is simply unauthenticated (401), not forbidden.
    """

    def __call__(self, request: HttpRequest) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise PermissionDenied(
                "the CSRF token is missing or wrong: send the value of the csrftoken cookie "
                "in an X-CSRFToken header, or use an API token instead of the session",
                code="csrf_failed",
            )
        return user


def api_authenticators() -> list[HttpBearer | SessionAuth]:
    """Tried in order: a token first, so a system never needs a CSRF token."""
    return [TokenAuth(), BrowserSessionAuth()]


def request_actor(request: HttpRequest) -> User:
    """The person (or system) an API request acts for: the token's user or the session's,
    as set by :func:`api_authenticators`."""
    return request.auth  # type: ignore[attr-defined]
