"""The text index of escalations (docs/search.md).

An escalation's searchable text is its title, summary, source detail, subjects (accounts,
handles, post ids, URLs, with their notes), the notice numbers of its statutory clocks
and its notes: one row per escalation in ``escalations_search_text``, rewritten by the
services that change any of it (``ESCALATION_TEXT.reindex``), in their transaction. The
triage queue's text filter (:func:`text_filter`) and the header's search both read it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.apps.registry import Apps
from django.db.models import Func, Q, QuerySet

from watchfloor.core.fulltext import TextIndex, joined, query_terms
from watchfloor.web.search import MAX_TERMS

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation


def _documents(ids: list[int], models: Apps) -> Iterator[tuple[int, str]]:
    """Each escalation's searchable text, in four queries per batch."""
    escalation, subject, clock, note = (
        models.get_model("escalations", name) for name in ("Escalation", "Subject", "Clock", "Note")
    )
    parts: dict[int, list[str]] = defaultdict(list)
    for pk, *texts in escalation.objects.filter(pk__in=ids).values_list(
        "pk", "title", "summary", "source_detail"
    ):
        parts[pk].extend(texts)
    for escalation_id, *texts in subject.objects.filter(escalation_id__in=ids).values_list(
        "escalation_id", "reference", "note"
    ):
        parts[escalation_id].extend(texts)
    for escalation_id, notice in (
        clock.objects.filter(escalation_id__in=ids)
        .exclude(notice_reference="")
        .values_list("escalation_id", "notice_reference")
    ):
        parts[escalation_id].append(notice)
    for escalation_id, body in note.objects.filter(escalation_id__in=ids).values_list(
        "escalation_id", "body"
    ):
        parts[escalation_id].append(body)
    return joined(parts)


ESCALATION_TEXT = TextIndex(
    "escalations_search_text", model="escalations.Escalation", compose=_documents
)


def reindex_escalations(ids: list[int]) -> None:
    ESCALATION_TEXT.reindex(ids)


def text_filter(text: str) -> Q:
    """The queue's text filter: escalations whose text holds every word of ``text``."""
    return ESCALATION_TEXT.matches(query_terms(text, max_terms=MAX_TERMS))


def text_test(text: str) -> Func | None:
    """The queue's text filter as a test of each escalation it walks past, for a queue
    that is walked in its order (``TextIndex.holds_every_term``); None where that test
    cannot be the same as :func:`text_filter`'s."""
    return ESCALATION_TEXT.holds_every_term(query_terms(text, max_terms=MAX_TERMS))


def count_text_matches(
    escalations: QuerySet[Escalation], text: str, *, limit: int
) -> tuple[int, int]:
    """How many of ``escalations`` hold every word of ``text``, counting no further than
    ``limit``, from the text index's matches, and the largest id counted
    (``TextIndex.count_matches``)."""
    return ESCALATION_TEXT.count_matches(
        escalations, query_terms(text, max_terms=MAX_TERMS), limit=limit
    )
