"""The text index of escalations (docs/search.md).

An escalation's searchable text is its title, summary, source detail, subjects (accounts,
handles, post ids, URLs, with their notes), the notice numbers of its statutory clocks
and its notes: one row per escalation in ``escalations_search_text``, rewritten by the
services that change any of it (``ESCALATION_TEXT.reindex``), in their transaction. The
triage queue's text filter (:func:`text_filter`) and the header's search both read it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from django.apps.registry import Apps
from django.db.models import Func, Q, QuerySet

from watchfloor.core.fulltext import TextIndex, joined, query_terms
from watchfloor.web.search import MAX_TERMS

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation


def escalation_text_parts(
    *,
    title: str,
    summary: str,
    source_detail: str,
    subjects: Iterable[tuple[str, str]] = (),
    notices: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> list[str]:
    """The pieces of one escalation's searchable text, in the index's order: the one
    definition, used for a batch read from the database (``_documents``) and for an
    escalation just filed, whose pieces are all in hand (``index_new_escalation``)."""
    parts = [title, summary, source_detail]
    for reference, note in subjects:
        parts.extend((reference, note))
    parts.extend(notice for notice in notices if notice)
    parts.extend(notes)
    return parts


def _documents(ids: list[int], models: Apps) -> Iterator[tuple[int, str]]:
    """Each escalation's searchable text, in four queries per batch."""
    escalation, subject, clock, note = (
        models.get_model("escalations", name) for name in ("Escalation", "Subject", "Clock", "Note")
    )
    subjects: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for escalation_id, reference, subject_note in subject.objects.filter(
        escalation_id__in=ids
    ).values_list("escalation_id", "reference", "note"):
        subjects[escalation_id].append((reference, subject_note))
    notices: dict[int, list[str]] = defaultdict(list)
    for escalation_id, notice in (
        clock.objects.filter(escalation_id__in=ids)
        .exclude(notice_reference="")
        .values_list("escalation_id", "notice_reference")
    ):
        notices[escalation_id].append(notice)
    notes: dict[int, list[str]] = defaultdict(list)
    for escalation_id, body in note.objects.filter(escalation_id__in=ids).values_list(
        "escalation_id", "body"
    ):
        notes[escalation_id].append(body)
    return joined(
        {
            pk: escalation_text_parts(
                title=title,
                summary=summary,
                source_detail=source_detail,
                subjects=subjects[pk],
                notices=notices[pk],
                notes=notes[pk],
            )
            for pk, title, summary, source_detail in escalation.objects.filter(
                pk__in=ids
            ).values_list("pk", "title", "summary", "source_detail")
        }
    )


ESCALATION_TEXT = TextIndex(
    "escalations_search_text", model="escalations.Escalation", compose=_documents
)


def reindex_escalations(ids: list[int]) -> None:
    ESCALATION_TEXT.reindex(ids)


def index_new_escalation(escalation_id: int, parts: list[str]) -> None:
    """Index an escalation filed in this transaction from the pieces its filing holds
    (``escalation_text_parts``), without reading back what was just written."""
    ESCALATION_TEXT.write(joined({escalation_id: parts}))


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
