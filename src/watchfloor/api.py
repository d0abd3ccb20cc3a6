"""The HTTP API, mounted at /api/v1/.

Every endpoint needs a caller: a system with ``Authorization: Bearer wf_…`` or a signed-in
browser session (with CSRF on unsafe methods). Every error is JSON of one shape,
``{"code", "message", "field"}``, whether it comes from a service (``core.errors``), from
request validation, from authentication, from a body that is not JSON, too large or
names a key twice, or from a failure of the server itself.

Bodies are read strictly (``core.validation.decode_strict_json``): a key given twice in
one object, ``NaN`` and ``Infinity`` are refused, where Python's decoder would keep the
last value or a number JSON does not have.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signals as request_signals
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, path, re_path, reverse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger, _csrf_needed
from ninja.parser import Parser

from watchfloor.banks.api import router as banks_router
from watchfloor.coordination.api import router as coordination_router
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.validation import DuplicateKey, decode_strict_json
from watchfloor.crises.api import router as crises_router
from watchfloor.escalations.api import router as escalations_router
from watchfloor.escalations.search_views import router as search_router
from watchfloor.evidence.api import router as evidence_router
from watchfloor.people.api import router as people_router
from watchfloor.people.auth import api_authenticators
from watchfloor.people.sso.api import router as accounts_router
from watchfloor.signals.api import router as signals_router
from watchfloor.warning.api import router as warning_router

logger = logging.getLogger("django.request")


class StrictJsonParser(Parser):
    """Request bodies as strict JSON; ninja turns what this raises into an ``HttpError``
    whose cause ``http_error`` below reads."""

    def parse_body(self, request: HttpRequest) -> Any:
        return decode_strict_json(request.body.decode("utf-8"))


class LocalSwagger(Swagger):
    """ninja's Swagger UI page drawn with the files ninja ships (no CDN). ninja does so
    only when it is an installed app, which would import it in every command at
    start-up; its template and static directories are in the settings instead."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


api = NinjaAPI(
    title="Watchfloor API",
    version="1",
    description=(
        "Escalations, their severity, clocks and decisions. Authenticate with "
        "`Authorization: Bearer wf_…` (see `watchfloor token create`; a token's scopes say "
        "what it may do: read for GET, write for other methods, ingest for signal batches) "
        "or a browser session. "
        'Errors are always `{"code", "message", "field"}`. Times are RFC 3339; responses '
        "give them in UTC."
    ),
    urls_namespace="api-v1",
    docs=LocalSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=api_authenticators(),
    parser=StrictJsonParser(),
)
api.add_router("/", escalations_router)
api.add_router("/", signals_router)
api.add_router("/", coordination_router)
api.add_router("/", people_router)
api.add_router("/", accounts_router)
api.add_router("/crises", crises_router)
api.add_router("/", banks_router)
api.add_router("/", evidence_router)
api.add_router("/", warning_router)
api.add_router("/", search_router)


# ---------------------------------------------------------------- errors


def error_response(
    request: HttpRequest, *, status: int, code: str, message: str, field: str | None = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "field": field}, status=status
    )


def dotted(field: str | None) -> str | None:
    """Services name list items as ``markets[0]``; the API says ``markets.0`` everywhere."""
    return re.sub(r"\[(\d+)\]", r".\1", field) if field else field


@api.exception_handler(WatchfloorError)
def domain_error(request: HttpRequest, exc: WatchfloorError) -> HttpResponse:
    return error_response(
        request,
        status=exc.http_status,
        code=exc.code,
        message=exc.message,
        field=dotted(exc.field),
    )


# Where a request value can come from, and the name each handler gives its body/query
# schema; neither is part of the field's name as the client knows it.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}
_WRAPPERS = {"payload", "filters"}


