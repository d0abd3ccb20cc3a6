"""API tokens: issued for a person with scopes and a lifetime, checked on every API
request, revoked; only the secret's hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.validation import refuse_control_characters
from watchfloor.people.models import APIToken, TokenScope, User

TOKEN_PREFIX = "wf_"  # noqa: S105 (a public prefix, not a secret)


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# How long a token lives unless its creator says otherwise, and the longest allowed.
TOKEN_LIFETIME_MAX = timedelta(days=366)


# last_used_at is written at most this often per token, so a busy pipeline does not
# turn every API read into a database write.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def default_token_lifetime() -> timedelta:
    return timedelta(days=settings.WATCHFLOOR_API_TOKEN_DAYS)


def parse_token_scopes(scopes: Iterable[str], *, field: str = "scopes") -> list[str]:
    """The scopes named, in the vocabulary's order; refuses an empty list and unknown names."""
    named = {scope.strip().lower() for scope in scopes if scope.strip()}
    unknown = sorted(named - set(TokenScope.values))
    if unknown:
        raise InvalidInput(
            f"unknown token scope {', '.join(repr(name) for name in unknown)}; "
            f"use {', '.join(TokenScope.values)}",
            field=field,
        )
    if not named:
        raise InvalidInput(
            "a token needs at least one scope: read (GET), write (other methods), "
            "ingest (signal batches) or matcher",
            field=field,
        )
    return [scope for scope in TokenScope.values if scope in named]


@transaction.atomic
def create_api_token(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    actor: User | None,
    lifetime: timedelta | None = None,
) -> tuple[APIToken, str]:
    """Returns the token row and the secret, which is never stored and cannot be shown again.

    ``scopes`` say what the token may do (``TokenScope``); ``lifetime`` defaults to
    ``WATCHFLOOR_API_TOKEN_DAYS`` (90 days) and may not pass a year."""
    if not name.strip():
        raise InvalidInput("a token needs a name that says which system uses it", field="name")
    refuse_control_characters(name, field="name")
    granted = parse_token_scopes(scopes)
    lifetime = default_token_lifetime() if lifetime is None else lifetime
    if not timedelta(hours=1) <= lifetime <= TOKEN_LIFETIME_MAX:
        raise InvalidInput(
            f"a token lives from one hour to {TOKEN_LIFETIME_MAX.days} days, not {lifetime}; "
            "create a new token before the old one expires",
            field="lifetime",
        )
    now = clock.now()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user,
        name=name.strip()[:100],
        prefix=secret[:10],
        token_hash=_hash_token(secret),
        scopes=granted,
        created_at=now,
        expires_at=now + lifetime,
    )
    record_event(
        action=AuditAction.TOKEN_CREATED,
        actor=actor,
        target=token,
        data={
            "user": user.username,
            "name": token.name,
            "prefix": token.prefix,
            "scopes": granted,
            "expires_at": token.expires_at,
        },
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, token: APIToken, actor: User | None) -> APIToken:
    token = APIToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.revoked_at is not None:
        raise Conflict(
            f"token {token.prefix}… ({token.name}) was already revoked at "
            f"{token.revoked_at:%Y-%m-%d %H:%M} UTC",
            field="token",
        )
    token.revoked_at = clock.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    record_event(
        action=AuditAction.TOKEN_REVOKED,
        actor=actor,
        target=token,
        data={"user": token.user.username, "name": token.name, "prefix": token.prefix},
    )
    return token


class TokenRefused(PermissionDenied):
    """A presented token that does not work, with the reason its holder may act on."""

    code = "unauthenticated"
    http_status = 401


def check_api_token(secret: str) -> APIToken:
    """The working token a presented secret belongs to, or ``TokenRefused`` saying why.

    Read-only apart from ``last_used_at``, which is bookkeeping, not an audited change.
    The holder of the secret is told whether it expired or was revoked: they already hold
    it, and a pipeline's operator needs to know which to fix."""
    token = None
    if secret.startswith(TOKEN_PREFIX):
        token = (
            APIToken.objects.select_related("user").filter(token_hash=_hash_token(secret)).first()
        )
    if token is None:
        raise TokenRefused(
            "the API token is not valid: no such token; create one with "
            "`watchfloor token create USERNAME --scope read`"
        )
    now = clock.now()
    state = token.state_at(now)
    if state == "revoked":
        raise TokenRefused(
            f"the API token {token.prefix}… ({token.name}) was revoked at "
            f"{token.revoked_at:%Y-%m-%d %H:%M} UTC; create a new one"
        )
    if state == "expired":
        raise TokenRefused(
            f"the API token {token.prefix}… ({token.name}) expired at "
            f"{token.expires_at:%Y-%m-%d %H:%M} UTC; create a new one"
        )
    if not token.user.is_active:
        raise TokenRefused(
            f"the API token {token.prefix}… ({token.name}) belongs to an inactive account"
        )
    note_api_token_used(token=token, now=now)
    return token


def note_api_token_used(*, token: APIToken, now: datetime) -> None:
    """Keep ``last_used_at`` to the minute: one conditional UPDATE at most per minute."""
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_USE_RESOLUTION:
        return
    APIToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOKEN_USE_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now


def user_for_token(secret: str) -> User | None:
    """The active user a presented token belongs to, or None."""
    try:
        return check_api_token(secret).user
    except TokenRefused:
        return None
