"""The crisis timeline in words: its own audit events and the events of its escalations,
rendered for a reader. Escalation events are worded by the escalation timeline
(``escalations.timeline``), so a decision reads the same on both pages.

What a viewer may not see is left out here too: links to escalations they cannot see,
the escalations a declaration took in that they cannot see, what held up a stand-down
on escalations they cannot see, the sections of a sitrep about escalations they cannot
see, and the text of sitreps written for a fuller audience than theirs. Escalation events
go through ``escalations.selectors.timeline_for_reader`` as on the escalation's own page
(a link to a hidden escalation is left out there). :func:`crisis_events_for_reader` does
the same for the crisis events that land on an escalation's timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchfloor.audit.events import AuditAction
from watchfloor.crises.describe import describe_crisis_event
from watchfloor.crises.permissions import may_read_sitrep
from watchfloor.crises.selectors import crises_visible_to
from watchfloor.escalations.selectors import (
    TimelineEntry,
    escalation_id_of,
    timeline_for_reader,
)
from watchfloor.escalations.selectors import visible_escalation_ids as escalations_seen_by
from watchfloor.escalations.timeline import readable_timeline

if TYPE_CHECKING:
    from watchfloor.audit.models import AuditEvent
    from watchfloor.people.models import User


@dataclass(frozen=True)
class CrisisTimelineLine:
    at: datetime
    actor: str
    action: str
    label: str
    summary: str
    body: str
    # Where it happened: the crisis itself, or one of its escalations (its id, for a link).
    source: str
    escalation_id: int | None = None
    # The war-room entry it records (a note or decision), which can be pinned.
    note_id: int | None = None


def _hidden(event: AuditEvent, *, visible_refs: set[str]) -> bool:
    """Whether the event is about an escalation the viewer cannot see."""
    data = event.data if isinstance(event.data, dict) else {}
    return (
        event.action
        in (AuditAction.CRISIS_ESCALATION_LINKED, AuditAction.CRISIS_ESCALATION_UNLINKED)
        and data.get("escalation") not in visible_refs
    )


_LEGACY_REFERENCE = re.compile(r"\bWF-(\d+)\b")


def _blockers(criterion: dict[str, Any]) -> list[tuple[int | None, str]]:
    """What held a criterion up, escalation by escalation. Events recorded before the
    blockers were kept apart have them joined in ``detail``: each part names its case."""
    if isinstance(criterion.get("blockers"), list):
        return [
            (b.get("escalation_id"), str(b.get("text", "")))
            for b in criterion["blockers"]
            if isinstance(b, dict)
        ]
    parts = [p for p in str(criterion.get("detail") or "").split(", ") if p]
    found = [_LEGACY_REFERENCE.search(part) for part in parts]
    return [(int(m.group(1)) if m else None, part) for m, part in zip(found, parts, strict=True)]


def criteria_for_reader(data: dict[str, Any], *, visible_ids: set[int]) -> dict[str, Any]:
    """A stand-down's criteria as a reader may see them: each criterion worked out from
    the record counts only the blockers on escalations they may see, as the war room
    would have shown it to them, and the unmet list follows."""
    criteria = data.get("criteria")
    if not isinstance(criteria, list):
        return data
    seen: list[dict[str, Any]] = []
    for criterion in criteria:
        if not isinstance(criterion, dict):
            continue
        shown = {k: v for k, v in criterion.items() if k not in ("detail", "blockers")}
        if criterion.get("how") == "from the record":
            blockers = [
                {"escalation_id": pk, "text": text}
                for pk, text in _blockers(criterion)
                if pk in visible_ids
            ]
            shown["blockers"] = blockers
            shown["met"] = not blockers
        seen.append(shown)
    return {
        **data,
        "criteria": seen,
        "unmet": [c.get("label", "") for c in seen if c.get("met") is False],
    }


def _sitrep_for_reader(data: dict[str, Any], *, visible_ids: set[int]) -> dict[str, Any]:
    """A sitrep's shared text and the sections on escalations the reader may see; the
    other sections are left out with no mark where they were."""
    sections = data.get("sections")
    if not isinstance(sections, list):
        return data
    return {
        **data,
        "sections": [
            section
            for section in sections
            if isinstance(section, dict) and section.get("escalation_id") in visible_ids
        ],
    }


def _crisis_data(event: AuditEvent, *, visible_ids: set[int], viewer: User) -> dict[str, Any]:
    data = dict(event.data) if isinstance(event.data, dict) else {}
    visible_refs = {f"WF-{pk}" for pk in visible_ids}
    if event.action == AuditAction.CRISIS_DECLARED:
        data["escalations"] = [ref for ref in data.get("escalations") or [] if ref in visible_refs]
        if data.get("declared_from") not in visible_refs:
            data["declared_from"] = None
    if event.action == AuditAction.CRISIS_LEVEL_CHANGED:
        data = criteria_for_reader(data, visible_ids=visible_ids)
    if event.action == AuditAction.CRISIS_SITREP_SENT:
        data = _sitrep_for_reader(data, visible_ids=visible_ids)
        if not may_read_sitrep(viewer, detail=str(data.get("detail", "full"))):
            data["body"] = ""
            data["subject"] = ""
            data["sections"] = []
    return data


def crisis_events_for_reader(viewer: User, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """The crisis events on an escalation's timeline as ``viewer`` may read them: none of
    a crisis they may not see (restricted since, or a partner's without a shared case),
    and of the others, nothing about escalations they may not see. Registered with
    ``escalations.selectors.register_timeline_reader``; two queries at most."""
    crisis_ids = {
        entry.data.get("crisis_id")
        for entry in entries
        if entry.action.startswith("crisis.") and isinstance(entry.data, dict)
    }
    if not crisis_ids:
        return entries
    visible_crises = set(
        crises_visible_to(viewer)
        .filter(pk__in=[pk for pk in crisis_ids if isinstance(pk, int)])
        .values_list("pk", flat=True)
    )
    named: set[int | None] = set()
    for entry in entries:
        if entry.action == AuditAction.CRISIS_DECLARED:
            named.update(escalation_id_of(ref) for ref in entry.data.get("escalations") or [])
        elif entry.action == AuditAction.CRISIS_LEVEL_CHANGED:
            for criterion in entry.data.get("criteria") or []:
                if isinstance(criterion, dict):
                    named.update(pk for pk, _ in _blockers(criterion))
    visible_ids = escalations_seen_by(viewer, named)
    shown = []
    for entry in entries:
        if not entry.action.startswith("crisis."):
            shown.append(entry)
            continue
        if entry.data.get("crisis_id") not in visible_crises:
            continue
        data = dict(entry.data)
        if entry.action == AuditAction.CRISIS_DECLARED:
            data["escalations"] = [
                ref for ref in data.get("escalations") or [] if escalation_id_of(ref) in visible_ids
            ]
        elif entry.action == AuditAction.CRISIS_LEVEL_CHANGED:
            data = criteria_for_reader(data, visible_ids=visible_ids)
        shown.append(replace(entry, data=data))
    return shown


def crisis_timeline(
    *,
    crisis_events: Iterable[AuditEvent],
    escalation_events: Iterable[AuditEvent],
    visible_escalation_ids: Iterable[int],
    viewer: User,
    crisis_reference: str,
    newest_first: bool = True,
) -> list[CrisisTimelineLine]:
    """The crisis's events and its (visible) escalations' events, merged in log order."""
    visible_ids = set(visible_escalation_ids)
    visible_refs = {f"WF-{pk}" for pk in visible_ids}
    merged: list[tuple[int, CrisisTimelineLine]] = []
    for event in crisis_events:
        if _hidden(event, visible_refs=visible_refs):
            continue
        data = _crisis_data(event, visible_ids=visible_ids, viewer=viewer)
        summary, body = describe_crisis_event(event.action, data)
        merged.append(
            (
                event.sequence,
                CrisisTimelineLine(
                    at=event.occurred_at,
                    actor=event.actor_label or "system",
                    action=event.action,
                    label=event.action_label,
                    summary=summary,
                    body=body,
                    source=crisis_reference,
                    note_id=data.get("note_id")
                    if event.action == AuditAction.CRISIS_NOTE_ADDED
                    else None,
                ),
            )
        )
    entries = timeline_for_reader(
        (
            TimelineEntry(
                at=event.occurred_at,
                actor=event.actor_label,
                action=event.action,
                label=event.action_label,
                data=event.data,
                sequence=event.sequence,
                escalation_id=event.escalation_id,
            )
            for event in escalation_events
        ),
        viewer=viewer,
    )
    lines = readable_timeline(entries)
    for entry, line in zip(entries, lines, strict=True):
        merged.append(
            (
                entry.sequence,
                CrisisTimelineLine(
                    at=line.at,
                    actor=line.actor,
                    action=line.action,
                    label=line.label,
                    summary=line.summary,
                    body=line.body,
                    source=f"WF-{entry.escalation_id}",
                    escalation_id=entry.escalation_id,
                ),
            )
        )
    merged.sort(key=lambda item: item[0], reverse=newest_first)
    return [line for _, line in merged]
