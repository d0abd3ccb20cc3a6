"""Error pages shared by every app's views: a missing-or-hidden object is a 404 page and
a refused permission a 403 page, each with the service's own message."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from watchfloor.core.errors import NotFound, PermissionDenied


def _error_page(request: HttpRequest, *, status: int, message: str) -> HttpResponse:
    titles = {403: "Not allowed", 404: "Not found"}
    return render(
        request,
        "web/error.html",
        {"title": titles.get(status, "Something went wrong"), "message": message},
        status=status,
    )


def shows_domain_errors(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Missing-or-hidden becomes a 404 page and a refused permission a 403 page, each with
    the service's own message."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            return _error_page(request, status=404, message=error.message)
        except PermissionDenied as error:
            return _error_page(request, status=403, message=error.message)

    return wrapper


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """The admin site's sign-in page, for whoever it will not let in.

    Someone signed in without an admin's role is told plainly that the admin site is not
    for their role, rather than asked to sign in again as someone else; anyone else gets
    the admin site's own sign-in (throttled, and followed by the second factor).
    """
    if request.user.is_authenticated and not request.user.is_staff:
        return _error_page(
            request,
            status=403,
            message="The admin site is not for your role: it is for administrators, who "
            "manage people, teams and configuration. What you can do is in the menu above.",
        )
    return admin.site.login(request)
