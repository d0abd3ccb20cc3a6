"""Writes about people: accounts, teams, tokens. Each one audited."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.core.roles import Role
from watchfloor.people.models import APIToken, Team, User

TOKEN_PREFIX = "wf_"  # noqa: S105 (a public prefix, not a secret)


def validate_time_zone(name: str, *, field: str = "time_zone") -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"'{name}' is not an IANA time zone (for example Asia/Tokyo or Asia/Singapore)",
            field=field,
        ) from exc
    return name


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str | None,
    role: str,
    actor: User | None,
    team: Team | None = None,
    time_zone: str = "UTC",
    languages: list[str] | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    if role not in Role.values:
        raise InvalidInput(
            f"unknown role '{role}'; use one of {', '.join(Role.values)}", field="role"
        )
    if role == Role.PARTNER and (team is None or team.kind != Team.Kind.PARTNER):
        raise InvalidInput("a partner account needs a partner team", field="team")
    validate_time_zone(time_zone)
    if User.objects.filter(username=username).exists():
        raise InvalidInput(f"user '{username}' already exists", field="username")
    user = User(
        username=username,
        role=role,
        team=team,
        time_zone=time_zone,
        languages=languages or [],
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    record_event(
        action=AuditAction.USER_CREATED,
        actor=actor,
        target=user,
        data={"username": username, "role": role, "team": team.code if team else None},
    )
    return user


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, user: User, name: str, actor: User | None) -> tuple[APIToken, str]:
    """Returns the token row and the secret, which is never stored and cannot be shown again."""
    if not name.strip():
        raise InvalidInput("a token needs a name that says which system uses it", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user,
        name=name.strip()[:100],
        prefix=secret[:10],
        token_hash=_hash_token(secret),
        created_at=clock.now(),
    )
    record_event(
        action=AuditAction.TOKEN_CREATED,
        actor=actor,
        target=token,
        data={"user": user.username, "name": token.name, "prefix": token.prefix},
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, token: APIToken, actor: User | None) -> APIToken:
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])
    record_event(action=AuditAction.TOKEN_REVOKED, actor=actor, target=token, data={})
    return token


def user_for_token(secret: str) -> User | None:
    """The active user a presented token belongs to, or None. Read-only: no audit."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        APIToken.objects.select_related("user")
        .filter(token_hash=_hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token.user


def get_user_by_username(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise NotFound(f"no user named '{username}'", field="username") from exc


@transaction.atomic
def save_user_as_admin(*, user: User, actor: User, changed_fields: list[str]) -> User:
    """The Django admin's way in: the same validation and an audit event like any write."""
    validate_time_zone(user.time_zone)
    if user.role == Role.PARTNER and (user.team is None or user.team.kind != Team.Kind.PARTNER):
        raise InvalidInput("a partner account needs a partner team", field="team")
    is_new = user.pk is None
    user.save()
    record_event(
        action=AuditAction.USER_CREATED if is_new else AuditAction.USER_CHANGED,
        actor=actor,
        target=user,
        # Never the password hash, only that it changed.
        data={"username": user.username, "role": user.role, "changed": sorted(changed_fields)},
    )
    return user


@transaction.atomic
def save_team_as_admin(*, team: Team, actor: User, changed_fields: list[str]) -> Team:
    team.save()
    record_event(
        action=AuditAction.TEAM_CHANGED,
        actor=actor,
        target=team,
        data={"code": team.code, "changed": sorted(changed_fields)},
    )
    return team
