"""The second person's buttons on the escalation page: approving or sending back a
decision, approving or rejecting a proposed downgrade of a SEV0/SEV1. Leads and admins
only; the services refuse whoever proposed it ("a second person must approve")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.views.decorators.http import require_POST

from watchfloor.core.roles import can_approve_decisions
from watchfloor.core.validation import require
from watchfloor.escalations import decisions, selectors, severity_changes
from watchfloor.escalations.models import Escalation
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import User
from watchfloor.web.views import shows_domain_errors

from .forms import ReviewForm
from .views import run_action_form


@dataclass(frozen=True)
class Review:
    # The form's prefix on the page, before the item's id ("review-12", "downgrade-3").
    prefix: str
    find: Callable[[Escalation, int], Any]
    approve: Callable[[Any, User, str], object]
    refuse: Callable[[Any, User, str], object]
    approved: str
    refused: str
    # What the comment is required for: "send it back", "reject it".
    refusal: str


def review_views(
    review: Review,
) -> tuple[Callable[..., HttpResponseBase], Callable[..., HttpResponseBase]]:
    """The Approve view and the refuse (send back, reject) view of one kind of review."""
    return (
        _review_view(review, review.approve, review.approved),
        _review_view(review, review.refuse, review.refused),
    )


def _review_view(
    review: Review, act: Callable[[Any, User, str], object], done: str
) -> Callable[..., HttpResponseBase]:
    @login_required
    @require_POST
    @shows_domain_errors
    def view(request: AuthenticatedRequest, escalation_id: int, item_id: int) -> HttpResponse:
        escalation = selectors.access_escalation(actor=request.user, escalation_id=escalation_id)
        require(can_approve_decisions(request.user), "only a lead or an admin may review this")
        item = review.find(escalation, item_id)
        name = f"{review.prefix}-{item.pk}"
        form = ReviewForm(request.POST, prefix=name, refusal=review.refusal)

        def perform(request: AuthenticatedRequest, escalation: Escalation, data: dict) -> str:
            act(item, request.user, data["comment"])
            return done

        return run_action_form(request, escalation, name, form, perform)

    return view


decision_approve, decision_send_back = review_views(
    Review(
        prefix="review",
        find=lambda escalation, pk: decisions.get_decision(escalation=escalation, decision_id=pk),
        approve=lambda decision, actor, comment: decisions.approve_decision(
            decision=decision, actor=actor, comment=comment
        ),
        refuse=lambda decision, actor, comment: decisions.send_back_decision(
            decision=decision, actor=actor, comment=comment
        ),
        approved="Decision approved.",
        refused="Decision sent back.",
        refusal="send it back",
    )
)
downgrade_approve, downgrade_reject = review_views(
    Review(
        prefix="downgrade",
        find=lambda escalation, pk: severity_changes.get_downgrade(
            escalation=escalation, downgrade_id=pk
        ),
        approve=lambda downgrade, actor, comment: severity_changes.approve_downgrade(
            downgrade=downgrade, actor=actor, comment=comment
        ),
        refuse=lambda downgrade, actor, comment: severity_changes.reject_downgrade(
            downgrade=downgrade, actor=actor, comment=comment
        ),
        approved="Downgrade approved: the new severity is in force.",
        refused="Downgrade rejected; the severity stays.",
        refusal="reject it",
    )
)
