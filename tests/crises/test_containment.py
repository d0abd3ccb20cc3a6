"""Clusters in a crisis and the containment figures: linking and unlinking (audited, need
to know on both sides), the figures worked out from known buckets and hits, the chart and
its table in the war room, and a query count that does not grow with the clusters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.crises.conftest import signed_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from watchfloor.crises import services
from watchfloor.crises.containment import (
    containment_figures,
    link_cluster,
    linked_clusters,
    unlink_cluster,
)
from watchfloor.crises.models import CrisisCluster
from watchfloor.crises.watchlists import add_watchlist_entry, flag_matching_signals
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import Cluster, Signal

pytestmark = pytest.mark.usefixtures("frozen_clock")

# The frozen clock reads 2026-11-24 00:30 UTC: the window is 23 Nov 01:00 – 24 Nov 01:00.
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
WINDOW_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
_numbers = count(1)


@pytest.fixture(autouse=True)
def _each_test_with_a_fresh_matcher(fresh_matcher):
    """Before anything else: the database is new each time, the matcher's cache is not."""


def ingest(subject: str, at: datetime, *, times: int = 1, **fields: Any) -> list[int]:
    """``times`` signals about ``subject`` at ``at``, through the real intake."""
    items = []
    for _ in range(times):
        number = next(_numbers)
        items.append(
            {
                "id": f"c-{number}",
                "received_at": at.isoformat(),
                "source": "user_report",
                "subject": {"kind": "post", "ref": subject},
                **fields,
            }
        )
    result = ingest_signals(items=items, producer="containment-tests", actor=None)
    assert result.accepted == times, result.results
    return [item.signal_id for item in result.results]


def cluster_of(signal_id: int) -> Cluster:
    return Signal.objects.select_related("cluster").get(pk=signal_id).cluster


@pytest.fixture
def scene(crisis, escalation, analyst, make_escalation):
    """A crisis with a linked cluster (A), a cluster attached to its escalation (B), a
    cluster attached to a restricted escalation linked to it (D), and one outside (C)."""
    add_watchlist_entry(crisis=crisis, kind="term", value="詐欺", actor=analyst)
    a_recent = ingest(
        "post:A",
        NOW - timedelta(minutes=20),
        times=3,
        text="義援金詐欺です",
        market="JP",
        language="ja",
    )
    ingest(
        "post:A",
        NOW - timedelta(minutes=50),
        times=2,
        text="義援金の件",
        market="JP",
        language="ja",
    )
    a_old = ingest(
        "post:A", NOW - timedelta(days=2), text="古い詐欺の投稿", market="JP", language="ja"
    )
    b = ingest(
        "post:B",
        NOW - timedelta(hours=2, minutes=25),
        times=4,
        text="Fake relief",
        market="PH",
        language="tl",
    )
    c = ingest("post:C", NOW - timedelta(minutes=10), times=10, text="詐欺", market="TH")
    restricted = make_escalation(
        title="Restricted lead", markets=["JP"], is_restricted=True, access_usernames=[]
    )
    services.link_escalation(crisis=crisis, escalation=restricted, actor=analyst)
    d = ingest("post:D", NOW - timedelta(minutes=5), times=7, text="hidden", market="KR")
    cluster_a = cluster_of(a_recent[0])
    link_cluster(crisis=crisis, cluster=cluster_a, actor=analyst, reason="the main wave")
    Cluster.objects.filter(pk=cluster_of(b[0]).pk).update(escalation=escalation)
    Cluster.objects.filter(pk=cluster_of(d[0]).pk).update(escalation=restricted)
    all_ids = [*a_recent, *a_old, *b, *c, *d]
    flag_matching_signals(all_ids)
    return {
        "a": cluster_a,
        "b": cluster_of(b[0]),
        "c": cluster_of(c[0]),
        "d": cluster_of(d[0]),
        "restricted": restricted,
        "escalation_ids": [escalation.pk, restricted.pk],
    }


# ---------------------------------------------------------------- the figures


