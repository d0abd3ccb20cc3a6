"""Escalations in search (docs/search.md): found by reference (``WF-13``) or by their
text (``escalations.text_index``), need to know applied by ``escalations_visible_to``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from watchfloor.core.fulltext import snippet
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.escalations.text_index import ESCALATION_TEXT
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


def _restricted_without_grant(user: User) -> Q:
    granted = Exists(
        Escalation.access_list.through.objects.filter(escalation_id=OuterRef("pk"), user_id=user.pk)
    )
    return Q(is_restricted=True) & ~Q(granted)


def search_escalations(*, user: User, query: SearchQuery) -> KindResults:
    visible = escalations_visible_to(user)
    wanted = query.references("WF")
    if wanted is not None:
        matches = visible.filter(pk=wanted)
    elif query.reference is not None:
        return KindResults(kind="escalations", label="Escalations")
    else:
        matches = visible.filter(ESCALATION_TEXT.matches(query.terms))
    listed, withheld = withheld_for_admin(
        user=user, matches=matches, restricted=_restricted_without_grant(user)
    )

    def hits(rows: list[Escalation]) -> list[SearchHit]:
        bodies = {} if wanted is not None else ESCALATION_TEXT.bodies(e.pk for e in rows)
        return [
            SearchHit(
                reference=e.reference,
                title=e.title,
                url=reverse("escalation-detail", args=[e.pk]),
                # The title is shown already: where else it matched.
                detail=snippet(bodies[e.pk].removeprefix(e.title), query.terms)
                if e.pk in bodies
                else "",
                badges=(
                    e.severity_name,
                    e.get_status_display(),
                    *(["restricted"] if e.is_restricted else []),
                    *(["drill"] if e.is_drill else []),
                ),
                languages=tuple(e.languages or ()),
            )
            for e in rows
        ]

    return kind_results(
        kind="escalations",
        label="Escalations",
        listed=listed.order_by("-pk"),
        withheld=withheld,
        hits=hits,
    )


PROVIDER = SearchProvider(
    kind="escalations", label="Escalations", position=10, search=search_escalations
)
