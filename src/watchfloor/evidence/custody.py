"""An item's chain of custody: its own events on the audit chain, oldest first.

Every evidence event carries its escalation's id (so the log is read on the audit table's
escalation index) and names the item as its target. The escalation timeline leaves out
the plain "details viewed" events (see :func:`timeline_without_views`); the custody log
keeps every one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import events_for_escalation
from watchfloor.audit.services import record_event
from watchfloor.evidence.models import EvidenceItem

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from watchfloor.escalations.selectors import TimelineEntry
    from watchfloor.people.models import User

ITEM_TYPE = EvidenceItem._meta.label_lower


def record_custody_event(
    *, action: AuditAction, item: EvidenceItem, actor: User | None, **extra: Any
) -> AuditEvent:
    """One event on the item's custody log (inside the caller's transaction)."""
    data = {
        "item": item.reference,
        "evidence_id": item.pk,
        "kind": item.kind,
        "category": item.category,
        "sha256": item.sha256,
        **extra,
    }
    return record_event(
        action=action, actor=actor, target=item, escalation_id=item.escalation_id, data=data
    )


def custody_log(item: EvidenceItem) -> QuerySet[AuditEvent]:
    return events_for_escalation(item.escalation_id).filter(
        object_type=ITEM_TYPE, object_id=str(item.pk)
    )


def timeline_without_views(viewer: User, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Opening an item's page is custody, not work: kept off the escalation timeline."""
    return [entry for entry in entries if entry.action != AuditAction.EVIDENCE_VIEWED]
