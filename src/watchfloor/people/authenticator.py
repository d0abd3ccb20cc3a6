"""An authenticator app (TOTP) and the recovery codes that stand in for it, one of each per
person (django-otp's devices): enrolled, checked, replaced and removed, each an audited
write. Where a browser session stands is kept by people.second_factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.roles import is_admin
from watchfloor.people.models import User
from watchfloor.people.second_factor import AUTHENTICATOR_DEVICE_NAME, RECOVERY_DEVICE_NAME

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
