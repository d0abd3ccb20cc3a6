"""The enforcement panel of an escalation page: what was requested from the platform's
connectors for this escalation (from its decisions and from action rules), and what
became of it — "requested → carried out at … by …", per-item counts, or the error —
with a form to send a final decision through a connector (final decisions also go out on
their own through the connectors that send them, ``banks.decision_sending``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from watchfloor.banks.models import (
    EnforcementConnector,
    EnforcementItem,
    EnforcementRequest,
    ItemStatus,
)
from watchfloor.core.roles import can_work_escalations
from watchfloor.escalations.models import Decision

NO_ACTION = "no_action"
# The items a platform refused or failed, named with its reason, per request; the rest
# are counted.
UNDONE_SHOWN = 5
UNDONE = (ItemStatus.REFUSED, ItemStatus.FAILED)

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User


@dataclass(frozen=True)
class RequestRow:
    request: EnforcementRequest
    item_counts: dict[str, int] = field(default_factory=dict)
    # The first refused or failed items, with the platform's reason.
    undone: list[EnforcementItem] = field(default_factory=list)

    @property
    def undone_not_shown(self) -> int:
        total = sum(self.item_counts.get(status, 0) for status in UNDONE)
        return total - len(self.undone)


@dataclass(frozen=True)
class EnforcementPanel:
    rows: list[RequestRow]
    decisions: list[Decision]
    connectors: list[EnforcementConnector]
    # The connectors final decisions go out through on their own.
    sending: list[EnforcementConnector] = field(default_factory=list)

    @property
    def can_send(self) -> bool:
        return bool(self.decisions and self.connectors)


def enforcement_panel(*, escalation: Escalation, viewer: User, now: datetime) -> EnforcementPanel:
    """Built for a viewer who may see the escalation (the page checked that first)."""
    requests = list(
        EnforcementRequest.objects.filter(escalation=escalation)
        .select_related("connector", "action", "requested_by", "decision")
        .order_by("-requested_at", "-id")
    )
    counts: dict[int, Counter[str]] = {request.pk: Counter() for request in requests}
    if requests:
        for request_id, status in EnforcementItem.objects.filter(
            request__in=[r.pk for r in requests]
        ).values_list("request_id", "status"):
            counts[request_id][status] += 1
    undone = _undone_items(
        [pk for pk, counted in counts.items() if any(counted[s] for s in UNDONE)]
    )
    rows = [
        RequestRow(request=r, item_counts=dict(counts[r.pk]), undone=undone.get(r.pk, []))
        for r in requests
    ]
    may_send = can_work_escalations(viewer) and escalation.is_open
    # From the page's prefetched decisions: no query of its own.
    decisions = [
        decision
        for decision in escalation.decisions.all()
        if may_send and decision.state == Decision.State.FINAL and decision.action.code != NO_ACTION
    ]
    active = list(EnforcementConnector.objects.filter(is_active=True))
    return EnforcementPanel(
        rows=rows,
        decisions=decisions,
        connectors=active if decisions else [],
        sending=[connector for connector in active if connector.sends_final_decisions],
    )


def _undone_items(request_ids: list[int]) -> dict[int, list[EnforcementItem]]:
    """The first :data:`UNDONE_SHOWN` refused or failed items of each request, in one
    query (none when no request has any)."""
    if not request_ids:
        return {}
    found: dict[int, list[EnforcementItem]] = {}
    rows = (
        EnforcementItem.objects.filter(request__in=request_ids, status__in=UNDONE)
        .annotate(place=Window(RowNumber(), partition_by=[F("request_id")], order_by=F("id").asc()))
        .filter(place__lte=UNDONE_SHOWN)
        .order_by("request_id", "id")
    )
    for item in rows:
        found.setdefault(item.request_id, []).append(item)
    return found
