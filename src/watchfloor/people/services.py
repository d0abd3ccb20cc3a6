"""Writes about people: accounts, teams, tokens, rotas and on-call overrides. Each one
audited."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_module
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from watchfloor.core.roles import Role, is_admin
from watchfloor.core.validation import clean_text, refuse_control_characters
from watchfloor.core.versions import require_current_version
from watchfloor.people.models import (
    APIToken,
    RotaOverride,
    Rotation,
    RotationMember,
    RotationShift,
    Team,
    TeamRegion,
    TokenScope,
    User,
)
from watchfloor.people.rotafile import default_rota_file, read_rota_file, weekday_numbers
from watchfloor.people.second_factor import AUTHENTICATOR_DEVICE_NAME, RECOVERY_DEVICE_NAME
from watchfloor.people.selectors import rota_references

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


# ---------------------------------------------------------------- second factor
# An authenticator app (TOTP) and the recovery codes that stand in for it, one of each
# per person (django-otp's devices). Where a browser session stands is kept by
# people.second_factor; these are the audited writes.

RECOVERY_CODE_COUNT = 10


@dataclass(frozen=True)
class SecondFactorCheck:
    device: Device
    used_recovery_code: bool
    recovery_codes_left: int


def start_authenticator_enrolment(*, user: User) -> TOTPDevice:
    """The unconfirmed app key shown on the enrolment page (the same one until confirmed).

    Not audited: nothing protects the account until ``confirm_authenticator`` succeeds."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(
            "an authenticator app is already set up for this account; remove it first to "
            "set up another",
            field="device",
        )
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=AUTHENTICATOR_DEVICE_NAME, confirmed=False
        )
    return device


