"""The search page and ``GET /api/v1/search``: thin, over ``web.search`` and the providers
the apps register (docs/search.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from ninja import Field, Router, Schema

from watchfloor.core.errors import InvalidInput
from watchfloor.core.roles import is_admin
from watchfloor.people.auth import request_actor
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.api import READ_ERRORS
from watchfloor.web.search import (
    MAX_QUERY_LENGTH,
    KindResults,
    read_query,
    search_everything,
)


@login_required
@require_GET
def search_page(request: AuthenticatedRequest) -> HttpResponse:
    raw = request.GET.get("q", "")
    results: list[KindResults] = []
    error = ""
    query = None
    if raw.strip():
        try:
            query = read_query(raw)
        except InvalidInput as problem:
            error = problem.message
        else:
            results = search_everything(user=request.user, query=query)
    return render(
        request,
        "escalations/search.html",
        {
            "q": raw[: MAX_QUERY_LENGTH * 2],
            "query": query,
            "error": error,
            "results": results,
            "max_length": MAX_QUERY_LENGTH,
        },
        status=400 if error else 200,
    )


router = Router(tags=["search"])


class SearchHitOut(Schema):
    reference: str
    title: str
    url: str
    detail: str
    badges: list[str]


class SearchKindOut(Schema):
    kind: str = Field(description="escalations, crises, clusters, evidence or bank_entries")
    label: str
    count: int = Field(description="matches listed to you (capped: see count_is_capped)")
    count_is_capped: bool
    restricted_count: int | None = Field(
        description="administrators only: restricted matches withheld from the list "
        "(a number, never titles); null for everyone else"
    )
    items: list[SearchHitOut]


class SearchOut(Schema):
    query: str
    results: list[SearchKindOut]


@router.get("/search", response={200: SearchOut, **READ_ERRORS})
def search(request: HttpRequest, q: str = ""):
    """Search across everything the caller may see: escalation references (``WF-13``),
    crises (``CR-4``), clusters (``C-88``), evidence (``EV-7``), subjects, URLs and
    domains, hashes (MD5, SHA-256, PDQ), notice numbers and the text of escalations,
    crises and their notes. At most 200 characters; results grouped by kind."""
    user = request_actor(request)
    query = read_query(q)
    results = search_everything(user=user, query=query)
    # Administrators are told how many restricted matches were withheld; for anyone else
    # the figure is left out (null), never a zero that could be compared.
    shows_restricted = is_admin(user)
    return SearchOut(
        query=query.text,
        results=[
            SearchKindOut(
                kind=kind.kind,
                label=kind.label,
                count=kind.total,
                count_is_capped=kind.total_is_capped,
                restricted_count=kind.restricted if shows_restricted else None,
                items=[SearchHitOut.from_orm(hit) for hit in kind.hits],
            )
            for kind in results
        ],
    )
