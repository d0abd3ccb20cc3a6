"""An HMA-compatible surface, so a system built for Meta's Hasher-Matcher-Actioner (such
as ROOST Coop) can point at Watchfloor instead: ``GET /m/raw_lookup``, ``GET|POST
/m/lookup`` and ``POST /h/hash``, with HMA's parameters, response shapes and error
shape (``{"message": ...}``). Authentication is Watchfloor's: ``Authorization: Bearer``
with a token that has the ``matcher`` scope; only banks the token's user may see are
searched. Matches answered through ``/m/lookup`` are recorded and become work like those
of ``/api/v1/match``; ``/m/raw_lookup`` is HMA's low-level index query and is not.
Fetching media by URL (HMA's ``url=`` parameter) is not offered: POST the file.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from watchfloor.banks.hashing import md5_of_file, pdq_of_image
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, QueryResult, match
from watchfloor.banks.models import MatchChannel
from watchfloor.banks.selectors import banks_visible_to
from watchfloor.core.errors import InvalidInput, WatchfloorError
from watchfloor.people.auth import TokenAuth
from watchfloor.people.http import TokenRequest
from watchfloor.people.models import TokenScope

if TYPE_CHECKING:
    from watchfloor.people.models import User

# HMA's signal type names (python-threatexchange's) beside Watchfloor's own.
HMA_SIGNAL_TYPES = {"video_md5": "md5", "raw_text": "text"}
# What each HMA content type (the multipart field's name) is hashed into.
CONTENT_TYPES = ("photo", "video")
NO_URL = "fetching media by URL is not offered here: POST the file as multipart form data"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


class MatcherRequest(TokenRequest):
    """A request :func:`hma_endpoint` let in: it names the token's user."""

    hma_user: User


def hma_endpoint(
    view: Callable[..., Any] | None = None, *, scope: TokenScope = TokenScope.MATCHER
) -> Any:
    """Bearer token with ``scope`` (the matcher scope unless said); Watchfloor's errors
    in HMA's shape; the view's value as JSON (``(value, status)`` for another status)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., JsonResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, **kwargs: Any) -> JsonResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return _error(401, f"send Authorization: Bearer <token with the {scope} scope>")
            try:
                user = TokenAuth(scope=scope).authenticate(request, secret)
                cast(MatcherRequest, request).hma_user = user
                answer = view(request, **kwargs)
            except WatchfloorError as error:
                return _error(error.http_status, error.message)
            value, status = answer if isinstance(answer, tuple) else (answer, 200)
            return JsonResponse(value, status=status, safe=False)

        return csrf_exempt(wrapped)

    return decorate(view) if view is not None else decorate


def _flag(request: HttpRequest, name: str) -> bool:
    value = request.GET.get(name, "false").lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidInput(f"{name} is true or false", field=name)


def _required(request: HttpRequest, name: str) -> str:
    value = request.GET.get(name)
    if value is None:
        raise InvalidInput(f"{name} is required", field=name)
    return value


def _banks(request: HttpRequest) -> list[str]:
    return [name for name in request.GET.get("banks", "").split(",") if name.strip()]


def _lookup(request: MatcherRequest, queries: list[Query], *, record: bool) -> list[QueryResult]:
    user = request.hma_user
    results = match(queries=queries, banks=banks_visible_to(user), only=_banks(request))
    for result in results:
        if result.error is not None:
            raise result.error
    if record:
        record_matches(
            results=results,
            contexts=[QueryContext(id=request.GET.get("content_id", "")[:200])] * len(results),
            actor=user,
            channel=MatchChannel.API,
            token=getattr(request, "api_token", None),
        )
    return results


def _query(signal_type: str, signal: str) -> Query:
    return Query(signal_type=HMA_SIGNAL_TYPES.get(signal_type, signal_type), value=signal)


def _by_bank(result: QueryResult) -> dict[str, list[dict[str, Any]]]:
    by_bank: dict[str, list[dict[str, Any]]] = {}
    for found in result.matches:
        by_bank.setdefault(found.bank, []).append(
            {"bank_content_id": found.entry_id, "distance": str(found.distance)}
        )
    return by_bank


@require_GET
@hma_endpoint
def raw_lookup(request: MatcherRequest) -> dict[str, Any]:
    """``signal``, ``signal_type``, optional ``include_distance`` and ``banks`` (comma
    separated) → ``{"matches": [bank_content_id, ...]}`` or, with distances,
    ``{"matches": [{"bank_content_id", "distance"}]}``."""
    include_distance = _flag(request, "include_distance")
    query = _query(_required(request, "signal_type"), _required(request, "signal"))
    [result] = _lookup(request, [query], record=False)
    found = [*result.matches, *result.suppressed_by]
    if include_distance:
        return {
            "matches": [{"bank_content_id": m.entry_id, "distance": str(m.distance)} for m in found]
        }
    return {"matches": [m.entry_id for m in found]}


def hashes_of_upload(request: HttpRequest) -> dict[str, str]:
    """HMA's multipart upload: one file, under the name of its content type."""
    if not request.FILES:
        raise InvalidInput("Missing multipart/form-data file upload", field="file")
    if len(request.FILES) > 1 or any(len(request.FILES.getlist(k)) > 1 for k in request.FILES):
        raise InvalidInput("Only one file allowed per request", field="file")
    [content_type] = list(request.FILES)
    [upload] = request.FILES.getlist(content_type)
    if content_type not in CONTENT_TYPES:
        raise InvalidInput(
            f"no such content_type: '{content_type}'; use {' or '.join(CONTENT_TYPES)}",
            field="file",
        )
    data = upload.read()
    if content_type == "photo":
        pdq, _quality = pdq_of_image(data)
        return {"pdq": pdq}
    return {"video_md5": md5_of_file(data)}


@require_http_methods(["GET", "POST"])
@hma_endpoint
def lookup(request: MatcherRequest) -> dict[str, Any]:
    """GET ``signal`` and ``signal_type`` (and optional ``banks``) → ``{BANK: [{"bank_content_id",
    "distance"}]}``; POST a file → the same keyed by signal type."""
    if request.method == "POST":
        hashes = hashes_of_upload(request)
        names = list(hashes)
        results = _lookup(request, [_query(n, hashes[n]) for n in names], record=True)
        return {name: _by_bank(result) for name, result in zip(names, results, strict=True)}
    if request.GET.get("url"):
        raise InvalidInput(NO_URL, field="url")
    signal, signal_type = request.GET.get("signal"), request.GET.get("signal_type")
    if not signal or not signal_type:
        raise InvalidInput("Either url or both signal and signal_type are required")
    [result] = _lookup(request, [_query(signal_type, signal)], record=True)
    return _by_bank(result)


@require_http_methods(["GET", "POST"])
@hma_endpoint
def hash_media(request: HttpRequest) -> dict[str, str]:
    """POST one file (multipart, named ``photo`` or ``video``) → ``{signal_type: hash}``."""
    if request.method == "GET":
        raise InvalidInput(NO_URL, field="url")
    return hashes_of_upload(request)


__all__ = ["hash_media", "lookup", "raw_lookup"]
