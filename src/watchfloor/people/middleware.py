from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from watchfloor.core import clock
from watchfloor.people import second_factor


class ViewerTimeZoneMiddleware:
    """Render every time in the signed-in viewer's own time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone_name = getattr(user, "time_zone", None) if user and user.is_authenticated else None
        if zone_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class SecondFactorMiddleware:
    """Hold a password-only session at the second step until it is complete: a person with
    an authenticator app types its code; a role that must have one (leads and admins by
    default) sets one up first. Only the pages that finish signing in (and sign out) stay
    open; the API refuses such a session on its own (``people.auth``).

    Works from what ``people.second_factor`` noted in the session at sign-in: no query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        step = second_factor.pending_step(request)
        if step != "done" and not _open_before_second_factor(request.path_info):
            target = reverse("mfa-verify" if step == "verify" else "mfa-enrol")
            next_path = request.get_full_path()
            if url_has_allowed_host_and_scheme(next_path, allowed_hosts=None):
                target = f"{target}?{urlencode({'next': next_path})}"
            return HttpResponseRedirect(target)
        return self.get_response(request)


def _open_before_second_factor(path: str) -> bool:
    if path.startswith(("/api/", f"/{settings.STATIC_URL.lstrip('/')}")):
        return True
    open_names = ("login", "logout", "mfa-verify", "mfa-enrol", "admin:login", "admin:logout")
    return path in {reverse(name) for name in open_names}


class IdleSessionMiddleware:
    """Sessions end after ``SESSION_COOKIE_AGE`` (12 hours by default) without a request.

    Django renews a session's expiry only when the session is saved; saving it on every
    request (``SESSION_SAVE_EVERY_REQUEST``) would make every page view a database write.
    This touches a signed-in session at most every ``SESSION_RENEW_EVERY`` instead, so
    the expiry trails the last request by at most that much."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            touch_session(request)
        return self.get_response(request)


SESSION_SEEN_KEY = "watchfloor_seen"


def touch_session(request, *, force: bool = False) -> None:
    now = int(clock.now().timestamp())
    seen = request.session.get(SESSION_SEEN_KEY)
    renew_every = int(settings.WATCHFLOOR_SESSION_RENEW_EVERY.total_seconds())
    if force or not isinstance(seen, int) or now - seen >= renew_every:
        request.session[SESSION_SEEN_KEY] = now
