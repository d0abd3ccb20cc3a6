"""An item's chain of custody: its own events on the audit chain, oldest first.

Every evidence event names the item as its target and carries what it is evidence of: an
escalation's id (so the log is read on the audit table's escalation index), a crisis's id
(``data["crisis_id"]``, read on the crisis index; the war room's timeline shows only the
crisis's own actions) or a cluster's id in its data. The escalation timeline leaves out
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
# A cluster's item's log is read on the audit table's action index.
EVIDENCE_ACTIONS = [action for action in AuditAction if action.startswith("evidence.")]


def record_custody_event(
    *, action: AuditAction, item: EvidenceItem, actor: User | None, **extra: Any
) -> AuditEvent:
    """One event on the item's custody log (inside the caller's transaction)."""
    data: dict[str, Any] = {
        "item": item.reference,
        "evidence_id": item.pk,
        "of": item.target_reference,
        "kind": item.kind,
        "category": item.category,
        "sha256": item.sha256,
        **extra,
    }
    if item.crisis_id is not None:
        data["crisis_id"] = item.crisis_id
    if item.cluster_id is not None:
        data["cluster_id"] = item.cluster_id
    return record_event(
        action=action, actor=actor, target=item, escalation_id=item.escalation_id, data=data
    )


def custody_log(item: EvidenceItem) -> QuerySet[AuditEvent]:
    if item.escalation_id is not None:
        events = events_for_escalation(item.escalation_id)
    elif item.crisis_id is not None:
        events = AuditEvent.objects.filter(crisis_id=item.crisis_id).order_by("sequence")
    else:
        events = AuditEvent.objects.filter(action__in=EVIDENCE_ACTIONS).order_by("sequence")
    return events.filter(object_type=ITEM_TYPE, object_id=str(item.pk))


def timeline_without_views(viewer: User, entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Opening an item's page is custody, not work: kept off the escalation timeline."""
    return [entry for entry in entries if entry.action != AuditAction.EVIDENCE_VIEWED]
