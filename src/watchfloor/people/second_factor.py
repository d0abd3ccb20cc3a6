"""The second factor of a browser session: who must have one, and where a session stands.

A password sign-in is only the first step for anyone with a confirmed authenticator app
(they must type its code, or a recovery code) and for the roles that must have one
(``WATCHFLOOR_MFA_REQUIRED_ROLES``, leads and admins by default: until they enrol an app
they can open nothing but the enrolment page). Where a session stands is worked out once
at sign-in and kept in the session, so ordinary requests cost no query; the writes
(enrolment, removal, recovery codes) are services in ``people.services``.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from watchfloor.core.roles import Role, is_admin

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django_otp.models import Device

    from watchfloor.people.models import User

# What the session still owes: "verify" (type a code), "enrol" (set up an app first), or
# "done". Absent in a session signed in before this existed: worked out on its next request.
SESSION_KEY = "watchfloor_second_factor"
Step = Literal["verify", "enrol", "done"]

RECOVERY_DEVICE_NAME = "recovery codes"
AUTHENTICATOR_DEVICE_NAME = "authenticator app"


def requires_second_factor(user: User) -> bool:
    """Whether this person's role obliges them to sign in with an authenticator app."""
    roles = set(settings.WATCHFLOOR_MFA_REQUIRED_ROLES)
    return user.role in roles or (Role.ADMIN in roles and is_admin(user))


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def step_for(user: User, *, verified: bool) -> Step:
    """What a signed-in session of ``user`` still owes, ``verified`` telling whether it
    has already passed a device of theirs."""
    if verified:
        return "done"
    if has_authenticator(user):
        return "verify"
    if requires_second_factor(user):
        return "enrol"
    return "done"


def begin_session(request: HttpRequest, user: User) -> Step:
    """At sign-in (``user_logged_in``): note what the new session owes."""
    step = step_for(user, verified=False)
    request.session[SESSION_KEY] = step
    return step


def pending_step(request: HttpRequest) -> Step:
    """What the signed-in session of this request still owes (``done`` for nobody)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "done"
    step = request.session.get(SESSION_KEY)
    if step not in ("verify", "enrol", "done"):
        verified = bool(getattr(user, "is_verified", lambda: False)())
        step = step_for(user, verified=verified)
        request.session[SESSION_KEY] = step
    return step


def session_needs_second_factor(request: HttpRequest) -> bool:
    return pending_step(request) != "done"


def complete(request: HttpRequest, device: Device) -> None:
    """The session passed ``device``: remember it (django-otp) and owe nothing more."""
    otp_login(request, device)
    request.session[SESSION_KEY] = "done"


def after_removal(request: HttpRequest, user: User) -> None:
    """The person removed their own app: a role that must have one enrols again."""
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    request.session[SESSION_KEY] = "enrol" if requires_second_factor(user) else "done"


def qr_code_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG ``data:`` URI: an <img> the CSP allows, no script."""
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=5, border=2, dark="#000", light="#fff"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def authenticator_secret(device: TOTPDevice) -> str:
    """The key in the base32 form an app asks for when it cannot scan the code."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def recovery_codes_left(user: User) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device is not None else 0