def test_containment_figures_from_known_buckets_and_hits(crisis, scene, other_analyst):
    figures = containment_figures(
        crisis=crisis,
        viewer=other_analyst,
        escalation_ids=[scene["escalation_ids"][0]],  # the restricted one is not theirs
        now=clock.now(),
    )
    assert (figures.start, figures.end) == (WINDOW_START, WINDOW_START + timedelta(hours=24))
    assert len(figures.hours) == 24
    by_hour = {hour.start.strftime("%d %H"): hour for hour in figures.hours if hour.signals}
    assert {key: hour.signals for key, hour in by_hour.items()} == {
        "23 22": 4,  # B at 22:05
        "23 23": 2,  # A at 23:40
        "24 00": 3,  # A at 00:10
    }
    # Watchlist matches count every matching signal, in the crisis's clusters or not: A's
    # three recent ones and C's ten; A's old one (two days ago) is outside the window.
    assert [hour.matches for hour in figures.hours] == [0] * 23 + [13]
    assert figures.signals_in_window == 9 and figures.matches_in_window == 13
    assert figures.signals_last_hour == 5  # from 23:35
    assert (figures.clusters, figures.growing, figures.surging) == (2, 1, 0)
    assert figures.signals_total == 10  # every signal of A and B, the old one too
    assert figures.top_markets == [("JP", 6), ("PH", 4)]
    assert figures.top_languages == [("ja", 6), ("tl", 4)]
    assert figures.peak_hour.signals == 4 and not figures.contained


def test_hours_read_from_the_cache_give_the_same_figures(
    crisis, scene, other_analyst, monkeypatch, django_assert_num_queries
):
    """A crisis of many clusters reads the current hour fresh and the ones before from a
    cache; the last hour's signals (from 23:35) are summed across the two."""
    from watchfloor.crises import containment

    def figures():
        return containment_figures(
            crisis=crisis,
            viewer=other_analyst,
            escalation_ids=[scene["escalation_ids"][0]],
            now=clock.now(),
        )

    fresh = figures()
    monkeypatch.setattr(containment, "CACHE_FROM_CLUSTERS", 1)
    cache.clear()  # another test's crisis may have had the same ids
    cached = figures()  # fills the cache
    assert cached == fresh and cached.signals_last_hour == 5
    with django_assert_num_queries(4):  # counts, tallies, this hour's buckets and hits
        assert figures() == fresh


def test_a_cluster_of_an_escalation_the_reader_cannot_see_is_left_out(crisis, scene, analyst):
    figures = containment_figures(
        crisis=crisis, viewer=analyst, escalation_ids=scene["escalation_ids"], now=clock.now()
    )
    assert figures.clusters == 3 and figures.top_markets[0] == ("KR", 7)
    analyst_html = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk]))
    assert f"C-{scene['d'].pk}" in analyst_html.content.decode()


def test_growth_stops_when_the_clusters_go_quiet(crisis, scene, other_analyst):
    clock.advance(timedelta(hours=2))
    figures = containment_figures(
        crisis=crisis,
        viewer=other_analyst,
        escalation_ids=[scene["escalation_ids"][0]],
        now=clock.now(),
    )
    assert figures.growing == 0 and figures.signals_last_hour == 0 and figures.contained
    assert figures.end == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def test_partners_see_no_clusters_or_figures(crisis, escalation, scene, analyst, legal_partner):
    from watchfloor.coordination.services import send_partner_request

    send_partner_request(
        escalation=escalation,
        actor=analyst,
        team_code="legal",
        kind="legal_review",
        question="May we share the hashes?",
        due_within=timedelta(hours=2),
    )
    assert (
        containment_figures(
            crisis=crisis, viewer=legal_partner, escalation_ids=[escalation.pk], now=clock.now()
        )
        is None
    )
    assert (
        linked_clusters(
            crisis=crisis, viewer=legal_partner, escalation_ids=[escalation.pk], now=clock.now()
        )
        == []
    )
    html = signed_in(legal_partner).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    assert 'id="live-watchlist"' in html
    for hidden in ("live-clusters", "live-containment", "live-watchlist-hits", "義援金詐欺です"):
        assert hidden not in html


# ---------------------------------------------------------------- the war room


