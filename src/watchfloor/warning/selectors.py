"""Reads of the warning app. Proposals hang off an escalation: whoever may see the
escalation (``access_escalation``, need-to-know first) may see its proposals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from watchfloor.core.errors import NotFound
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.escalations.selectors import access_escalation, escalations_visible_to
from watchfloor.warning.models import CrisisProposal, ReceivedAlert

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User


@dataclass(frozen=True)
class WarningPanel:
    escalation: Escalation
    proposals: list[CrisisProposal]
    alerts: list[ReceivedAlert]
    may_decide: bool


def escalation_warning_panel(
    *, escalation: Escalation, viewer: User, now: datetime
) -> WarningPanel | None:
    """The crisis proposals of an escalation and the official alerts of their threads,
    for a viewer the page has already let in; None when there are none."""
    proposals = list(
        CrisisProposal.objects.filter(escalation=escalation).select_related("crisis", "decided_by")[
            :10
        ]
    )
    if not proposals:
        return None
    threads = {proposal.thread for proposal in proposals}
    alerts = list(ReceivedAlert.objects.filter(thread__in=threads).order_by("sent", "pk")[:20])
    return WarningPanel(
        escalation=escalation,
        proposals=proposals,
        alerts=alerts,
        may_decide=may_work_crisis(viewer),
    )


def access_proposal(*, actor: User, proposal_id: int) -> CrisisProposal:
    """The proposal, if the actor may see its escalation; else the same ``NotFound``."""
    proposal = CrisisProposal.objects.filter(pk=proposal_id).select_related("escalation").first()
    if proposal is None:
        raise NotFound("no such crisis proposal")
    try:
        access_escalation(actor=actor, escalation_id=proposal.escalation_id)
    except NotFound:
        raise NotFound("no such crisis proposal") from None
    return proposal


def open_proposals(*, viewer: User, now: datetime) -> list[CrisisProposal]:
    """The open proposals on escalations the viewer may see, newest first (the crises
    page): one query, whatever their number."""
    return list(
        CrisisProposal.objects.filter(
            state=CrisisProposal.State.OPEN, escalation__in=escalations_visible_to(viewer)
        )
        .select_related("escalation")
        .order_by("-proposed_at", "-pk")[:20]
    )
