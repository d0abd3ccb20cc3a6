"""The queue's count stops at a cap instead of counting every visible row, on the page
and in the list API alike; below the cap it stays exact and keeps need to know."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchfloor.escalations.models import Escalation
from watchfloor.web import pagination
from watchfloor.web.pagination import (
    CappedPaginator,
    capped,
    capped_count,
    capped_counts,
    capped_text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(make_escalation) -> list[Escalation]:
    return [make_escalation(title=f"Scam wave {n}") for n in range(5)]


def test_below_the_cap_the_count_is_exact(five):
    assert capped_count(Escalation.objects.all(), cap=5) == (5, False)
    assert capped_count(Escalation.objects.all(), cap=100) == (5, False)


def test_above_the_cap_the_count_says_so(five):
    assert capped_count(Escalation.objects.all(), cap=4) == (4, True)
    paginator = CappedPaginator(Escalation.objects.order_by("pk"), 2, cap=3)
    assert (paginator.count, paginator.count_is_capped, paginator.num_pages) == (3, True, 2)


@given(counted=st.integers(0, 50), cap=st.integers(0, 50))
def test_a_count_taken_past_its_cap_reads_as_the_cap_and_a_plus(counted, cap):
    count, is_capped = capped(counted, cap=cap)
    assert (count, is_capped) == ((cap, True) if counted > cap else (counted, False))
    assert capped_text(count, is_capped) == (f"{cap}+" if counted > cap else str(counted))


def test_several_capped_counts_in_one_query_give_what_each_would(five, django_assert_num_queries):
    escalations = Escalation.objects.all()
    querysets = [escalations, escalations.filter(pk=five[0].pk), escalations.filter(pk__in=[])]
    with django_assert_num_queries(1):
        assert capped_counts(querysets, cap=4) == [(4, True), (1, False), (0, False)]
    assert capped_counts(querysets, cap=5) == [capped_count(q, cap=5) for q in querysets]
    assert capped_counts([], cap=5) == []


# The five rows are only read, so sharing them between examples is safe.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cap=st.integers(min_value=0, max_value=8))
def test_the_capped_count_is_the_smaller_of_the_cap_and_the_exact_count(five, cap):
    count, capped = capped_count(Escalation.objects.all(), cap=cap)
    assert count == min(cap, 5)
    assert capped == (cap < 5)


def test_the_page_and_the_api_show_a_capped_count(five, analyst, client, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 3)
    client.force_login(analyst)
    page = client.get("/").content.decode()
    assert "<strong>3+</strong> escalations" in page
    assert "narrow the filters for the exact figure" in page
    api = client.get("/api/v1/escalations").json()
    assert (api["count"], api["count_is_capped"]) == (3, True)

    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    api = client.get("/api/v1/escalations").json()
    assert (api["count"], api["count_is_capped"]) == (5, False)
    assert "<strong>5</strong> escalations" in client.get("/").content.decode()


def test_a_restricted_escalation_is_not_counted_for_those_off_its_list(
    five, analyst, client, monkeypatch
):
    Escalation.objects.filter(pk=five[0].pk).update(is_restricted=True)
    client.force_login(analyst)
    api = client.get("/api/v1/escalations").json()
    assert (api["count"], api["count_is_capped"]) == (4, False)


def test_a_long_market_queue_lists_what_a_short_one_does(
    make_escalation, analyst, client, monkeypatch
):
    """Past the count's cap a market filter is tested along the queue's order instead of
    gathering the market's escalations: the same rows, in the same order, need to know
    kept, on the page and in the list API."""
    from watchfloor.escalations.selectors import QueueFilters, triage_queue

    in_market = [make_escalation(title=f"In the Philippines {n}", markets=["PH"]) for n in range(4)]
    make_escalation(title="In Japan", markets=["JP"])
    Escalation.objects.filter(pk=in_market[0].pk).update(is_restricted=True)
    filters = QueueFilters(market="PH")
    gathered = list(triage_queue(user=analyst, filters=filters).values_list("pk", flat=True))
    walked = list(
        triage_queue(user=analyst, filters=filters, walk=True).values_list("pk", flat=True)
    )
    assert walked == gathered
    assert sorted(gathered) == sorted(e.pk for e in in_market[1:])

    client.force_login(analyst)
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    api = client.get("/api/v1/escalations?market=PH").json()
    assert api["count_is_capped"]
    assert [item["id"] for item in api["items"]] == gathered
    # The page lists as many as its capped count says: the first two, in order.
    page = client.get("/?market=PH").content.decode()
    titles = dict(Escalation.objects.values_list("pk", "title"))
    first, second = (page.find(f"{titles[pk]}<") for pk in gathered[:2])
    assert 0 < first < second
    assert f"{titles[gathered[2]]}<" not in page
    assert "In the Philippines 0<" not in page
    assert "In Japan" not in page


@pytest.mark.parametrize("cap", [1, 2, 3, 50])
@pytest.mark.parametrize("severity", [None, 0])
def test_a_market_count_from_the_market_side_is_the_queue_count(
    make_escalation, analyst, monkeypatch, cap, severity
):
    """The market filter is counted from the market's links (core.candidates), each
    looked up in the rest of the queue: the same figure as counting the filtered queue,
    restricted rows, drills, closed ones and other filters kept out alike."""
    from watchfloor.escalations.models import Status
    from watchfloor.escalations.selectors import (
        QueueFilters,
        escalations_visible_to,
        triage_queue,
        triage_queue_count,
    )

    made = [
        make_escalation(title=f"Scam wave {n}", markets=["PH", "SG"] if n % 2 else ["PH"])
        for n in range(6)
    ]
    make_escalation(title="Elsewhere", markets=["JP"])
    Escalation.objects.filter(pk=made[0].pk).update(is_restricted=True)
    Escalation.objects.filter(pk=made[1].pk).update(is_drill=True)
    Escalation.objects.filter(pk=made[2].pk).update(is_open=False, status=Status.CLOSED)
    Escalation.objects.filter(pk=made[3].pk).update(severity=0)
    monkeypatch.setattr(pagination, "COUNT_CAP", cap)
    filters = QueueFilters(market="PH", severities=() if severity is None else (severity,))

    counted = triage_queue_count(user=analyst, filters=filters)
    exact = triage_queue(user=analyst, filters=filters).count()
    assert (counted.total, counted.is_capped) == (min(exact, cap), exact > cap)
    assert counted.walk == (exact > cap)
    assert made[0].pk not in set(escalations_visible_to(analyst).values_list("pk", flat=True))
    assert exact >= 1  # made[3] is open, SEV0 and in the market


@pytest.mark.parametrize(
    "text", ["typhoon", "TYPHOON relief", "台風の義援金詐欺", "typhoon 台風", "Ωmega typhoon"]
)
def test_a_text_search_walked_along_the_queue_finds_what_the_index_does(
    make_escalation, analyst, text
):
    """A dense search's page tests each escalation along the queue's order instead of
    gathering every match: the same rows, in the same order, need to know kept."""
    from watchfloor.escalations.selectors import QueueFilters, triage_queue

    matching = [
        make_escalation(title=f"Typhoon relief scam {n} 台風の義援金詐欺 ΩMEGA") for n in range(3)
    ]
    make_escalation(title="Earthquake rumours", summary="Nothing about storms.")
    Escalation.objects.filter(pk=matching[0].pk).update(is_restricted=True)
    filters = QueueFilters(text=text)
    gathered = list(triage_queue(user=analyst, filters=filters).values_list("pk", flat=True))
    walked = list(
        triage_queue(user=analyst, filters=filters, walk=True).values_list("pk", flat=True)
    )
    assert walked == gathered
    assert sorted(gathered) == sorted(e.pk for e in matching[1:])


# Need to know, written for the planner (the person's access list and their team's shares
# read once per query): every mix of restrictions, lists and shares shows each person
# exactly what the rule says.
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
        min_size=5,
        max_size=5,
    )
)
def test_visibility_is_the_rule_for_every_mix(
    five, analyst, other_analyst, legal_partner, admin_user, rows
):
    from watchfloor.escalations.selectors import escalations_visible_to

    expected = {analyst: set(), other_analyst: set(), legal_partner: set(), admin_user: set()}
    for escalation, (restricted, on_list, other_on_list, shared) in zip(five, rows, strict=True):
        Escalation.objects.filter(pk=escalation.pk).update(is_restricted=restricted)
        escalation.access_list.set(
            [user for user, on in ((analyst, on_list), (other_analyst, other_on_list)) if on]
        )
        escalation.shared_with_teams.set([legal_partner.team] if shared else [])
        expected[admin_user].add(escalation.pk)
        for user, on in ((analyst, on_list), (other_analyst, other_on_list)):
            if not restricted or on:
                expected[user].add(escalation.pk)
        if shared and not restricted:
            expected[legal_partner].add(escalation.pk)
    for user, pks in expected.items():
        assert set(escalations_visible_to(user).values_list("pk", flat=True)) == pks, user


def test_visibility_reads_the_access_list_once_not_per_row(analyst):
    """No correlated subquery: the planner can read unrestricted rows from an index and
    the person's list once (see the plans printed by `bench/queue.py --explain`)."""
    from watchfloor.escalations.selectors import escalations_visible_to

    sql = str(escalations_visible_to(analyst).query).upper()
    assert "EXISTS" not in sql
    assert sql.count("ESCALATIONS_ESCALATION_ACCESS_LIST") == 1


def test_postgresql_connections_do_not_compile_queries(db):
    """JIT compilation costs more than the short queries of pages and the API save."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
        # Plans for SSDs: a text search goes through the trigram index, not a table scan.
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_a_market_count_reads_indexes_on_both_sides():
    """What a market filter's count reads at a million rows (docs/performance.md): the
    market's links by market, then escalation; each one's open, non-drill row by id with
    its restriction. Both from an index alone, on either database."""
    from django.db import connection

    with connection.cursor() as cursor:
        links = connection.introspection.get_constraints(cursor, "escalations_escalation_markets")
        rows = connection.introspection.get_constraints(cursor, "escalations_escalation")
    assert ["market_id", "escalation_id"] in [c["columns"] for c in links.values() if c["index"]]
    assert rows["open_queue_ids"]["columns"] == ["id", "is_restricted"]