def test_the_war_room_lists_clusters_and_draws_the_chart(crisis, escalation, scene, other_analyst):
    page = signed_in(other_analyst).get(reverse("crisis-detail", args=[crisis.pk]))
    html = page.content.decode()
    assert 'id="live-clusters"' in html and 'id="live-containment"' in html
    assert reverse("cluster-detail", args=[scene["a"].pk]) in html
    assert reverse("cluster-detail", args=[scene["b"].pk]) in html
    assert f"via {escalation.reference}" in html
    assert "the main wave" in html  # the link's reason
    listed = html.split('id="live-clusters"')[1].split("</section>")[0]
    assert reverse("cluster-detail", args=[scene["c"].pk]) not in listed
    assert reverse("cluster-detail", args=[scene["d"].pk]) not in html
    assert '<svg class="containment-chart"' in html and 'role="img"' in html
    assert "9 signals, peak 4 in an hour; 13 watchlist matches" in html
    assert html.count('<rect class="chart-bar"') == 24
    assert "style=" not in html.split('<svg class="containment-chart"')[1].split("</svg>")[0]
    # The table alternative: 24 rows, one per hour.
    table = html.split("The figures by hour")[1].split("</table>")[0]
    assert table.count('<th scope="row">') == 24
    assert "1 still growing" in html
    assert 'JP 6</span> · <span class="tally">PH 4' in html


