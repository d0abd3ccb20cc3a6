"""Crises in search (docs/search.md): found by reference (``CR-4``) or by their text,
need to know applied by ``crises_visible_to``.

A crisis's searchable text is its title, summary and its war room's notes, decisions and
key facts: one row per crisis in ``crises_search_text``, rewritten by the services that
change any of it (``CRISIS_TEXT.reindex``), in their transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.apps.registry import Apps
from django.urls import reverse

from watchfloor.core.fulltext import TextIndex, joined
from watchfloor.crises.models import Crisis
from watchfloor.web.search import (
    KindResults,
    SearchHit,
    SearchProvider,
    SearchQuery,
    flags,
    restricted_without_grant,
    search_indexed_kind,
)

if TYPE_CHECKING:
    from watchfloor.people.models import User


def _documents(ids: list[int], models: Apps) -> Iterator[tuple[int, str]]:
    crisis, note = (models.get_model("crises", name) for name in ("Crisis", "CrisisNote"))
    parts: dict[int, list[str]] = defaultdict(list)
    for pk, *texts in crisis.objects.filter(pk__in=ids).values_list("pk", "title", "summary"):
        parts[pk].extend(texts)
    for crisis_id, body in note.objects.filter(crisis_id__in=ids).values_list("crisis_id", "body"):
        parts[crisis_id].append(body)
    return joined(parts)


CRISIS_TEXT = TextIndex("crises_search_text", model="crises.Crisis", compose=_documents)


def reindex_crises(ids: list[int]) -> None:
    CRISIS_TEXT.reindex(ids)


def _hit(crisis: Crisis, detail: str) -> SearchHit:
    return SearchHit(
        reference=crisis.reference,
        title=crisis.title,
        url=reverse("crisis-detail", args=[crisis.pk]),
        detail=detail,
        badges=(crisis.get_level_display(), *flags(crisis)),
        languages=tuple(crisis.languages or ()),
    )


def search_crises(*, user: User, query: SearchQuery) -> KindResults | None:
    # Imported here: this module is imported at start-up (the provider), and the
    # selectors bring the sitrep cadence's models, which a command should not load.
    from watchfloor.crises.selectors import crises_visible_to

    return search_indexed_kind(
        user=user,
        query=query,
        kind="crises",
        label="Crises",
        prefix="CR",
        visible=crises_visible_to(user),
        index=CRISIS_TEXT,
        restricted=restricted_without_grant(
            user=user, access_list=Crisis.access_list.through, object_field="crisis_id"
        ),
        to_hit=_hit,
    )


PROVIDER = SearchProvider(kind="crises", label="Crises", position=20, search=search_crises)
