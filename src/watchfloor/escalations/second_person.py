"""The second person's rule, shared by decisions and severity downgrades: only what is
pending is reviewed, whoever proposed it may not approve it, and only leads and admins
approve. Pages ask :func:`review_refusal` so they offer the buttons only where they would
work; the services call :func:`refuse_review` on the locked row."""

from __future__ import annotations

from dataclasses import dataclass

from watchfloor.core.errors import Conflict, PermissionDenied
from watchfloor.core.roles import can_approve_decisions
from watchfloor.people.models import User


@dataclass(frozen=True)
class Proposal:
    what: str  # "decision", "downgrade"
    is_pending: bool
    state_label: str
    proposed_by_id: int
    # Said to the person who proposed it, e.g. "… you recorded this decision".
    own_refusal: str


def review_refusal(proposal: Proposal, *, actor: User) -> str:
    """Why ``actor`` may not approve or refuse ``proposal``, or "" when they may."""
    if not proposal.is_pending:
        return f"this {proposal.what} is {proposal.state_label.lower()}"
    if proposal.proposed_by_id == actor.pk:
        return proposal.own_refusal
    if not can_approve_decisions(actor):
        return "waiting for a lead or an admin to approve it"
    return ""


def refuse_review(proposal: Proposal, *, actor: User, field: str) -> None:
    """Raise the refusal (409 when it is no longer pending, 403 for its proposer)."""
    refusal = review_refusal(proposal, actor=actor)
    if not refusal:
        return
    if not proposal.is_pending:
        raise Conflict(refusal, field=field)
    raise PermissionDenied(refusal, field=field)