def _location(loc: tuple[Any, ...]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    if parts and parts[0] in _WRAPPERS:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or None


def _describe(error: dict[str, Any], field: str | None) -> str:
    """A sentence a person can act on, for the common pydantic error types."""
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    subject = field or "the request body"
    if kind == "missing":
        return f"{subject} is required"
    if kind == "extra_forbidden":
        return f"{subject} is not a field of this request; check the spelling"
    if kind == "string_too_long":
        return f"{subject} is too long; the limit is {context.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{subject} must not be empty"
    if kind == "too_long":
        return f"{subject} has too many items; the limit is {context.get('max_length')}"
    if kind in ("enum", "literal_error"):
        return f"{subject} must be one of {context.get('expected')}"
    if kind == "timezone_aware":
        return f"{subject} must carry its UTC offset or zone, e.g. 2026-11-26T09:00:00+09:00"
    if kind.startswith("datetime_"):
        return (
            f"{subject} is not an RFC 3339 time with an offset, e.g. 2026-11-26T09:00:00+09:00 "
            f"({error.get('msg', '').lower()})"
        )
    if kind == "model_attributes_type" or kind == "model_type" or kind == "dict_type":
        return f"{subject} must be a JSON object"
    message = str(error.get("msg", "is not valid"))
    message = message.removeprefix("Value error, ")
    return f"{subject}: {message[0].lower()}{message[1:]}" if message else f"{subject} is not valid"


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = _location(tuple(first.get("loc", ())))
    message = _describe(first, field)
    if len(exc.errors) > 1:
        message += f" (and {len(exc.errors) - 1} more problem{'s' if len(exc.errors) > 2 else ''})"
    return error_response(request, status=422, code="invalid", message=message, field=field)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = exc.message
    if message == "Unauthorized":  # ninja's default, when no authenticator recognised anything
        message = (
            "sign in, or send an API token as 'Authorization: Bearer wf_…' "
            "(create one with `watchfloor token create USERNAME --scope read`)"
        )
    return error_response(request, status=401, code="unauthenticated", message=message)


_HTTP_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and exc.message.startswith("Cannot parse request body"):
        cause = exc.__cause__
        if isinstance(cause, DuplicateKey):
            return error_response(
                request,
                status=400,
                code="duplicate_key",
                message=f"the request body gives the key {cause.key!r} twice in one object; "
                "send each key once",
                field=cause.key,
            )
        if isinstance(cause, RequestDataTooBig):
            return body_too_large(request, cause)
        return error_response(
            request,
            status=400,
            code="malformed_json",
            message="the request body is not valid JSON; send a JSON object "
            "with Content-Type: application/json",
        )
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(request, status=exc.status_code, code=code, message=exc.message)


@api.exception_handler(RequestDataTooBig)
def body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(
        request,
        status=413,
        code="body_too_large",
        message=f"the request body is larger than {limit:,} bytes, the limit for this "
        "endpoint; send less (signals go in batches to /signals:batch)",
    )


@api.exception_handler(SuspiciousOperation)
def refused_request(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """Django's other refusals of a request (too many fields, a bad header)."""
    logger.warning("Refused API request to %s: %s", request.path, exc)
    return error_response(request, status=400, code="bad_request", message=str(exc))


@api.exception_handler(DjangoPermissionDenied)
def django_forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return error_response(
        request, status=403, code="forbidden", message=str(exc) or "permission denied"
    )


@api.exception_handler(Exception)
def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A failure of the server is JSON too. It is logged as Django logs an unhandled
    exception, and announced the same way (``got_request_exception``), so error
    reporting and the test client still see it."""
    logger.error(
        "Internal Server Error: %s",
        request.path,
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    request_signals.got_request_exception.send(sender=None, request=request)
    return error_response(
        request,
        status=500,
        code="server_error",
        message="the server failed to answer this request; it has been logged. Try again, "
        "and tell an administrator if it keeps failing",
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, status=404, code="not_found", message="not found")


def unknown_endpoint(request: HttpRequest) -> HttpResponse:
    """Anything else under /api/v1/ is a JSON 404 too, not the web UI's HTML page."""
    return error_response(
        request,
        status=404,
        code="not_found",
        message=f"there is no API endpoint at {request.path}; the endpoints are listed at "
        f"{reverse(f'{api.urls_namespace}:openapi-view')}",
    )


def _json_method_not_allowed(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """Ninja answers a method a path does not take with a plain-text 405 before any
    handler runs; this gives it the one error shape, keeping its ``Allow`` header."""

    @functools.wraps(view)  # keeps csrf_exempt: ninja checks CSRF itself
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = ", ".join(sorted(response["Allow"].split(", ")))
            answer = error_response(
                request,
                status=405,
                code="method_not_allowed",
                message=f"{request.method} is not allowed on {request.path}; it takes {allowed}",
            )
            answer["Allow"] = allowed
            return answer
        return response

    return checked


def _endpoints() -> list[Any]:
    patterns = []
    for pattern in api.urls[0]:
        if getattr(pattern, "name", None) == "api-root":
            continue
        if isinstance(pattern, URLPattern):
            pattern.callback = _json_method_not_allowed(pattern.callback)
        patterns.append(pattern)
    return patterns


# Mounted by the project's urls.py with include("watchfloor.api"), under the namespace
# the API reverses its own URLs in (docs → openapi.json). Ninja's own root view answers
# with Django's HTML 404, so it gives way to ours under the same name.
urlpatterns = [
    *_endpoints(),
    path("", unknown_endpoint, name="api-root"),
    re_path(r"", unknown_endpoint),
]
app_name = api.urls_namespace
