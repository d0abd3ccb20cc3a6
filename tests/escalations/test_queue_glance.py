"""The queue at a glance: the breached, due-within-the-hour and awaiting-approval figures
of what the viewer may see, the active-crisis banner, and the queue sorted by deadline
or by severity on the page and in the list API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from watchfloor.escalations import queue_glance, selectors
from watchfloor.escalations.models import NO_DEADLINE, Escalation

pytestmark = pytest.mark.django_db


def due_at(escalation: Escalation, when) -> None:
    """Set the escalation's nearest running deadline as its clocks would."""
    Escalation.objects.filter(pk=escalation.pk).update(
        queue_due_at=when, next_due_at=None if when == NO_DEADLINE else when
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def floor(make_escalation, escalation_at, decide, frozen_clock):
    """One escalation of each kind the strip counts, plus a quiet one, a drill and a closed
    one (neither of which is in the open queue)."""
    now = frozen_clock
    made = {
        "breached": make_escalation(title="Breached one"),
        "soon": make_escalation(title="Due within the hour"),
        "later": make_escalation(title="Due tomorrow"),
        "quiet": make_escalation(title="No clock running"),
        "drill": make_escalation(title="A drill, breached"),
        "approval": escalation_at(1, title="Awaiting approval"),
    }
    due_at(made["breached"], now - timedelta(minutes=5))
    due_at(made["soon"], now + timedelta(minutes=59))
    due_at(made["later"], now + timedelta(days=1))
    due_at(made["quiet"], NO_DEADLINE)
    due_at(made["drill"], now - timedelta(hours=1))
    Escalation.objects.filter(pk=made["drill"].pk).update(is_drill=True)
    decide(made["approval"])  # SEV1: the decision waits for a second person
    assert made["approval"].decisions.get().state == "pending_approval"
    due_at(made["approval"], now + timedelta(days=2))
    return made


def figures(glance: queue_glance.QueueGlance) -> tuple[str, str, str]:
    return (str(glance.breached), str(glance.due_within_the_hour), str(glance.awaiting_approval))


def test_the_strip_counts_the_open_queue(floor, analyst, frozen_clock):
    glance = queue_glance.queue_glance(user=analyst, now=frozen_clock)
    assert figures(glance) == ("1", "1", "1")


def test_a_downgrade_awaiting_a_second_person_counts_once(
    floor, escalation_at, lead, analyst, frozen_clock
):
    from watchfloor.escalations.severity_changes import propose_downgrade

    proposed = escalation_at(1, title="Downgrade proposed")
    propose_downgrade(escalation=proposed, severity=3, reason="Contained by now", actor=lead)
    # And one with both a pending decision and a pending downgrade counts once.
    propose_downgrade(escalation=floor["approval"], severity=3, reason="Calmer", actor=lead)
    assert str(queue_glance.queue_glance(user=analyst, now=frozen_clock).awaiting_approval) == "2"


def test_the_hour_ends_where_it_says(floor, analyst, frozen_clock):
    due_at(floor["soon"], frozen_clock + timedelta(hours=1))
    assert str(queue_glance.queue_glance(user=analyst, now=frozen_clock).due_within_the_hour) == "0"


def test_a_restricted_escalation_is_counted_only_for_those_who_may_see_it(
    floor, analyst, other_analyst, frozen_clock
):
    for name in ("breached", "soon", "approval"):
        Escalation.objects.filter(pk=floor[name].pk).update(is_restricted=True)
    floor["breached"].access_list.add(analyst)
    assert figures(queue_glance.queue_glance(user=other_analyst, now=frozen_clock)) == (
        "0",
        "0",
        "0",
    )
    # On the access list of the breached one only (filing one puts nobody on its list).
    assert figures(queue_glance.queue_glance(user=analyst, now=frozen_clock)) == ("1", "0", "0")


def test_a_figure_past_the_cap_says_so(floor, analyst, frozen_clock, monkeypatch):
    monkeypatch.setattr(queue_glance, "GLANCE_CAP", 0)
    assert figures(queue_glance.queue_glance(user=analyst, now=frozen_clock)) == ("0+", "0+", "0+")


def test_the_page_shows_the_strip_in_a_fixed_number_of_queries(
    floor, analyst, django_assert_num_queries
):
    client = signed_in(analyst)
    client.get("/")  # sessions, caches and the catalog warmed once
    # Session and user, the active catalog, the filter form's choices (markets, policies,
    # owners), the page's capped count, the three figures (in one query), the crisis
    # banner, the mark for "new since you loaded", the page's rows and their markets.
    with django_assert_num_queries(QUEUE_PAGE_QUERIES) as captured:
        page = client.get("/").content.decode()
    counts = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*)")]
    strip = [q["sql"] for q in captured if q["sql"].startswith("SELECT (SELECT COUNT(*)")]
    # The page's count, and the strip's three figures, each stopping after a bounded
    # number of rows.
    assert len(counts) == 1
    assert len(strip) == 1
    assert strip[0].count("SELECT COUNT(*)") == 3
    assert all(sql.count("LIMIT") >= 3 for sql in strip)
    assert all("LIMIT" in sql for sql in counts)
    assert "<strong>1</strong> breached" in page
    assert "<strong>1</strong> due within the hour" in page
    assert "<strong>1</strong> awaiting approval" in page


