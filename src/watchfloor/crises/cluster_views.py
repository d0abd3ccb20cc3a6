"""The crisis action on a cluster's page: make the cluster part of a crisis. The form is
the cluster page's (signals); the action is the crisis's, so it lives here, above signals."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_POST

from watchfloor.core.errors import WatchfloorError
from watchfloor.crises.containment import link_cluster
from watchfloor.crises.selectors import access_crisis
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.signals.forms import CrisisLinkForm, form_problem
from watchfloor.signals.models import Cluster
from watchfloor.signals.views import cluster_action
from watchfloor.web.views import shows_domain_errors


@login_required
@require_POST
@shows_domain_errors
def cluster_link_crisis(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    """Make the cluster part of a crisis: it counts in the war room's containment figures."""

    def act(cluster: Cluster) -> str:
        form = CrisisLinkForm(request.POST, prefix="crisis")
        if not form.is_valid():
            raise WatchfloorError(form_problem(form))
        crisis = access_crisis(actor=request.user, crisis_id=form.cleaned_data["crisis"])
        link_cluster(
            crisis=crisis, cluster=cluster, actor=request.user, reason=form.cleaned_data["reason"]
        )
        return f"Cluster C-{cluster.pk} is now part of {crisis.reference}."

    return cluster_action(request, cluster_id, act)