def confirm_authenticator(*, user: User, code: str, actor: User) -> tuple[TOTPDevice, list[str]]:
    """Confirm the app being enrolled with a code it shows; returns the device and a fresh
    set of recovery codes, shown once. A wrong code is refused (and counts towards the
    device's throttle, which must survive the refusal: it commits before raising)."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None:
            raise Conflict(
                "there is no authenticator app waiting to be confirmed; start again from "
                "the sign-in security page",
                field="code",
            )
        allowed, detail = device.verify_is_allowed()
        verified = allowed and device.verify_token(_digits(code))
    if not verified:
        waiting_until = (detail or {}).get("locked_until") if not allowed else None
        raise InvalidInput(_code_refused(waiting_until=waiting_until), field="code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        record_event(
            action=AuditAction.MFA_ENROLLED,
            actor=actor,
            target=user,
            data={
                "username": user.username,
                "device": device.name,
                "recovery_codes": len(codes),
            },
        )
    return device, codes


def check_second_factor(*, user: User, code: str) -> SecondFactorCheck:
    """A code from the person's app, or one of their recovery codes (used up once
    accepted). Refused codes count towards each device's throttle (django-otp doubles the
    wait after each failure)."""
    entered = code.strip().replace(" ", "").replace("-", "").lower()
    if not entered:
        raise InvalidInput("type the 6-digit code your app shows, or a recovery code", field="code")
    accepted: Device | None = None
    with transaction.atomic():
        authenticator = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True)
        recovery = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True)
        devices: list[Device] = [*authenticator, *recovery]
        if not devices:
            raise Conflict(
                "this account has no second factor to check; set up an authenticator app",
                field="code",
            )
        looks_like_app_code = entered.isdigit() and len(entered) <= 8
        # Each device counts its own wrong codes: offer a code only to its kind.
        tried = [
            device for device in devices if isinstance(device, TOTPDevice) == looks_like_app_code
        ]
        waiting_until = None
        for device in tried:
            allowed, detail = device.verify_is_allowed()
            if not allowed and detail and detail.get("locked_until"):
                waiting_until = detail["locked_until"]
                continue
            if device.verify_token(entered):
                accepted = device
                break
    if accepted is None:
        raise InvalidInput(_code_refused(waiting_until=waiting_until), field="code")
    used_recovery_code = isinstance(accepted, StaticDevice)
    left = StaticToken.objects.filter(device__user=user).count()
    if used_recovery_code:
        with transaction.atomic():
            record_event(
                action=AuditAction.MFA_RECOVERY_CODE_USED,
                actor=user,
                target=user,
                data={"username": user.username, "recovery_codes_left": left},
            )
    return SecondFactorCheck(
        device=accepted, used_recovery_code=used_recovery_code, recovery_codes_left=left
    )


@transaction.atomic
def replace_recovery_codes(*, user: User, actor: User) -> list[str]:
    """A new set of recovery codes; the old ones stop working. Shown once."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict(
            "recovery codes stand in for an authenticator app; set up the app first",
            field="device",
        )
    codes = _new_recovery_codes(user)
    record_event(
        action=AuditAction.MFA_RECOVERY_CODES_REPLACED,
        actor=actor,
        target=user,
        data={"username": user.username, "recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def remove_second_factor(*, user: User, actor: User, reason: str = "") -> int:
    """Remove a person's authenticator app and recovery codes: by themselves, or by an
    admin for someone who lost their phone. Returns how many devices were removed."""
    if actor.pk != user.pk and not is_admin(actor):
        raise PermissionDenied(
            "only an administrator may remove someone else's second factor", field="user"
        )
    removed = [
        *TOTPDevice.objects.select_for_update().filter(user=user),
        *StaticDevice.objects.select_for_update().filter(user=user),
    ]
    if not any(device.confirmed for device in removed):
        raise Conflict(f"{user.username} has no second factor to remove", field="user")
    for device in removed:
        device.delete()
    record_event(
        action=AuditAction.MFA_REMOVED,
        actor=actor,
        target=user,
        data={
            "username": user.username,
            "devices": sorted({device.name for device in removed if device.confirmed}),
            "reason": reason.strip()[:500],
        },
    )
    return len(removed)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _digits(code: str) -> str:
    return code.strip().replace(" ", "")


def _code_refused(*, waiting_until: datetime | None) -> str:
    if waiting_until is not None:
        # django-otp doubles the wait after each wrong code (1 s, 2 s, 4 s …).
        return (
            "too many wrong codes: wait until "
            f"{waiting_until.astimezone(UTC):%H:%M:%S} UTC, then type the code your app "
            "shows at that time"
        )
    return (
        "that code is not right: type the 6 digits your app shows now (check the phone's "
        "clock is set automatically), or one of your recovery codes"
    )


def get_user_by_username(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise NotFound(f"no user named '{username}'", field="username") from exc


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


# ---------------------------------------------------------------- rotas and on call

OVERRIDE_MAX = timedelta(days=92)
OVERRIDE_REASON_MAX = 500


@dataclass
class RotaLoadResult:
    path: Path
    digest: str
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    people_created: list[str] = field(default_factory=list)
    teams_updated: list[str] = field(default_factory=list)


def load_rotas(
    *,
    path: Path | None = None,
    actor: User | None,
    new_people_password: str | None = None,
) -> RotaLoadResult:
    """Validate the rota file and make it the one in force.

    Teams listed get their zone, working hours and regions from the file; people listed
    who have no account yet get one (with ``new_people_password``, else none usable);
    each rotation is created or, when it changed, replaced; rotations no longer in the
    file are retired (overrides on them are kept). Raises ``RotaFileError`` with every
    problem, by line, and writes nothing, when the file has any.
    """
    path = Path(path) if path is not None else default_rota_file()
    # Read and check before the transaction opens: no lock is held during file I/O.
    loaded = read_rota_file(path, references=rota_references())
    spec = loaded.spec
    result = RotaLoadResult(path=loaded.path, digest=loaded.digest)
    now = clock.now()
    with transaction.atomic():
        regions: dict[str, dict[str, list[str]]] = {}
        for team_spec in spec.teams:
            team = Team.objects.select_for_update().get(code=team_spec.code)
            hours = team_spec.working_hours
            team.time_zone = team_spec.time_zone
            team.working_hours_start = hours.start if hours else None
            team.working_hours_end = hours.end if hours else None
            team.working_days = weekday_numbers(hours.days) if hours else []
            team.save(
                update_fields=[
                    "time_zone",
                    "working_hours_start",
                    "working_hours_end",
                    "working_days",
                ]
            )
            team.regions.all().delete()
            TeamRegion.objects.bulk_create(
                TeamRegion(
                    team=team,
                    code=region.code,
                    name=region.name,
                    markets=region.markets,
                    position=position,
                )
                for position, region in enumerate(team_spec.regions)
            )
            regions[team.code] = {r.code: list(r.markets) for r in team_spec.regions}
            result.teams_updated.append(team.code)
        teams = {team.code: team for team in Team.objects.all()}
        for person in spec.people:
            if User.objects.filter(username=person.username).exists():
                continue
            create_user(
                username=person.username,
                password=new_people_password,
                role=person.role,
                actor=actor,
                team=teams[person.team],
                time_zone=person.time_zone,
                languages=list(person.languages),
                first_name=person.first_name,
                last_name=person.last_name,
                email=person.email,
            )
            result.people_created.append(person.username)
        users = {
            user.username: user
            for user in User.objects.filter(username__in=_members_named(spec.rotations))
        }
        existing = {rotation.code: rotation for rotation in Rotation.objects.select_for_update()}
        for rotation_spec in spec.rotations:
            markets: list[str] = []
            if rotation_spec.region:
                team_regions = regions.get(rotation_spec.team)
                if team_regions is None:
                    team_regions = {
                        r.code: list(r.markets)
                        for r in TeamRegion.objects.filter(team__code=rotation_spec.team)
                    }
                markets = team_regions[rotation_spec.region]
            digest = rotation_spec.digest(markets)
            rotation = existing.pop(rotation_spec.code, None)
            if rotation is not None and rotation.source_digest == digest and rotation.is_active:
                result.unchanged.append(rotation.code)
                continue
            (result.created if rotation is None else result.changed).append(rotation_spec.code)
            rotation = rotation or Rotation(code=rotation_spec.code)
            rotation.name = rotation_spec.name
            rotation.description = rotation_spec.description
            rotation.team = teams[rotation_spec.team]
            rotation.kind = rotation_spec.kind
            rotation.start_date = rotation_spec.start_date
            rotation.region_code = rotation_spec.region or ""
            rotation.markets = markets
            rotation.is_active = True
            rotation.source_digest = digest
            rotation.loaded_at = now
            rotation.save()
            rotation.shifts.all().delete()
            for position, shift_spec in enumerate(rotation_spec.planned_shifts()):
                shift = RotationShift.objects.create(
                    rotation=rotation,
                    position=position,
                    label=shift_spec.label,
                    time_zone=shift_spec.time_zone,
                    starts=shift_spec.starts,
                    days=weekday_numbers(shift_spec.days),
                    graphic_content_duty=shift_spec.graphic_content_duty,
                )
                RotationMember.objects.bulk_create(
                    RotationMember(shift=shift, position=index, user=users[username])
                    for index, username in enumerate(shift_spec.members)
                )
        for code, rotation in existing.items():
            if rotation.is_active:
                rotation.is_active = False
                rotation.save(update_fields=["is_active"])
                result.retired.append(code)
        record_event(
            action=AuditAction.ROTA_LOADED,
            actor=actor,
            data={
                "file": str(loaded.path),
                "digest": loaded.digest[:12],
                "created": result.created,
                "changed": result.changed,
                "retired": result.retired,
                "people_created": result.people_created,
                "teams": result.teams_updated,
            },
        )
    return result


def _members_named(rotations) -> set[str]:
    return {
        username
        for spec in rotations
        for shift in spec.planned_shifts()
        for username in shift.members
    }


def may_manage_rotation(user: User, rotation: Rotation) -> bool:
    """Leads and admins, and the rotation's own team (people swap shifts among themselves)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user) or user.role == Role.LEAD:
        return True
    return user.role != Role.VIEWER and user.team_id == rotation.team_id


def _aware_utc(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "times must carry their zone or offset, e.g. 2026-11-26T09:00:00+09:00", field=field
        )
    return value.astimezone(UTC)


@transaction.atomic
def create_rota_override(
    *,
    rotation: Rotation,
    user: User,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: User,
    replaces: User | None = None,
) -> RotaOverride:
    """Put ``user`` on call instead of ``replaces`` (or of whoever is due) for a period."""
    if not may_manage_rotation(actor, rotation):
        raise PermissionDenied(
            f"only a lead, an admin or a member of {rotation.team.name} may change who is on call"
        )
    starts_at = _aware_utc(starts_at, field="starts_at")
    ends_at = _aware_utc(ends_at, field="ends_at")
    if ends_at <= starts_at:
        raise InvalidInput("the override must end after it starts", field="ends_at")
    if ends_at <= clock.now():
        raise InvalidInput(
            "the override would already be over; who was on call in the past is not rewritten",
            field="ends_at",
        )
    if ends_at - starts_at > OVERRIDE_MAX:
        raise InvalidInput(
            f"an override lasts at most {OVERRIDE_MAX.days} days; change the rota file for longer",
            field="ends_at",
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why (e.g. 'swap with Lee, public holiday')", field="reason")
    reason = clean_text(reason, field="reason", max_length=OVERRIDE_REASON_MAX, required=True)
    if not user.is_active or user.team_id != rotation.team_id:
        raise InvalidInput(
            f"{user.username} is not an active member of {rotation.team.name}", field="user"
        )
    members = set(
        RotationMember.objects.filter(shift__rotation=rotation).values_list("user_id", flat=True)
    )
    if replaces is not None and replaces.pk not in members:
        raise InvalidInput(
            f"{replaces.username} is not on the {rotation.code} rotation", field="replaces"
        )
    if replaces is not None and replaces.pk == user.pk:
        raise InvalidInput("someone cannot stand in for themselves", field="replaces")
    override = RotaOverride.objects.create(
        rotation=rotation,
        user=user,
        replaces=replaces,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
        created_at=clock.now(),
    )
    record_event(
        action=AuditAction.ROTA_OVERRIDE_CREATED,
        actor=actor,
        target=override,
        data={
            "rotation": rotation.code,
            "team": rotation.team.code,
            "user": user.username,
            "replaces": replaces.username if replaces else None,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    return override


@transaction.atomic
def cancel_rota_override(*, override: RotaOverride, actor: User, reason: str = "") -> RotaOverride:
    override = (
        RotaOverride.objects.select_for_update()
        .select_related("rotation__team")
        .get(pk=override.pk)
    )
    if not may_manage_rotation(actor, override.rotation):
        raise PermissionDenied(
            f"only a lead, an admin or a member of {override.rotation.team.name} may change "
            "who is on call"
        )
    if override.cancelled_at is not None:
        raise Conflict("this override is already cancelled", field="override")
    if override.ends_at <= clock.now():
        raise Conflict("this override is over; it stays as the record of who was on call")
    override.cancelled_at = clock.now()
    override.cancelled_by = actor
    override.save(update_fields=["cancelled_at", "cancelled_by"])
    record_event(
        action=AuditAction.ROTA_OVERRIDE_CANCELLED,
        actor=actor,
        target=override,
        data={
            "rotation": override.rotation.code,
            "user": override.user.username,
            "starts_at": override.starts_at,
            "ends_at": override.ends_at,
            "reason": (reason or "").strip()[:OVERRIDE_REASON_MAX],
        },
    )
    return override


@transaction.atomic
def record_rota_export(
    *, rotation: Rotation, actor: User | None, starts_at: datetime, ends_at: datetime, channel: str
) -> None:
    """Who took a rotation's schedule (names and hours of people) out of the system."""
    record_event(
        action=AuditAction.ROTA_EXPORTED,
        actor=actor,
        target=rotation,
        data={
            "rotation": rotation.code,
            "from": starts_at,
            "to": ends_at,
            "format": "ics",
            "channel": channel,
        },
    )