# Pinned: a change that adds a query per row or per figure fails here. 12 for the queue,
# its strip and its "new since you loaded" mark, 1 for the header's "Needs me" count.
QUEUE_PAGE_QUERIES = 12 + 1


def test_the_page_query_count_does_not_grow_with_the_queue(
    floor, make_escalation, analyst, django_assert_num_queries
):
    client = signed_in(analyst)
    client.get("/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get("/")
    for n in range(5):
        make_escalation(title=f"More of the wave {n}")
    with django_assert_num_queries(len(before.captured_queries)):
        client.get("/")


# ---------------------------------------------------------------- sorting


def test_the_queue_sorts_by_severity_or_by_deadline(floor, analyst):
    by_severity = [
        e.title for e in selectors.triage_queue(user=analyst, filters=selectors.QueueFilters())
    ]
    by_deadline = [
        e.title
        for e in selectors.triage_queue(
            user=analyst, filters=selectors.QueueFilters(sort="deadline")
        )
    ]
    assert by_severity[0] == "Awaiting approval"  # SEV1, due in two days
    assert by_deadline == [
        "Breached one",
        "Due within the hour",
        "Due tomorrow",
        "Awaiting approval",
        "No clock running",
    ]


def test_the_page_and_the_api_take_the_sort(floor, analyst):
    client = signed_in(analyst)
    api = client.get("/api/v1/escalations", {"sort": "deadline"}).json()
    assert [item["title"] for item in api["items"]][:2] == ["Breached one", "Due within the hour"]
    api = client.get("/api/v1/escalations").json()
    assert api["items"][0]["title"] == "Awaiting approval"
    assert client.get("/api/v1/escalations", {"sort": "owner"}).status_code in (400, 422)

    page = client.get("/", {"sort": "deadline"}).content.decode()
    assert page.index("Breached one") < page.index("Awaiting approval")
    assert 'aria-current="true">deadline' in page
    # An order is not a filter: the count does not say "match these filters".
    assert "match these filters" not in page
    page = client.get("/").content.decode()
    assert page.index("Awaiting approval") < page.index("Breached one")


# ---------------------------------------------------------------- the crisis banner


@pytest.fixture
def declare(analyst):
    from watchfloor.crises.services import declare_crisis

    def make(**overrides):
        values = {"actor": analyst, "title": "Osaka attack video", "level": "incident"}
        values.update(overrides)
        return declare_crisis(**values)

    return make


def test_no_banner_without_an_active_crisis(floor, analyst):
    assert "crisis-banner" not in signed_in(analyst).get("/").content.decode()


def test_the_banner_names_the_active_crises_the_viewer_may_see(
    floor, declare, analyst, other_analyst
):
    from watchfloor.crises.models import Crisis

    public = declare(title="Osaka attack video")
    secret = declare(title="Undisclosed account takeover ring")
    Crisis.objects.filter(pk=secret.pk).update(is_restricted=True)
    secret.access_list.add(analyst)
    drill = declare(title="Tabletop: election night")
    Crisis.objects.filter(pk=drill.pk).update(is_drill=True)

    page = signed_in(other_analyst).get("/").content.decode()
    assert f'href="/crises/{public.pk}/"' in page
    assert "Osaka attack video" in page
    assert "Undisclosed account takeover ring" not in page
    assert "Tabletop: election night" not in page

    page = signed_in(analyst).get("/").content.decode()
    assert "Undisclosed account takeover ring" in page
    assert f'href="/crises/{secret.pk}/"' in page


def test_a_closed_crisis_leaves_the_banner(floor, declare, other_analyst):
    from watchfloor.crises.models import Crisis

    crisis = declare(title="Osaka attack video")
    Crisis.objects.filter(pk=crisis.pk).update(is_active=False, level="closed")
    assert "Osaka attack video" not in signed_in(other_analyst).get("/").content.decode()
