"""The "needs me" page and the header's count (see :mod:`watchfloor.crises.needs_me`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET

from watchfloor.core import clock
from watchfloor.crises.needs_me import needs_me, needs_me_count
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors


@login_required
@require_GET
@shows_domain_errors
def needs_me_page(request: AuthenticatedRequest) -> HttpResponse:
    rows = needs_me(request.user)
    return render(
        request,
        "crises/needs_me.html",
        {"rows": rows, "now": clock.now(), "needs_me_count": len(rows)},
    )


def needs_me_nav(request: HttpRequest) -> dict[str, object]:
    """``needs_me_count`` for the header, counted only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"needs_me_count": SimpleLazyObject(lambda: needs_me_count(user))}
