"""The crisis timeline in words: its own audit events and the events of its escalations,
rendered for a reader. Escalation events are worded by the escalation timeline
(``escalations.timeline``), so a decision reads the same on both pages.

What a viewer may not see is left out here too: links to escalations they cannot see,
and the text of sitreps written for a fuller audience than theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchfloor.audit.events import AuditAction
from watchfloor.crises.describe import describe_crisis_event
from watchfloor.crises.permissions import may_read_sitrep
from watchfloor.escalations.selectors import TimelineEntry
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


def _crisis_data(event: AuditEvent, *, visible_refs: set[str], viewer: User) -> dict[str, Any]:
    data = dict(event.data) if isinstance(event.data, dict) else {}
    if event.action == AuditAction.CRISIS_DECLARED:
        data["escalations"] = [ref for ref in data.get("escalations") or [] if ref in visible_refs]
        if data.get("declared_from") not in visible_refs:
            data["declared_from"] = None
    if event.action == AuditAction.CRISIS_SITREP_SENT and not may_read_sitrep(
        viewer, detail=str(data.get("detail", "full"))
    ):
        data["body"] = ""
        data["subject"] = ""
    return data


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
    visible_refs = {f"WF-{pk}" for pk in visible_escalation_ids}
    merged: list[tuple[int, CrisisTimelineLine]] = []
    for event in crisis_events:
        if _hidden(event, visible_refs=visible_refs):
            continue
        data = _crisis_data(event, visible_refs=visible_refs, viewer=viewer)
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
    escalation_events = list(escalation_events)
    lines = readable_timeline(
        TimelineEntry(
            at=event.occurred_at,
            actor=event.actor_label,
            action=event.action,
            label=event.action_label,
            data=event.data,
        )
        for event in escalation_events
    )
    for event, line in zip(escalation_events, lines, strict=True):
        merged.append(
            (
                event.sequence,
                CrisisTimelineLine(
                    at=line.at,
                    actor=line.actor,
                    action=line.action,
                    label=line.label,
                    summary=line.summary,
                    body=line.body,
                    source=f"WF-{event.escalation_id}",
                    escalation_id=event.escalation_id,
                ),
            )
        )
    merged.sort(key=lambda item: item[0], reverse=newest_first)
    return [line for _, line in merged]
