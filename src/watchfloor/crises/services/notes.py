"""The war room's notes and the key facts pinned from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, PermissionDenied
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises.models import (
    Crisis,
    CrisisNote,
)
from watchfloor.crises.permissions import may_add_crisis_notes, may_work_crisis
from watchfloor.crises.search import reindex_crises
from watchfloor.people.models import User

if TYPE_CHECKING:
    pass
from watchfloor.crises.services.common import NOTE_MAX, record_crisis_event, refuse_if_closed

# ---------------------------------------------------------------- notes and facts


@transaction.atomic
def add_crisis_note(
    *,
    crisis: Crisis,
    body: str,
    actor: User,
    kind: str = CrisisNote.Kind.NOTE,
    pinned: bool = False,
) -> CrisisNote:
    """A note, or a decision of the war room, on the live timeline; pinned, a key fact."""
    _require(may_add_crisis_notes(actor), "your role cannot add to the war room")
    if kind not in CrisisNote.Kind.values:
        raise InvalidInput(
            f"unknown kind '{kind}'; use one of {', '.join(CrisisNote.Kind.values)}", field="kind"
        )
    if (kind == CrisisNote.Kind.DECISION or pinned) and not may_work_crisis(actor):
        raise PermissionDenied("only site policy records war-room decisions and key facts")
    refuse_if_closed(crisis, "add to its post-incident review instead")
    body = _text(body, field="body", max_length=NOTE_MAX, required=True)
    now = clock.now()
    note = CrisisNote.objects.create(
        crisis=crisis,
        kind=kind,
        author=actor,
        body=body,
        created_at=now,
        is_pinned=pinned,
        pinned_at=now if pinned else None,
        pinned_by=actor if pinned else None,
    )
    Crisis.objects.filter(pk=crisis.pk).update(updated_at=now)
    reindex_crises([crisis.pk])
    record_crisis_event(
        AuditAction.CRISIS_NOTE_ADDED,
        crisis=crisis,
        actor=actor,
        target=note,
        data={"note_id": note.pk, "kind": kind, "body": body, "pinned": pinned},
    )
    return note


@transaction.atomic
def set_fact_pinned(*, note: CrisisNote, pinned: bool, actor: User) -> CrisisNote:
    """Pin an entry as a key fact (it heads the war room and the sitreps), or unpin it."""
    _require(may_work_crisis(actor), "your role cannot pin key facts")
    note = CrisisNote.objects.select_for_update().select_related("crisis").get(pk=note.pk)
    crisis = note.crisis
    refuse_if_closed(crisis, "its key facts are kept as they were")
    if note.is_pinned == pinned:
        raise Conflict(
            "this entry is already pinned" if pinned else "this entry is not pinned", field="note"
        )
    now = clock.now()
    note.is_pinned = pinned
    note.pinned_at, note.pinned_by = (now, actor) if pinned else (None, None)
    note.save(update_fields=["is_pinned", "pinned_at", "pinned_by"])
    record_crisis_event(
        AuditAction.CRISIS_FACT_PINNED if pinned else AuditAction.CRISIS_FACT_UNPINNED,
        crisis=crisis,
        actor=actor,
        target=note,
        data={"note_id": note.pk, "body": note.body},
    )
    return note
