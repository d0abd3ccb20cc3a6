"""Accept or dismiss a crisis proposal (from the escalation page's panel)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from watchfloor.people.http import AuthenticatedRequest
from watchfloor.warning import proposals, selectors
from watchfloor.warning.models import CrisisProposal
from watchfloor.web.views import shows_domain_errors


@login_required
@require_POST
@shows_domain_errors
def decide_proposal(request: AuthenticatedRequest, proposal_id: int) -> HttpResponse:
    proposal = selectors.access_proposal(actor=request.user, proposal_id=proposal_id)
    if request.POST.get("decision") == "accept":
        proposal = proposals.accept_proposal(proposal=proposal, actor=request.user)
        if proposal.kind == CrisisProposal.Kind.DECLARE and proposal.crisis_id:
            messages.success(request, f"Crisis declared: {proposal.title}")
            return redirect("crisis-detail", proposal.crisis_id)
        messages.success(request, "Stand-down taken up.")
    else:
        proposals.dismiss_proposal(
            proposal=proposal, actor=request.user, reason=request.POST.get("reason", "")
        )
        messages.success(request, "Proposal dismissed.")
    return redirect(reverse("escalation-detail", args=[proposal.escalation_id]) + "#warning")
