"""The record of a crisis as its viewer may read it: its audit events and those of its
escalations, its level history, its sitreps (each in the version the reader may read),
notes and handoffs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core.errors import NotFound
from watchfloor.crises.config import CrisisConfig
from watchfloor.crises.models import Crisis, CrisisNote, Handoff, Sitrep, SitrepSection
from watchfloor.crises.permissions import may_read_sitrep
from watchfloor.escalations.selectors import escalations_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User


# What the crisis writes to the log, and what of its escalations' log it reads back.
CRISIS_ACTIONS = tuple(action for action in AuditAction.values if action.startswith("crisis."))


TIMELINE_CRISIS_ACTIONS = tuple(
    a
    for a in CRISIS_ACTIONS
    if a not in (AuditAction.CRISIS_VIEWED, AuditAction.CRISIS_REVIEW_EXPORTED)
)


ESCALATION_DECISION_ACTIONS = (
    AuditAction.DECISION_RECORDED,
    AuditAction.DECISION_APPROVED,
    AuditAction.DECISION_REJECTED,
)


def pinned_notes(crisis: Crisis) -> QuerySet[CrisisNote]:
    """The crisis's key facts (its pinned notes), in no particular order."""
    # ``is_pinned__in=[True]``, not ``is_pinned=True``: Django writes the latter as a bare
    # ``"is_pinned"``, which SQLite cannot look up in the (crisis, is_pinned) index, so it
    # read every note of the crisis for none (40 ms of each war-room view at 50,000).
    return CrisisNote.objects.filter(crisis=crisis, is_pinned__in=[True])


def crisis_events(crisis: Crisis, *, since: datetime | None = None) -> QuerySet[AuditEvent]:
    """The crisis's own events (each carries its id in ``data``), oldest first. Readers
    name who acted by ``actor_label`` (kept as written then), so the actor rows are not
    joined: a war room's hundred events would build a hundred users nobody reads."""
    events = AuditEvent.objects.filter(crisis_id=crisis.pk, action__in=TIMELINE_CRISIS_ACTIONS)
    if since is not None:
        events = events.filter(occurred_at__gt=since)
    return events.order_by("sequence")


def escalation_events(
    escalation_ids: Iterable[int], *, actions: Iterable[str] | None = None
) -> QuerySet[AuditEvent]:
    """Events of the given (already visibility-checked) escalations, oldest first; views
    of restricted escalations stay in the log but out of reading timelines."""
    # Crisis events that carry an escalation's id are read from the crisis's own record.
    events = AuditEvent.objects.filter(escalation_id__in=list(escalation_ids)).exclude(
        action__in=(AuditAction.ESCALATION_VIEWED, *CRISIS_ACTIONS)
    )
    if actions is not None:
        events = events.filter(action__in=list(actions))
    return events.order_by("sequence")  # named by ``actor_label``, as above


def level_history(crisis: Crisis) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            crisis_id=crisis.pk, action=AuditAction.CRISIS_LEVEL_CHANGED
        ).order_by("sequence")
    )


def last_sitrep_sent_at(crisis: Crisis, audiences: Iterable[str]) -> datetime | None:
    latest = (
        Sitrep.objects.filter(crisis=crisis, audience__in=list(audiences))
        .order_by("-sent_at", "-pk")
        .values_list("sent_at", flat=True)
        .first()
    )
    return latest


def sitreps_of(crisis: Crisis) -> QuerySet[Sitrep]:
    return (
        Sitrep.objects.filter(crisis=crisis).select_related("sent_by").order_by("-sent_at", "-pk")
    )


def sitreps_readable_by(crisis: Crisis, *, viewer: User, config: CrisisConfig) -> QuerySet[Sitrep]:
    """The crisis's sitreps ``viewer`` may open: nothing is linked that would be a 404."""
    sitreps = sitreps_of(crisis)
    if may_read_sitrep(viewer, detail="full"):
        return sitreps
    readable = [
        audience.code
        for audience in config.settings.sitreps.audiences
        if may_read_sitrep(viewer, detail=audience.detail)
    ]
    return sitreps.filter(audience__in=readable)


def get_sitrep(*, crisis: Crisis, sitrep_id: int | str) -> Sitrep:
    sitrep = (
        Sitrep.objects.filter(crisis=crisis, pk=sitrep_id).select_related("sent_by").first()
        if str(sitrep_id).isdigit()
        else None
    )
    if sitrep is None:
        raise NotFound(f"no sitrep {sitrep_id} on {crisis.reference}", field="sitrep_id")
    return sitrep


@dataclass(frozen=True)
class SitrepReading:
    """A sent sitrep as one reader reads it: the shared text, and the sections on the
    escalations they may see (the others are left out, with no mark where they were)."""

    sitrep: Sitrep
    sections: list[SitrepSection]


def sitrep_for_reader(*, sitrep: Sitrep, viewer: User) -> SitrepReading:
    return SitrepReading(
        sitrep=sitrep,
        sections=list(
            SitrepSection.objects.filter(
                sitrep=sitrep, escalation__in=escalations_visible_to(viewer)
            ).select_related("escalation")
        ),
    )


def get_note(*, crisis: Crisis, note_id: int | str) -> CrisisNote:
    note = crisis.notes.filter(pk=note_id).first() if str(note_id).isdigit() else None
    if note is None:
        raise NotFound(f"no entry {note_id} in {crisis.reference}", field="note_id")
    return note


def get_handoff(*, crisis: Crisis, handoff_id: int | str) -> Handoff:
    handoff = (
        crisis.handoffs.filter(pk=handoff_id)
        .select_related("outgoing_commander", "incoming_commander")
        .first()
        if str(handoff_id).isdigit()
        else None
    )
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id} on {crisis.reference}", field="handoff_id")
    return handoff
