"""The clusters and surges pages, and the analyst actions on a cluster, as people use them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound, PermissionDenied
from watchfloor.escalations.models import Escalation, Note
from watchfloor.signals import reactions, selectors, services
from watchfloor.signals.models import ClusterState, SurgeAlert
from watchfloor.signals.selectors import bucket_end

from .factories import add_signals, make_cluster, relate, steady_then_burst

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> 振り込め'


@pytest.fixture(autouse=True)
def without_rules(monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", "/nonexistent/signal_rules.yaml")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst_client(analyst):
    return _client(analyst)


@pytest.fixture
def viewer_client(viewer):
    return _client(viewer)


@pytest.fixture
def partner_client(legal_partner):
    return _client(legal_partner)


def _text(response) -> str:
    return response.content.decode()


def _listed(response) -> list[int]:
    body = _text(response).split("<tbody>", 1)[-1]
    return [int(pk) for pk in re.findall(r'<span class="reference">C-(\d+) ·', body)]


# ---------------------------------------------------------------- the list


def test_clusters_can_be_ranked_by_velocity_then_severity_hint(
    analyst_client, catalog, frozen_clock
):
    slow = make_cluster(velocity_1h=3)
    fast = make_cluster(velocity_1h=90)
    tied_mild = make_cluster(velocity_1h=20, severity_hint=3)
    tied_severe = make_cluster(velocity_1h=20, severity_hint=1)
    tied_none = make_cluster(velocity_1h=20)

    response = analyst_client.get(reverse("clusters"), {"sort": "fastest"})

    assert response.status_code == 200
    assert _listed(response) == [fast.pk, tied_severe.pk, tied_mild.pk, tied_none.pk, slow.pk]
    # The default order is the triage score's (tests/signals/test_triage.py); clusters
    # without one yet follow the fastest first.
    default = _listed(analyst_client.get(reverse("clusters")))
    assert default[0] == fast.pk and default[-1] == slow.pk


def test_each_row_has_a_server_drawn_sparkline_and_no_inline_script_or_style(
    analyst_client, catalog, frozen_clock
):
    cluster = make_cluster()
    add_signals(cluster, at=[frozen_clock - timedelta(minutes=m) for m in (0, 5, 5, 60)])
    response = analyst_client.get(reverse("clusters"))
    page = _text(response)
    svg = re.search(r'<svg class="sparkline".*?</svg>', page, re.S)
    assert svg, "a sparkline per row"
    assert 'role="img"' in svg.group(0) and "peak 2, latest 1" in svg.group(0)
    assert "style=" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline scripts"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_hostile_text_is_escaped_and_kept_in_its_own_script(analyst_client, catalog, frozen_clock):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, text=HOSTILE, language="ja")
    add_signals(cluster, at=frozen_clock, text="نص عربي عن احتيال", language="ar")

    for url in (reverse("clusters"), reverse("cluster-detail", args=[cluster.pk])):
        page = _text(analyst_client.get(url))
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    detail = _text(analyst_client.get(reverse("cluster-detail", args=[cluster.pk])))
    assert '<blockquote lang="ar" dir="auto">نص عربي عن احتيال</blockquote>' in detail
    assert '<blockquote lang="ja" dir="auto">&lt;script&gt;' in detail
    listing = _text(analyst_client.get(reverse("clusters")))
    assert 'class="representative" lang="ja" dir="auto">&lt;script&gt;' in listing


def test_filters_by_state_market_language_and_source(
    analyst_client, analyst, catalog, frozen_clock
):
    jp = make_cluster(velocity_1h=5)
    add_signals(jp, at=frozen_clock, market="JP", language="ja")
    ph = make_cluster(velocity_1h=4)
    add_signals(ph, at=frozen_clock, market="PH", language="tl", source="trusted_flagger")
    benign = make_cluster(velocity_1h=3)
    add_signals(benign, at=frozen_clock, market="JP", language="ja")
    services.mark_cluster_benign(cluster=benign, actor=analyst, reason="a joke")

    def listed(**query):
        return _listed(analyst_client.get(reverse("clusters"), query))

    assert listed() == [jp.pk, ph.pk]  # open by default
    assert listed(market="PH") == [ph.pk]
    assert listed(language="ja") == [jp.pk]
    assert listed(source="trusted_flagger") == [ph.pk]
    assert listed(state="benign") == [benign.pk]
    assert listed(state="all", market="JP") == [jp.pk, benign.pk]


def test_the_list_pages_take_a_fixed_number_of_queries(
    analyst_client, analyst, catalog, frozen_clock, django_assert_num_queries, make_escalation
):
    escalation = make_escalation()

    def add(count):
        for _ in range(count):
            cluster = make_cluster(velocity_1h=1)
            steady_then_burst(
                cluster, end=bucket_end(frozen_clock), per_bucket=0, burst=(0, 10, 12)
            )
            reactions.after_ingest(
                cluster_ids=[cluster.pk], series_keys=[("JP", "scams_fraud", "ja")], actor=None
            )
            services.attach_cluster(cluster=cluster, escalation_id=escalation.pk, actor=analyst)

    add(2)
    analyst_client.get(reverse("clusters"))  # warm the session and caches
    # Session, user, filter options, count, page, sparklines, open surges, escalations,
    # and the header's "Needs me" count.
    with django_assert_num_queries(9) as first:
        analyst_client.get(reverse("clusters"), {"state": "all"})
    # Session, user, count, page, cluster sparklines, series sparklines, rule firings
    # (and the escalations they name, when there are any), the header's "Needs me" count.
    with django_assert_num_queries(8):
        analyst_client.get(reverse("surges"))
    add(8)
    with django_assert_num_queries(len(first.captured_queries)):
        response = analyst_client.get(reverse("clusters"), {"state": "all"})
    assert len(_listed(response)) == 10
    with django_assert_num_queries(8):
        response = analyst_client.get(reverse("surges"))
    # Ten clusters, and the market, market × policy and market × language series.
    assert _text(response).count('class="surge-card') == 13


# ---------------------------------------------------------------- who sees what


def test_partners_see_no_clusters_or_surges(partner_client, legal_partner, catalog, frozen_clock):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    for url in (
        reverse("clusters"),
        reverse("surges"),
        reverse("cluster-detail", args=[cluster.pk]),
        reverse("cluster-escalate", args=[cluster.pk]),
    ):
        response = partner_client.get(url)
        assert response.status_code == 403, url
        assert "not shown to partner teams" in _text(response)
    assert (
        partner_client.post(
            reverse("cluster-benign", args=[cluster.pk]), {"benign-reason": "x"}
        ).status_code
        == 403
    )
    assert selectors.clusters_visible_to(legal_partner).count() == 0
    assert selectors.surges_visible_to(legal_partner).count() == 0
    with pytest.raises(NotFound):
        selectors.access_cluster(actor=legal_partner, cluster_id=cluster.pk)
    queue = _text(partner_client.get(reverse("queue")))
    assert reverse("clusters") not in queue


def test_viewers_read_but_cannot_act(viewer_client, viewer, catalog, frozen_clock):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    detail = viewer_client.get(reverse("cluster-detail", args=[cluster.pk]))
    assert detail.status_code == 200
    assert 'id="actions"' not in _text(detail)
    assert viewer_client.get(reverse("clusters")).status_code == 200

    for name, data in (
        ("cluster-benign", {"benign-reason": "nothing"}),
        ("cluster-snooze", {"snooze-period": "PT1H"}),
        ("cluster-attach", {"attach-escalation": "WF-1"}),
        ("cluster-reopen", {}),
    ):
        assert viewer_client.post(reverse(name, args=[cluster.pk]), data).status_code == 403
    assert viewer_client.get(reverse("cluster-escalate", args=[cluster.pk])).status_code == 403
    with pytest.raises(PermissionDenied):
        services.mark_cluster_benign(cluster=cluster, actor=viewer, reason="x")
    cluster.refresh_from_db()
    assert cluster.state == ClusterState.OPEN
    assert not AuditEvent.objects.filter(action__startswith="signals.cluster").exists()


def test_a_restricted_escalation_stays_hidden_behind_its_cluster(
    analyst_client, other_analyst, catalog, frozen_clock, make_escalation
):
    secret = make_escalation(actor=other_analyst, is_restricted=True, title="Secret matter")
    cluster = make_cluster(velocity_1h=1)
    add_signals(cluster, at=frozen_clock)
    services.attach_cluster(cluster=cluster, escalation_id=secret.pk, actor=other_analyst)

    listing = _text(analyst_client.get(reverse("clusters"), {"state": "all"}))
    detail = _text(analyst_client.get(reverse("cluster-detail", args=[cluster.pk])))
    for page in (listing, detail):
        assert secret.reference not in page
        assert "Secret matter" not in page
    assert "Attached to a restricted escalation" in detail


# ---------------------------------------------------------------- actions


def test_mark_benign_through_the_page(analyst_client, analyst, catalog, frozen_clock):
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock)
    response = analyst_client.post(
        reverse("cluster-benign", args=[cluster.pk]), {"benign-reason": "a news report"}
    )
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.state == ClusterState.BENIGN
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_CLUSTER_MARKED_BENIGN)
    assert (event.actor_id, event.data["reason"]) == (analyst.pk, "a news report")

    again = analyst_client.post(
        reverse("cluster-benign", args=[cluster.pk]), {"benign-reason": "again"}, follow=True
    )
    assert "it cannot be marked benign from there" in _text(again)


def test_a_snoozed_cluster_wakes_after_its_time(analyst_client, analyst, catalog, frozen_clock):
    cluster = make_cluster(velocity_1h=2)
    add_signals(cluster, at=frozen_clock)
    response = analyst_client.post(
        reverse("cluster-snooze", args=[cluster.pk]),
        {"snooze-period": "PT4H", "snooze-reason": "waiting for the partner"},
        follow=True,
    )
    assert "snoozed until" in _text(response)
    cluster.refresh_from_db()
    assert cluster.state == ClusterState.SNOOZED
    assert cluster.snoozed_until == frozen_clock + timedelta(hours=4)
    assert _listed(analyst_client.get(reverse("clusters"))) == []
    assert _listed(analyst_client.get(reverse("clusters"), {"state": "snoozed"})) == [cluster.pk]

    clock.advance(timedelta(hours=3, minutes=59))
    assert _listed(analyst_client.get(reverse("clusters"))) == []
    clock.advance(timedelta(minutes=1))
    # Open as soon as its time comes, before any job has run...
    assert _listed(analyst_client.get(reverse("clusters"))) == [cluster.pk]
    # ...and written down, audited, by the next pass of the reactions.
    report = reactions.check_all()
    assert report.woken == [cluster.pk]
    cluster.refresh_from_db()
    assert (cluster.state, cluster.snoozed_until) == (ClusterState.OPEN, None)
    woke = AuditEvent.objects.get(action=AuditAction.SIGNALS_CLUSTER_WOKE)
    assert woke.actor_id is None
    assert woke.occurred_at == frozen_clock + timedelta(hours=4)


def test_snooze_until_a_local_time_and_refuse_the_past(analyst, catalog, frozen_clock):
    cluster = make_cluster()
    client = _client(analyst)  # Asia/Tokyo: 09:30 local now
    client.post(
        reverse("cluster-snooze", args=[cluster.pk]),
        {"snooze-period": "PT1H", "snooze-until": "2026-11-24T18:00"},
    )
    cluster.refresh_from_db()
    assert cluster.snoozed_until == frozen_clock.replace(hour=9, minute=0)  # 18:00 JST
    with pytest.raises(Exception, match="snooze until a time in the future"):
        services.snooze_cluster(cluster=cluster, actor=analyst, until=frozen_clock)


def test_attach_to_an_escalation_by_its_number(
    analyst_client, analyst, catalog, frozen_clock, make_escalation
):
    escalation = make_escalation()
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, count=3, market="PH", language="tl")
    response = analyst_client.post(
        reverse("cluster-attach", args=[cluster.pk]),
        {"attach-escalation": escalation.reference, "attach-note": "same donation page"},
        follow=True,
    )
    assert f"attached to {escalation.reference}" in _text(response)
    cluster.refresh_from_db()
    assert (cluster.state, cluster.escalation_id) == (ClusterState.ESCALATED, escalation.pk)
    note = Note.objects.get(escalation=escalation)
    assert note.body.startswith(f"Cluster C-{cluster.pk} attached by")
    assert "3 signals" in note.body and note.body.endswith("same donation page")
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_CLUSTER_ATTACHED)
    assert event.escalation_id == escalation.pk
    # The escalation's timeline shows it.
    timeline = _text(analyst_client.get(reverse("escalation-detail", args=[escalation.pk])))
    assert "Cluster attached" in timeline

    with pytest.raises(Conflict, match="already escalated"):
        services.attach_cluster(cluster=cluster, escalation_id=escalation.pk, actor=analyst)


def test_attach_only_to_escalations_the_actor_can_see(
    analyst_client, analyst, other_analyst, catalog, frozen_clock, make_escalation
):
    hidden = make_escalation(actor=other_analyst, is_restricted=True)
    cluster = make_cluster()
    response = analyst_client.post(
        reverse("cluster-attach", args=[cluster.pk]),
        {"attach-escalation": hidden.reference},
        follow=True,
    )
    assert response.status_code == 200
    assert f"no escalation {hidden.reference} that you can see" in _text(response)
    cluster.refresh_from_db()
    assert cluster.escalation_id is None


def test_escalate_a_cluster_from_a_prefilled_form(analyst_client, analyst, catalog, frozen_clock):
    cluster = make_cluster(subject_kind="account", subject_ref="acct:fake_relief")
    add_signals(
        cluster,
        at=frozen_clock,
        count=12,
        market="PH",
        language="en",
        impressions=1_000,
        text="Fake relief page asking for GCash donations",
        policy_hint="scams_fraud",
    )
    page = _text(analyst_client.get(reverse("cluster-escalate", args=[cluster.pk])))
    assert '<option value="scam_campaign" selected>' in page
    assert "account: acct:fake_relief" in page
    assert '<option value="PH" selected>' in page
    assert '<option value="significant" selected>' in page  # reach from 12,000 impressions

    form = {
        "type": "scam_campaign",
        "title": "GCash relief scam",
        "summary": "From cluster",
        "markets": ["PH"],
        "languages": "en",
        "subjects": "account: acct:fake_relief",
        "source_kind": "user_report",
        "statutory_time_zone": "Asia/Tokyo",
        "factor_harm": "moderate",
        "factor_reach": "significant",
    }
    response = analyst_client.post(reverse("cluster-escalate", args=[cluster.pk]), form)
    escalation = Escalation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("escalation-detail", args=[escalation.pk])
    cluster.refresh_from_db()
    assert (cluster.state, cluster.escalation_id) == (ClusterState.ESCALATED, escalation.pk)
    assert escalation.created_by == analyst
    event = AuditEvent.objects.get(action=AuditAction.SIGNALS_CLUSTER_ESCALATED)
    assert event.escalation_id == escalation.pk


def test_reopen_a_benign_cluster(analyst, catalog, frozen_clock):
    cluster = make_cluster()
    services.mark_cluster_benign(cluster=cluster, actor=analyst, reason="looked fine")
    services.reopen_cluster(cluster=cluster, actor=analyst, reason="more reports came in")
    cluster.refresh_from_db()
    assert cluster.state == ClusterState.OPEN
    with pytest.raises(Conflict, match="already open"):
        services.reopen_cluster(cluster=cluster, actor=analyst)


# ---------------------------------------------------------------- the cluster page


def test_the_cluster_page_shows_signals_paged_related_clusters_and_surges(
    analyst_client, catalog, frozen_clock
):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock), per_bucket=0, burst=(5, 10, 15))
    add_signals(cluster, at=frozen_clock, market="TH", language="th", text="หลอกลวง")
    other = make_cluster(representative_text="the same link, different words")
    relate(cluster, other)
    reactions.after_ingest(cluster_ids=[cluster.pk], series_keys=[], actor=None)

    page = _text(analyst_client.get(reverse("cluster-detail", args=[cluster.pk])))
    assert 'Signals <span class="muted">(31)</span>' in page
    assert "Page 1 of 2" in page
    assert f"C-{other.pk}</a>" in page and "shares a url key" in page
    assert "still open" in page and "16 signals in 5 min" in page
    assert '<blockquote lang="th" dir="auto">หลอกลวง</blockquote>' in page
    assert '<th scope="row">TH</th>' in page
    second = _text(analyst_client.get(reverse("cluster-detail", args=[cluster.pk]), {"page": 2}))
    assert "Page 2 of 2" in second


def test_the_surge_feed_explains_each_alert_and_takes_acknowledgements(
    analyst_client, analyst, catalog, frozen_clock
):
    cluster = make_cluster()
    steady_then_burst(cluster, end=bucket_end(frozen_clock))
    reactions.after_ingest(
        cluster_ids=[cluster.pk], series_keys=[("JP", "scams_fraud", "ja")], actor=None
    )
    page = _text(analyst_client.get(reverse("surges")))
    assert "×20.0" in page
    assert "40 signals in 5 min against 2.0 expected (24.0/h): 20.0×" in page
    assert "JP × scams fraud" in page and "JP × ja" in page and "JP × all signals" in page
    # The market's open alerts merged, led by the highest ratio (the market on a tie).
    assert (
        "JP: 4 series rising, led by JP × all signals (40 signals in 5 min against 2.0 "
        "expected (24.0/h): 20.0×)" in page
    )
    alert = SurgeAlert.objects.get(subject="cluster")
    analyst_client.post(reverse("surge-acknowledge", args=[alert.pk]))
    alert.refresh_from_db()
    assert alert.acknowledged_by == analyst
    assert AuditEvent.objects.filter(action=AuditAction.SIGNALS_SURGE_ACKNOWLEDGED).exists()
    open_only = _text(analyst_client.get(reverse("surges"), {"show": "open", "subject": "series"}))
    assert "Market × policy × language" in open_only and f"C-{cluster.pk} ·" not in open_only


def test_the_surge_feed_links_what_the_rules_did(
    analyst_client, viewer_client, catalog, frozen_clock, monkeypatch
):
    rules = Path(__file__).resolve().parents[2] / "src/watchfloor/defaults/signal_rules.yaml"
    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(rules))
    end = bucket_end(frozen_clock)
    clusters = [make_cluster() for _ in range(5)]
    for cluster in clusters:
        add_signals(
            cluster,
            at=end - timedelta(minutes=2),
            count=5,
            market="JP",
            policy_hint="crisis_misinformation",
        )
    reactions.after_ingest(
        cluster_ids=[c.pk for c in clusters],
        series_keys=[("JP", "crisis_misinformation", "ja")],
        actor=None,
    )
    escalation = Escalation.objects.get(type__code="crisis_misinformation")
    for client in (analyst_client, viewer_client):
        page = _text(client.get(reverse("surges")))
        assert (
            f'Auto-escalation: <a href="/escalations/{escalation.pk}/">{escalation.reference}'
            in page
        )
    assert "Acknowledge" not in _text(viewer_client.get(reverse("surges")))


def test_add_a_cluster_to_a_crisis_from_its_page(
    analyst_client, analyst, other_analyst, catalog, frozen_clock
):
    from watchfloor.crises.models import CrisisCluster
    from watchfloor.crises.services import declare_crisis

    crisis = declare_crisis(actor=analyst, title="Typhoon scams", markets=["PH"])
    hidden = declare_crisis(
        actor=other_analyst, title="Restricted", markets=["PH"], is_restricted=True
    )
    cluster = make_cluster()
    add_signals(cluster, at=frozen_clock, count=2, market="PH", language="tl")

    page = _text(analyst_client.get(reverse("cluster-detail", args=[cluster.pk])))
    assert "Add to a crisis" in page
    response = analyst_client.post(
        reverse("cluster-crisis", args=[cluster.pk]),
        {"crisis-crisis": crisis.reference, "crisis-reason": "same scam wave"},
        follow=True,
    )
    assert f"now part of {crisis.reference}" in _text(response)
    link = CrisisCluster.objects.get()
    assert (link.crisis_id, link.cluster_id, link.reason) == (
        crisis.pk,
        cluster.pk,
        "same scam wave",
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.CRISIS_CLUSTER_LINKED, crisis_id=crisis.pk
    ).exists()

    # A crisis the analyst cannot see answers like one that does not exist.
    response = analyst_client.post(
        reverse("cluster-crisis", args=[cluster.pk]),
        {"crisis-crisis": hidden.reference},
        follow=True,
    )
    assert f"no crisis {hidden.reference} that you can see" in _text(response)
    assert CrisisCluster.objects.count() == 1
