"""Escalations in search (docs/search.md): found by reference (``WF-13``) or by their
text (``escalations.text_index``), need to know applied by ``escalations_visible_to``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.escalations.text_index import ESCALATION_TEXT
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


def _hit(escalation: Escalation, detail: str) -> SearchHit:
    return SearchHit(
        reference=escalation.reference,
        title=escalation.title,
        url=reverse("escalation-detail", args=[escalation.pk]),
        detail=detail,
        badges=(escalation.severity_name, escalation.get_status_display(), *flags(escalation)),
        languages=tuple(escalation.languages or ()),
    )


def search_escalations(*, user: User, query: SearchQuery) -> KindResults | None:
    return search_indexed_kind(
        user=user,
        query=query,
        kind="escalations",
        label="Escalations",
        prefix="WF",
        visible=escalations_visible_to(user),
        index=ESCALATION_TEXT,
        restricted=restricted_without_grant(
            user=user, access_list=Escalation.access_list.through, object_field="escalation_id"
        ),
        to_hit=_hit,
    )


PROVIDER = SearchProvider(
    kind="escalations", label="Escalations", position=10, search=search_escalations
)
