"""The clusters and surges pages, and the analyst actions on a cluster.

Each view checks that the viewer may read signals at all (partner teams may not: signals
are raw reports), finds what it shows through the selectors, calls at most one service,
and renders or redirects. The forms are ``signals.forms``; the sparklines, inline SVG
with no script and no inline style (so the content security policy holds), are drawn
by ``signals.sparklines``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied, WatchfloorError
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.validation import require
from watchfloor.escalations.forms import EscalationForm
from watchfloor.escalations.models import SourceKind
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.policy.models import Policy
from watchfloor.signals import hooks, permissions, selectors, services, suggestions
from watchfloor.signals.forms import (
    AttachForm,
    BenignForm,
    ClusterFilterForm,
    CrisisLinkForm,
    ReasonForm,
    SnoozeForm,
    SurgeFilterForm,
    form_problem,
)
from watchfloor.signals.models import Cluster, ClusterState, KeyKind, RuleFiring, SurgeAlert
from watchfloor.signals.rules import ESCALATION_SOURCE_FOR_SIGNAL
from watchfloor.signals.sparklines import spark_label, sparkline
from watchfloor.web.templatetags.watchfloor_ui import local_time
from watchfloor.web.views import shows_domain_errors

CLUSTERS_PAGE_SIZE = 50
SIGNALS_PAGE_SIZE = 25
SURGES_PAGE_SIZE = 50
NOT_FOR_PARTNERS = (
    "Signals are raw reports and may name victims or carry abusive content, so they are not "
    "shown to partner teams. Ask the site-policy team to share an escalation with you."
)


def _require_reader(request: AuthenticatedRequest) -> None:
    require(permissions.can_see_signals(request.user), NOT_FOR_PARTNERS)


# ---------------------------------------------------------------- the clusters view


@dataclass(frozen=True)
class ClusterRow:
    cluster: Cluster
    state: str
    sparkline: SafeString
    surge: SurgeAlert | None
    escalation: Any

    @property
    def state_label(self) -> str:
        return ClusterState(self.state).label

    @property
    def markets(self) -> list[tuple[str, int]]:
        return selectors.tally_rows(self.cluster.markets, limit=4)

    @property
    def languages(self) -> list[tuple[str, int]]:
        return selectors.tally_rows(self.cluster.languages, limit=4)

    @property
    def sources(self) -> list[tuple[str, int]]:
        return selectors.tally_rows(self.cluster.sources, limit=3)


@login_required
@require_GET
@shows_domain_errors
def cluster_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_reader(request)
    form = ClusterFilterForm(request.GET)
    now = clock.now()
    clusters = selectors.cluster_list(user=request.user, filters=form.filters(), now=now)
    page = Paginator(clusters, CLUSTERS_PAGE_SIZE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    ids = [cluster.pk for cluster in listed]
    counts = selectors.sparkline_counts(ids, end=selectors.bucket_end(now))
    surges = selectors.open_surges_by_cluster(ids)
    escalations = selectors.visible_escalations_by_id(
        user=request.user, ids=[c.escalation_id for c in listed]
    )
    rows = [
        ClusterRow(
            cluster=cluster,
            state=selectors.effective_state(cluster, now),
            sparkline=sparkline(counts[cluster.pk], label=spark_label(counts[cluster.pk])),
            surge=surges.get(cluster.pk),
            escalation=escalations.get(cluster.escalation_id) if cluster.escalation_id else None,
        )
        for cluster in listed
    ]
    return render(
        request,
        "signals/cluster_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "is_filtered": form.filters().is_filtered,
            "sort": form.filters().sort,
        },
    )


# ---------------------------------------------------------------- one cluster


def _cluster_context(request: AuthenticatedRequest, cluster: Cluster) -> dict[str, Any]:
    now = clock.now()
    end = selectors.bucket_end(now)
    counts = selectors.sparkline_counts([cluster.pk], end=end)[cluster.pk]
    history = list(selectors.surge_history(cluster))
    open_surge = next((a for a in history if a.ended_at is None), None)
    per_hour = timedelta(hours=1) / selectors.BUCKET
    chart = sparkline(
        counts,
        width=720,
        height=120,
        label=spark_label(counts),
        baseline_per_bucket=open_surge.baseline_rate / per_hour if open_surge else None,
        threshold_per_bucket=(
            selectors.surge_threshold_per_hour(open_surge) / per_hour if open_surge else None
        ),
        css_class="sparkline sparkline-large",
    )
    signals = Paginator(selectors.cluster_signals(cluster), SIGNALS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    escalation = (
        selectors.visible_escalations_by_id(user=request.user, ids=[cluster.escalation_id]).get(
            cluster.escalation_id
        )
        if cluster.escalation_id
        else None
    )
    state = selectors.effective_state(cluster, now)
    can_act = can_work_escalations(request.user)
    firings = list(
        RuleFiring.objects.filter(cluster=cluster).select_related("escalation").order_by("pk")
    )
    visible = selectors.visible_escalations_by_id(
        user=request.user, ids=[f.escalation_id for f in firings]
    )
    hint_type = suggestions.suggested_type(cluster, by_policy=suggestions.types_by_policy())
    return {
        "cluster": cluster,
        "hint_basis": (
            f"what the rubric gives a {hint_type.replace('_', ' ')} escalation with "
            f"{suggestions.suggested_reach(cluster)} reach, or the escalation's severity if higher"
            if hint_type
            else "the severity of the escalation it is attached to"
        ),
        "state": state,
        "state_label": ClusterState(state).label,
        "joined_by": [
            (KeyKind(kind).label if kind in KeyKind.values else kind, count)
            for kind, count in selectors.join_kinds([cluster.pk])[cluster.pk].items()
        ],
        "chart": chart,
        "chart_peak": max(counts, default=0),
        "chart_start": end - selectors.SPARKLINE_SPAN,
        "chart_end": end,
        "open_surge": open_surge,
        "surges": [(alert, selectors.surge_explanation(alert)) for alert in history],
        "signals": signals,
        "samples": selectors.sample_texts(cluster),
        "related": selectors.related_clusters(cluster),
        "escalation": escalation,
        "hidden_escalation": cluster.escalation_id is not None and escalation is None,
        "firings": [
            (f, visible.get(f.escalation_id) if f.escalation_id else None) for f in firings
        ],
        "tallies": [
            ("Markets", selectors.tally_rows(cluster.markets)),
            ("Languages", selectors.tally_rows(cluster.languages)),
            ("Sources", selectors.tally_rows(cluster.sources)),
            ("Policy hints", selectors.tally_rows(cluster.policy_hints)),
        ],
        "can_act": can_act,
        "can_escalate": can_act and ClusterState.ESCALATED in services.CLUSTER_TRANSITIONS[state],
        "can_benign": can_act and ClusterState.BENIGN in services.CLUSTER_TRANSITIONS[state],
        "can_snooze": can_act and ClusterState.SNOOZED in services.CLUSTER_TRANSITIONS[state],
        "can_reopen": can_act and state in (ClusterState.BENIGN, ClusterState.SNOOZED),
        "attach_form": AttachForm(prefix="attach"),
        "crisis_form": CrisisLinkForm(prefix="crisis"),
        "benign_form": BenignForm(prefix="benign"),
        "snooze_form": SnoozeForm(prefix="snooze", time_zone=request.user.time_zone),
        "reopen_form": ReasonForm(prefix="reopen"),
        "now": now,
        **hooks.cluster_panels(cluster=cluster, viewer=request.user, now=now),
    }


@login_required
@require_GET
@shows_domain_errors
def cluster_detail(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    _require_reader(request)
    cluster = selectors.access_cluster(actor=request.user, cluster_id=cluster_id)
    return render(request, "signals/cluster_detail.html", _cluster_context(request, cluster))


def _back(cluster: Cluster, anchor: str = "") -> HttpResponse:
    url = reverse("cluster-detail", args=[cluster.pk])
    return redirect(url + (f"#{anchor}" if anchor else ""))


def cluster_action(request: AuthenticatedRequest, cluster_id: int, act) -> HttpResponse:
    """A POST on a cluster: run ``act``; show its outcome, or its error, on the cluster page."""
    _require_reader(request)
    cluster = selectors.access_cluster(actor=request.user, cluster_id=cluster_id)
    require(
        can_work_escalations(request.user),
        "your role cannot act on clusters: viewers and partners only read",
    )
    try:
        outcome = act(cluster)
    except WatchfloorError as error:
        if error.http_status in (403, 404) and error.field not in ("escalation_id", "crisis_id"):
            raise
        messages.error(request, error.message)
        return _back(cluster, "actions")
    messages.success(request, outcome)
    return _back(cluster)


@login_required
@require_POST
@shows_domain_errors
def cluster_attach(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    def act(cluster: Cluster) -> str:
        form = AttachForm(request.POST, prefix="attach")
        if not form.is_valid():
            raise WatchfloorError(form_problem(form))
        escalation = services.attach_cluster(
            cluster=cluster,
            escalation_id=form.cleaned_data["escalation"],
            actor=request.user,
            note=form.cleaned_data["note"],
        )
        return f"Cluster C-{cluster.pk} attached to {escalation.reference}."

    return cluster_action(request, cluster_id, act)


@login_required
@require_POST
@shows_domain_errors
def cluster_benign(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    def act(cluster: Cluster) -> str:
        form = BenignForm(request.POST, prefix="benign")
        if not form.is_valid():
            raise WatchfloorError(form_problem(form))
        services.mark_cluster_benign(
            cluster=cluster, actor=request.user, reason=form.cleaned_data["reason"]
        )
        return f"Cluster C-{cluster.pk} marked benign."

    return cluster_action(request, cluster_id, act)


@login_required
@require_POST
@shows_domain_errors
def cluster_snooze(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    def act(cluster: Cluster) -> str:
        form = SnoozeForm(request.POST, prefix="snooze", time_zone=request.user.time_zone)
        if not form.is_valid():
            raise WatchfloorError(form_problem(form))
        until = form.until_time(clock.now())
        services.snooze_cluster(
            cluster=cluster, actor=request.user, until=until, reason=form.cleaned_data["reason"]
        )
        return f"Cluster C-{cluster.pk} snoozed until {strip_tags(local_time(until))}."

    return cluster_action(request, cluster_id, act)


@login_required
@require_POST
@shows_domain_errors
def cluster_reopen(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    def act(cluster: Cluster) -> str:
        form = ReasonForm(request.POST, prefix="reopen")
        form.is_valid()
        services.reopen_cluster(
            cluster=cluster, actor=request.user, reason=form.cleaned_data.get("reason", "")
        )
        return f"Cluster C-{cluster.pk} is open again."

    return cluster_action(request, cluster_id, act)


# ---------------------------------------------------------------- escalate a cluster


def escalation_initial(cluster: Cluster) -> dict[str, Any]:
    """The new-escalation form as the cluster fills it in; the analyst changes what is wrong."""
    policies = [code for code, _ in selectors.tally_rows(cluster.policy_hints)]
    sources = [code for code, _ in selectors.tally_rows(cluster.sources)]
    type_code = suggestions.suggested_type(cluster, by_policy=suggestions.types_by_policy())
    source_kind = ESCALATION_SOURCE_FOR_SIGNAL.get(sources[0], "") if sources else ""
    if source_kind == SourceKind.PARTNER_TEAM:
        source_kind = SourceKind.INTERNAL  # the analyst names the team
    policy = next((c for c in policies if Policy.objects.filter(code=c).exists()), "")
    subjects = services.subjects_for(cluster)
    return {
        "type": type_code,
        "title": services.representative_of(cluster, length=120),
        "summary": services.cluster_facts(cluster),
        "markets": services.known_markets(m for m, _ in selectors.tally_rows(cluster.markets)),
        "languages": ", ".join(
            services.valid_languages(t for t, _ in selectors.tally_rows(cluster.languages))
        ),
        "subjects": "\n".join(f"{s.kind}: {s.reference}" for s in subjects),
        "source_kind": source_kind or SourceKind.INTERNAL,
        "source_detail": f"Cluster C-{cluster.pk}",
        "policy": policy,
        EscalationForm.FACTOR_PREFIX + "reach": suggestions.suggested_reach(cluster),
    }


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def cluster_escalate(request: AuthenticatedRequest, cluster_id: int) -> HttpResponse:
    _require_reader(request)
    cluster = selectors.access_cluster(actor=request.user, cluster_id=cluster_id)
    require(can_work_escalations(request.user), "your role cannot escalate clusters")
    form = EscalationForm(
        request.POST if request.method == "POST" else None,
        rubric=rubric_for(active_catalog_version()),
        viewer_time_zone=request.user.time_zone,
        initial=escalation_initial(cluster),
    )
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                escalation = services.escalate_cluster(
                    cluster=cluster, actor=request.user, details=form.as_service_input()
                )
            except PermissionDenied:
                raise
            except WatchfloorError as error:
                if error.field == "state":
                    messages.error(request, error.message)
                    return _back(cluster)
                form.add_service_error(error)
                status = error.http_status
            else:
                messages.success(
                    request,
                    f"{escalation.reference} created as {escalation.severity_name} "
                    f"from cluster C-{cluster.pk}.",
                )
                return redirect("escalation-detail", escalation_id=escalation.pk)
    return render(
        request,
        "signals/cluster_escalate.html",
        {
            "form": form,
            "cluster": cluster,
            "representative": services.representative_of(cluster, length=200),
            "state": selectors.effective_state(cluster, clock.now()),
        },
        status=status,
    )


# ---------------------------------------------------------------- the surge feed


@dataclass(frozen=True)
class SurgeRow:
    alert: SurgeAlert
    what: str
    explanation: str
    sparkline: SafeString
    escalations: list


@login_required
@require_GET
@shows_domain_errors
def surge_feed(request: AuthenticatedRequest) -> HttpResponse:
    _require_reader(request)
    form = SurgeFilterForm(request.GET)
    now = clock.now()
    alerts = selectors.surge_feed(user=request.user, filters=form.filters())
    page = Paginator(alerts, SURGES_PAGE_SIZE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    end = selectors.bucket_end(now)
    cluster_counts = selectors.sparkline_counts(
        [a.cluster_id for a in listed if a.cluster_id], end=end
    )
    series_counts = selectors.series_sparklines(listed, end=end)
    acted = selectors.escalations_for_surges(user=request.user, alerts=listed)
    rows = []
    for alert in listed:
        counts = (
            (cluster_counts.get(alert.cluster_id) if alert.cluster_id else None)
            or series_counts.get(alert.pk)
            or []
        )
        if alert.subject == SurgeAlert.Subject.CLUSTER and alert.cluster is not None:
            what = services.representative_of(alert.cluster, length=90)
        else:
            what = selectors.describe_surge_subject(alert)
        rows.append(
            SurgeRow(
                alert=alert,
                what=what,
                explanation=selectors.surge_explanation(alert),
                sparkline=sparkline(counts, label=spark_label(counts)),
                escalations=acted.get(alert.pk, []),
            )
        )
    return render(
        request,
        "signals/surge_feed.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "markets": selectors.market_surges(listed),
            "can_act": can_work_escalations(request.user),
            "now": now,
        },
    )


@login_required
@require_POST
@shows_domain_errors
def surge_acknowledge(request: AuthenticatedRequest, surge_id: int) -> HttpResponse:
    _require_reader(request)
    alert = selectors.access_surge(actor=request.user, surge_id=surge_id)
    try:
        services.acknowledge_surge(alert=alert, actor=request.user)
    except PermissionDenied:
        raise
    except WatchfloorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Surge alert {alert.pk} acknowledged.")
    return redirect(reverse("surges") + f"?{request.GET.urlencode()}#surge-{alert.pk}")
