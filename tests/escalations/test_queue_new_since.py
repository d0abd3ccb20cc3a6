"""The queue's "n new since you loaded": the page keeps a mark (the newest escalation the
viewer may see) and polls a fragment that counts what was filed after it, with the page's
filters, need-to-know applied and drills hidden, in a pinned number of queries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from watchfloor.escalations import queue_glance
from watchfloor.escalations.models import Escalation

pytestmark = pytest.mark.usefixtures("frozen_clock")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def mark_on_page(client: Client, query: str = "") -> int:
    html = client.get(reverse("queue") + query).content.decode()
    start = html.index("since=") + len("since=")
    end = start
    while html[end].isdigit():
        end += 1
    return int(html[start:end])


def poll(client: Client, mark: int, query: str = "") -> str:
    response = client.get(f"{reverse('queue-new')}?since={mark}{query}")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    return response.content.decode()


def test_escalations_filed_after_the_page_loaded_are_counted_with_a_link_back(
    make_escalation, analyst
):
    make_escalation(title="Already there")
    client = signed_in(analyst)
    mark = mark_on_page(client)
    assert "new</strong>" not in poll(client, mark)
    make_escalation(title="Filed since")
    make_escalation(title="And another")
    html = poll(client, mark, "&sort=deadline&page=3")
    assert "<strong>2 new</strong> since you loaded" in html
    # "show" reloads the queue with the same filters, from the first page.
    assert 'href="/?sort=deadline">show</a>' in html


def test_the_page_filters_apply_to_what_is_counted(make_escalation, analyst):
    client = signed_in(analyst)
    mark = mark_on_page(client)
    make_escalation(title="Philippines", markets=["PH"])
    make_escalation(title="Japan", markets=["JP"], languages=["ja"])
    assert "<strong>1 new</strong>" in poll(client, mark, "&market=JP")
    assert "<strong>2 new</strong>" in poll(client, mark)
    assert "new</strong>" not in poll(client, mark, "&market=NOWHERE")


def test_restricted_escalations_count_only_for_those_on_their_list_and_drills_stay_hidden(
    make_escalation, analyst, other_analyst
):
    outsider = signed_in(other_analyst)
    mark = mark_on_page(outsider)
    hidden = make_escalation(title="Restricted one")
    Escalation.objects.filter(pk=hidden.pk).update(is_restricted=True)
    drill = make_escalation(title="A drill")
    Escalation.objects.filter(pk=drill.pk).update(is_drill=True)
    assert "new</strong>" not in poll(outsider, mark)
    assert "<strong>1 new</strong>" in poll(outsider, mark, "&drills=include")
    hidden.access_list.add(other_analyst)
    assert "<strong>1 new</strong>" in poll(outsider, mark)
    assert "<strong>2 new</strong>" in poll(outsider, mark, "&drills=include")


def test_the_mark_is_the_newest_the_viewer_may_see_so_it_says_nothing_of_hidden_ones(
    make_escalation, analyst, other_analyst
):
    seen = make_escalation(title="Seen by all")
    hidden = make_escalation(title="Restricted, newer")
    Escalation.objects.filter(pk=hidden.pk).update(is_restricted=True)
    assert queue_glance.queue_high_water_mark(user=other_analyst) == seen.pk
    assert mark_on_page(signed_in(other_analyst)) == seen.pk


def test_a_bad_mark_is_refused_and_a_signed_out_poll_goes_to_sign_in(analyst, catalog):
    assert signed_in(analyst).get(reverse("queue-new") + "?since=soon").status_code == 400
    assert Client().get(reverse("queue-new") + "?since=1").status_code == 302


def test_many_new_read_as_capped(make_escalation, analyst, monkeypatch):
    monkeypatch.setattr(queue_glance, "NEW_SINCE_CAP", 1)
    client = signed_in(analyst)
    mark = mark_on_page(client)
    make_escalation(title="One")
    make_escalation(title="Two")
    assert "<strong>1+ new</strong>" in poll(client, mark)


def test_the_poll_costs_a_fixed_few_queries_however_many_are_new(
    make_escalation, analyst, django_assert_num_queries
):
    client = signed_in(analyst)
    mark = mark_on_page(client)
    poll(client, mark)
    # The session, the user and one capped count on a primary-key range.
    with django_assert_num_queries(NEW_SINCE_QUERIES) as captured:
        poll(client, mark, "&market=PH&severity=3&status=new&owner=aiko.analyst&q=wave")
    counts = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*)")]
    assert len(counts) == 1 and "LIMIT" in counts[0]
    for n in range(5):
        make_escalation(title=f"wave {n}")
    with django_assert_num_queries(NEW_SINCE_QUERIES):
        poll(client, mark)


NEW_SINCE_QUERIES = 3
