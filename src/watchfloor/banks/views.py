"""Pages of the banks app: carrying out a decision from the escalation page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from watchfloor.banks.actioner import carry_out_decision
from watchfloor.core.errors import WatchfloorError
from watchfloor.escalations.selectors import access_escalation
from watchfloor.escalations.services import get_decision
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors


@login_required
@require_POST
@shows_domain_errors
def escalation_enforce(request: AuthenticatedRequest, escalation_id: int) -> HttpResponse:
    """Send a final decision of the escalation through a connector, on its items."""
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    decision = get_decision(escalation=escalation, decision_id=request.POST.get("decision", ""))
    try:
        sent = carry_out_decision(
            decision=decision,
            connector_code=request.POST.get("connector", ""),
            actor=request.user,
        )
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{sent.action.label} requested on {sent.item_count} item"
            f"{'s' if sent.item_count != 1 else ''} through {sent.connector.name}.",
        )
    return redirect(reverse("escalation-detail", args=[escalation.pk]) + "#enforcement")