def test_the_live_fragment_costs_the_same_with_more_clusters(crisis, escalation, analyst, scene):
    client = signed_in(analyst)
    url = reverse("crisis-live", args=[crisis.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200
    for index in range(5):
        ids = ingest(f"post:more-{index}", NOW - timedelta(minutes=index * 7), times=2, text="詐欺")
        link_cluster(crisis=crisis, cluster=cluster_of(ids[0]), actor=analyst)
        flag_matching_signals(ids)
    with CaptureQueriesContext(connection) as after:
        assert client.get(url).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


def test_linking_from_the_war_room(crisis, scene, analyst, viewer):
    client = signed_in(analyst)
    c = scene["c"]
    response = client.post(
        reverse("crisis-cluster-link", args=[crisis.pk]),
        {"cluster-cluster": f"C-{c.pk}", "cluster-reason": "same scam"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#live-clusters")
    assert CrisisCluster.objects.filter(crisis=crisis, cluster=c).exists()
    again = client.post(
        reverse("crisis-cluster-link", args=[crisis.pk]), {"cluster-cluster": str(c.pk)}
    )
    assert again.status_code == 409
    assert "already part of" in str(again.context["forms"]["cluster"].errors["cluster"])
    missing = client.post(
        reverse("crisis-cluster-link", args=[crisis.pk]), {"cluster-cluster": "C-999999"}
    )
    assert missing.status_code == 400
    assert "no cluster C-999999" in str(missing.context["forms"]["cluster"].errors["cluster"])
    response = client.post(
        reverse("crisis-cluster-unlink", args=[crisis.pk, c.pk]),
        {"cluster-unlink-reason": "a different wave"},
    )
    assert response.status_code == 302
    assert not CrisisCluster.objects.filter(crisis=crisis, cluster=c).exists()
    denied = signed_in(viewer).post(
        reverse("crisis-cluster-link", args=[crisis.pk]), {"cluster-cluster": str(c.pk)}
    )
    assert denied.status_code == 403


# ---------------------------------------------------------------- the services


def test_linking_and_unlinking_are_audited(crisis, analyst):
    cluster = cluster_of(ingest("post:X", NOW, times=2)[0])
    link = link_cluster(crisis=crisis, cluster=cluster, actor=analyst, reason="same wave")
    assert (link.linked_by, link.linked_at, link.reason) == (analyst, clock.now(), "same wave")
    linked = AuditEvent.objects.get(action=AuditAction.CRISIS_CLUSTER_LINKED)
    assert linked.data == {
        "crisis_id": crisis.pk,
        "crisis": crisis.reference,
        "cluster_id": cluster.pk,
        "cluster": f"C-{cluster.pk}",
        "signals": 2,
        "reason": "same wave",
    }
    with pytest.raises(Conflict):
        link_cluster(crisis=crisis, cluster=cluster, actor=analyst)
    with pytest.raises(InvalidInput) as error:
        unlink_cluster(crisis=crisis, cluster=cluster, actor=analyst, reason=" ")
    assert error.value.field == "reason"
    unlink_cluster(crisis=crisis, cluster=cluster, actor=analyst, reason="not ours")
    unlinked = AuditEvent.objects.get(action=AuditAction.CRISIS_CLUSTER_UNLINKED)
    assert unlinked.data["reason"] == "not ours"
    with pytest.raises(NotFound):
        unlink_cluster(crisis=crisis, cluster=cluster, actor=analyst, reason="again")
    html = signed_in(analyst).get(reverse("crisis-live", args=[crisis.pk])).content.decode()
    assert f"C-{cluster.pk} linked (2 signals)" in html and f"C-{cluster.pk} unlinked" in html


def test_a_closed_crisis_takes_no_clusters(declare, analyst):
    crisis = declare(title="Old wave", declared_from=None)
    services.change_level(crisis=crisis, to_level="stand_down", actor=analyst, reason="over")
    services.change_level(crisis=crisis, to_level="closed", actor=analyst, reason="done")
    cluster = cluster_of(ingest("post:Y", NOW)[0])
    with pytest.raises(Conflict) as error:
        link_cluster(crisis=crisis, cluster=cluster, actor=analyst)
    assert "closed" in error.value.message


def test_linking_respects_need_to_know_on_both_sides(
    declare, analyst, other_analyst, viewer, legal_partner
):
    restricted = declare(title="Restricted wave", declared_from=None, is_restricted=True)
    cluster = cluster_of(ingest("post:Z", NOW)[0])
    with pytest.raises(NotFound) as error:
        link_cluster(crisis=restricted, cluster=cluster, actor=other_analyst)
    assert error.value.field == "crisis_id"
    response = signed_in(other_analyst).post(
        reverse("crisis-cluster-link", args=[restricted.pk]), {"cluster-cluster": str(cluster.pk)}
    )
    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        link_cluster(crisis=restricted, cluster=cluster, actor=viewer)
    with pytest.raises(PermissionDenied):  # partners see no clusters at all
        link_cluster(crisis=restricted, cluster=cluster, actor=legal_partner)
    link_cluster(crisis=restricted, cluster=cluster, actor=analyst)
    with pytest.raises(NotFound):
        unlink_cluster(crisis=restricted, cluster=cluster, actor=other_analyst, reason="x")
    assert CrisisCluster.objects.filter(crisis=restricted).count() == 1


def test_the_review_draws_the_signal_volume_over_the_crisis(crisis, scene, other_analyst):
    from watchfloor.crises.review import VOLUME_LEAD, review_facts
    from watchfloor.crises.review_markdown import review_markdown

    facts = review_facts(crisis=crisis, viewer=other_analyst, now=clock.now())
    volume = facts.volume
    # From six hours before the incident began (the escalation's opening) to now.
    began = next(k.at for k in facts.key_times if k.code == "began")
    assert volume.start <= began - VOLUME_LEAD < volume.start + timedelta(hours=1)
    assert volume.end == WINDOW_START + timedelta(hours=24)
    by_hour = {hour.start.strftime("%d %H"): hour.signals for hour in volume.hours if hour.signals}
    assert by_hour == {"23 22": 4, "23 23": 2, "24 00": 3}
    markdown = review_markdown(facts)
    assert "## Signal volume" in markdown
    assert "10 signals in 2 clusters; 9 new and 13 watchlist matches" in markdown
    # A reader who may not see signals gets no curve.
    page = signed_in(other_analyst).get(reverse("crisis-review", args=[crisis.pk]))
    assert "Signal volume" in page.content.decode()


def test_partners_get_no_volume_curve_in_the_review(crisis, escalation, scene, legal_partner):
    from watchfloor.crises.review import review_facts

    assert review_facts(crisis=crisis, viewer=legal_partner, now=clock.now()).volume is None


def test_the_war_room_ranks_linked_clusters_by_triage_score_and_says_why(
    crisis, escalation, scene, other_analyst
):
    from watchfloor.signals.reactions import refresh_triage

    # A (linked, faster) is a plea about a scam; B (attached) an eyewitness request for help.
    Cluster.objects.filter(pk=scene["b"].pk).update(
        representative_text="We are trapped by the flood, please send a rescue boat, 2 injured"
    )
    refresh_triage([scene["a"].pk, scene["b"].pk])
    rows = linked_clusters(
        crisis=crisis, viewer=other_analyst, escalation_ids=[escalation.pk], now=clock.now()
    )
    assert [row.cluster.pk for row in rows] == [scene["b"].pk, scene["a"].pk]
    html = signed_in(other_analyst).get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    section = html.split('id="live-clusters"', 1)[1]
    assert section.index(f"C-{scene['b'].pk}") < section.index(f"C-{scene['a'].pk}")
    assert "casualty figures +" in section
    assert "% informative</strong>" in section
