"""The request type of pages behind ``login_required``: its ``user`` is a person.

Django types ``request.user`` as ``User | AnonymousUser``; every view that requires a
login annotates its request with :class:`AuthenticatedRequest` instead, so the checker
knows the actor passed to services is a real account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from watchfloor.people.models import APIToken, User


class AuthenticatedRequest(HttpRequest):
    user: User


class TokenRequest(HttpRequest):
    """A request ``people.auth.TokenAuth`` let in: it carries the token it checked."""

    api_token: APIToken


class ApiRequest(HttpRequest):
    """A request django-ninja authenticated: it sets ``auth`` to what the authenticator
    returned (``people.auth.api_authenticators`` return the person)."""

    auth: User
