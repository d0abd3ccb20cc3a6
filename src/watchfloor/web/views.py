"""Error pages shared by every app's views: a missing-or-hidden object is a 404 page and
a refused permission a 403 page, each with the service's own message."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
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


def shows_domain_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Missing-or-hidden becomes a 404 page and a refused permission a 403 page, each with
    the service's own message."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            return _error_page(request, status=404, message=error.message)
        except PermissionDenied as error:
            return _error_page(request, status=403, message=error.message)

    return wrapper
