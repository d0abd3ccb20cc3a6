"""Writes about people: accounts, teams, access and leavers, each one audited. API tokens
are in ``api_tokens``, the authenticator app in ``authenticator``, rotas and on-call
overrides in ``rota_changes``."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.core.roles import Role
from watchfloor.core.validation import refuse_control_characters
from watchfloor.core.versions import require_current_version
from watchfloor.people.models import Team, User


def validate_time_zone(name: str, *, field: str = "time_zone") -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"'{name}' is not an IANA time zone (for example Asia/Tokyo or Asia/Singapore)",
            field=field,
        ) from exc
    return name


@dataclass(frozen=True)
class SharedPassword:
    """A password that many accounts are given at once (the new people of a rota file,
    the demo's accounts), hashed once for all of them.

    Hashing is slow on purpose (about a third of a second each with Django's default
    hasher), and a run that creates twenty accounts paid it twenty times. One salt for
    all of them protects nothing less: whoever learns the password of one knows it for
    all. Django checks and upgrades the hash at each person's sign-in as usual."""

    encoded: str

    @classmethod
    def of(cls, password: str) -> SharedPassword:
        return cls(make_password(password))


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str | SharedPassword | None,
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
    names = {"username": username, "first_name": first_name, "last_name": last_name}
    for name, value in names.items():
        refuse_control_characters(value, field=name)
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
    if isinstance(password, SharedPassword):
        user.password = password.encoded
    elif password:
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


# ---------------------------------------------------------------- second factor
# An authenticator app (TOTP) and the recovery codes that stand in for it, one of each
# per person (django-otp's devices). Where a browser session stands is kept by
# people.second_factor; these are the audited writes.


def get_user_by_username(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise NotFound(f"no user named '{username}'", field="username") from exc


def get_user_named_in(username: str, *, field: str) -> User:
    """The user a form or request body names in ``field``: an unknown name is that
    input's fault (:class:`InvalidInput` on ``field``), not a missing page."""
    try:
        return get_user_by_username(username)
    except NotFound as exc:
        raise InvalidInput(exc.message, field=field) from exc


ACCESS_FIELDS = ("role", "team_id", "is_active", "is_staff", "is_superuser")


def refuse_stale_account_edit(*, user: User, expected_version: int | None) -> None:
    """Refuse an edit of ``user`` read at another ``access_version`` (see the model)."""
    require_current_version(
        expected=expected_version,
        current=user.access_version,
        what=f"{user.username}'s account",
        now=(
            f"role {user.role}, team {user.team.code if user.team else 'none'}, "
            f"{'active' if user.is_active else 'deactivated'}"
        ),
    )


@transaction.atomic
def save_user_as_admin(
    *, user: User, actor: User, changed_fields: list[str], expected_version: int | None = None
) -> User:
    """The Django admin's way in: the same validation and an audit event like any write.
    ``expected_version`` is the ``access_version`` the admin's form was opened at: the
    whole account is saved, so a stale form is refused whatever it changes."""
    validate_time_zone(user.time_zone)
    if user.role == Role.PARTNER and (user.team is None or user.team.kind != Team.Kind.PARTNER):
        raise InvalidInput("a partner account needs a partner team", field="team")
    is_new = user.pk is None
    if not is_new:
        stored = User.objects.select_for_update(of=("self",)).select_related("team").get(pk=user.pk)
        refuse_stale_account_edit(user=stored, expected_version=expected_version)
        user.access_version = stored.access_version + (
            1 if any(getattr(stored, f) != getattr(user, f) for f in ACCESS_FIELDS) else 0
        )
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


# ---------------------------------------------------------------- access and leavers
# Role and team changes made for a person by the identity provider (people/sso), and
# deactivation of leavers, which also ends every session they have open.


@transaction.atomic
def change_user_access(
    *, user: User, role: str, team: Team | None, actor: User | None, reason: str
) -> User:
    """Give ``user`` another role or team, with the old and new values in the audit log."""
    if role not in Role.values:
        raise InvalidInput(
            f"unknown role '{role}'; use one of {', '.join(Role.values)}", field="role"
        )
    if role == Role.PARTNER and (team is None or team.kind != Team.Kind.PARTNER):
        raise InvalidInput("a partner account needs a partner team", field="team")
    user = User.objects.select_for_update(of=("self",)).select_related("team").get(pk=user.pk)
    before = {"role": user.role, "team": user.team.code if user.team else None}
    after = {"role": role, "team": team.code if team else None}
    if before == after:
        return user
    user.role = role
    user.team = team
    # The Django admin follows the role, as create_user sets it.
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.access_version += 1
    user.save(update_fields=["role", "team", "is_staff", "is_superuser", "access_version"])
    record_event(
        action=AuditAction.USER_ACCESS_CHANGED,
        actor=actor,
        target=user,
        data={"username": user.username, "from": before, "to": after, "reason": reason},
    )
    return user


@transaction.atomic
def update_user_details(
    *, user: User, first_name: str, last_name: str, email: str, actor: User | None, reason: str
) -> User:
    """Name and email as the directory has them; audited only when something changed."""
    values = {"first_name": first_name[:150], "last_name": last_name[:150], "email": email[:254]}
    changed = sorted(name for name, value in values.items() if getattr(user, name) != value)
    if not changed:
        return user
    for name in changed:
        setattr(user, name, values[name])
    user.save(update_fields=changed)
    record_event(
        action=AuditAction.USER_DETAILS_CHANGED,
        actor=actor,
        target=user,
        data={"username": user.username, "changed": changed, "reason": reason},
    )
    return user


@dataclass(frozen=True)
class Deactivation:
    user: User
    was_active: bool
    sessions_ended: int


@transaction.atomic
def deactivate_user(*, user: User, actor: User | None, reason: str) -> Deactivation:
    """A leaver loses access at once: the account can no longer sign in (by password or
    single sign-on) or use its API tokens, and every session it has open is ended.

    Asking again for an account that is already inactive ends any session left and is
    recorded too, so the log shows each request."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why (e.g. 'left the company on 2026-11-30')", field="reason")
    if len(reason) > 500:
        raise InvalidInput(
            f"reason is {len(reason)} characters long; the limit is 500", field="reason"
        )
    if actor is not None and actor.pk == user.pk:
        raise InvalidInput("an administrator cannot deactivate their own account", field="user")
    user = User.objects.select_for_update().get(pk=user.pk)
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.access_version += 1
        user.save(update_fields=["is_active", "access_version"])
    sessions_ended = end_sessions_of(user)
    record_event(
        action=AuditAction.USER_DEACTIVATED,
        actor=actor,
        target=user,
        data={
            "username": user.username,
            "was_active": was_active,
            "sessions_ended": sessions_ended,
            "reason": reason,
        },
    )
    return Deactivation(user=user, was_active=was_active, sessions_ended=sessions_ended)


def end_sessions_of(user: User) -> int:
    """Delete every stored session signed in as ``user``; how many there were.

    Sessions kept in the database (Django's ``db`` and ``cached_db`` engines) are found and
    deleted. With any other engine nothing is found here, and the account's inactivity
    alone turns its sessions away: every authentication backend Watchfloor uses refuses an
    inactive account when a session is loaded."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        return 0
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    # Session expiry is Django's own, on the real clock, not on Watchfloor's injected one.
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended
