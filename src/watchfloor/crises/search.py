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
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from watchfloor.core.fulltext import TextIndex, joined, snippet
from watchfloor.crises.models import Crisis
from watchfloor.crises.selectors import crises_visible_to
from watchfloor.web.search import (
    KindResults,
    SearchHit,
    SearchProvider,
    SearchQuery,
    kind_results,
    withheld_for_admin,
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


def _restricted_without_grant(user: User) -> Q:
    granted = Exists(
        Crisis.access_list.through.objects.filter(crisis_id=OuterRef("pk"), user_id=user.pk)
    )
    return Q(is_restricted=True) & ~Q(granted)


def search_crises(*, user: User, query: SearchQuery) -> KindResults:
    visible = crises_visible_to(user)
    wanted = query.references("CR")
    if wanted is not None:
        matches = visible.filter(pk=wanted)
    elif query.reference is not None:
        return KindResults(kind="crises", label="Crises")
    else:
        matches = visible.filter(CRISIS_TEXT.matches(query.terms))
    listed, withheld = withheld_for_admin(
        user=user, matches=matches, restricted=_restricted_without_grant(user)
    )

    def hits(rows: list[Crisis]) -> list[SearchHit]:
        bodies = {} if wanted is not None else CRISIS_TEXT.bodies(c.pk for c in rows)
        return [
            SearchHit(
                reference=c.reference,
                title=c.title,
                url=reverse("crisis-detail", args=[c.pk]),
                # The title is shown already: where else it matched.
                detail=snippet(bodies[c.pk].removeprefix(c.title), query.terms)
                if c.pk in bodies
                else "",
                badges=(
                    c.get_level_display(),
                    *(["restricted"] if c.is_restricted else []),
                    *(["drill"] if c.is_drill else []),
                ),
                languages=tuple(c.languages or ()),
            )
            for c in rows
        ]

    return kind_results(
        kind="crises", label="Crises", listed=listed.order_by("-pk"), withheld=withheld, hits=hits
    )


PROVIDER = SearchProvider(kind="crises", label="Crises", position=20, search=search_crises)
