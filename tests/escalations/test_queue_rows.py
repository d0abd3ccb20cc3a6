"""The triage queue's rows as the page shows them (escalations.queue_rows), and a text
search's count on the page and in the list API (selectors.triage_queue_count)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.escalations import selectors
from watchfloor.escalations.models import NO_DEADLINE, Escalation
from watchfloor.escalations.queue_rows import queue_rows
from watchfloor.web.templatetags.watchfloor_ui import DeadlineReader, countdown, deadline

pytestmark = pytest.mark.django_db


def rows_for(user, now, **filters):
    with timezone.override(ZoneInfo(user.time_zone)):
        page = selectors.triage_queue(user=user, filters=selectors.QueueFilters(**filters))
        return {row.reference: row for row in queue_rows(page, now=now)}


def test_a_row_reads_its_clock_in_the_viewers_time_and_its_markets(
    make_escalation, analyst, frozen_clock
):
    escalation = make_escalation(title="Relief scam", markets=["PH", "JP"], languages=["tl", "en"])
    row = rows_for(analyst, frozen_clock)[escalation.reference]
    assert row.clock is not None
    assert row.clock.label == escalation.next_due_label
    # The same countdown and deadline as the tags give, beside the primary market's time.
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert row.clock.countdown == countdown(escalation.next_due_at, "Asia/Manila")
        assert row.clock.deadline == deadline(escalation.next_due_at, "Asia/Manila")
    assert "market time" in row.clock.deadline
    assert {(m.code, m.name) for m in row.markets} == {
        (m.code, m.name) for m in escalation.markets.all()
    }
    assert {m.code for m in row.markets} == {"PH", "JP"}
    assert row.languages == "tl, en"
    assert row.url == reverse("escalation-detail", args=[escalation.pk])
    assert row.title == "Relief scam"
    assert (row.status, row.status_label) == ("new", "New")
    assert row.severity_badge.startswith(f'<span class="sev sev-{escalation.severity}">')
    assert row.owner_name == ""
    assert not (row.is_breached or row.is_drill or row.is_restricted)


def test_a_row_says_when_it_is_breached_and_when_no_clock_runs(
    make_escalation, analyst, frozen_clock
):
    breached, quiet = make_escalation(title="Breached"), make_escalation(title="Quiet")
    Escalation.objects.filter(pk=breached.pk).update(
        next_due_at=frozen_clock - timedelta(minutes=5),
        queue_due_at=frozen_clock - timedelta(minutes=5),
    )
    Escalation.objects.filter(pk=quiet.pk).update(next_due_at=None, queue_due_at=NO_DEADLINE)
    rows = rows_for(analyst, frozen_clock)
    assert rows[breached.reference].is_breached
    assert rows[breached.reference].clock is not None
    assert "breached 5 min ago" in rows[breached.reference].clock.countdown
    assert rows[quiet.reference].clock is None
    assert not rows[quiet.reference].is_breached


def test_a_row_names_its_owner_and_its_title_language(make_escalation, analyst, frozen_clock):
    from watchfloor.escalations.services import assign_escalation

    escalation = make_escalation(title="台風の義援金詐欺", languages=["ja"])
    assign_escalation(escalation=escalation, owner=analyst, actor=analyst)
    row = rows_for(analyst, frozen_clock)[escalation.reference]
    assert row.owner_name == analyst.display_name
    assert row.title_attrs == ' lang="ja" dir="auto"'


MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)
).map(lambda moment: moment.replace(tzinfo=UTC))
ZONES = st.sampled_from(["", "Asia/Tokyo", "Asia/Kolkata", "UTC", "Pacific/Kiritimati", "Nope"])


@settings(max_examples=60, deadline=None)
@given(moment=MOMENTS, market_zone=ZONES, viewer=ZONES)
def test_one_reader_per_page_reads_each_deadline_as_the_tags_do(moment, market_zone, viewer):
    """A reader made once for the page (one time, one viewer's zone) gives each deadline
    the same countdown and deadline as the tags, out to the end of the calendar."""
    zone = ZoneInfo(viewer) if viewer not in ("", "Nope") else UTC
    with timezone.override(zone):
        reader = DeadlineReader()
        for _ in range(2):  # the second time from the reader's remembered zones and years
            assert reader.countdown_and_deadline(moment, market_zone) == (
                countdown(moment, market_zone),
                deadline(moment, market_zone),
            )


# ---------------------------------------------------------------- a text search's count


def test_a_text_search_counts_exactly_up_to_its_cap(make_escalation, analyst, monkeypatch):
    for n in range(4):
        make_escalation(title=f"Typhoon relief scam {n}")
    make_escalation(title="Something else entirely", summary="Nothing in common.")
    filters = selectors.QueueFilters(text="typhoon")
    assert selectors.triage_queue_count(user=analyst, filters=filters)[:2] == (4, False)
    monkeypatch.setattr(selectors, "TEXT_COUNT_CAP", 3)
    assert selectors.triage_queue_count(user=analyst, filters=filters)[:2] == (3, True)


def test_a_text_search_counts_only_what_the_queue_shows(
    make_escalation, analyst, other_analyst, client
):
    shown = make_escalation(title="Typhoon scam, open")
    restricted = make_escalation(title="Typhoon scam, restricted")
    drill = make_escalation(title="Typhoon scam, a drill")
    Escalation.objects.filter(pk=restricted.pk).update(is_restricted=True)
    Escalation.objects.filter(pk=drill.pk).update(is_drill=True)
    filters = selectors.QueueFilters(text="typhoon")
    # Neither on the access list: the restricted one is not counted, nor the drill.
    assert selectors.triage_queue_count(user=other_analyst, filters=filters)[:2] == (1, False)
    restricted.access_list.add(other_analyst)
    assert selectors.triage_queue_count(user=other_analyst, filters=filters)[:2] == (2, False)
    drills = selectors.QueueFilters(text="typhoon", drills="include")
    assert selectors.triage_queue_count(user=other_analyst, filters=drills)[:2] == (3, False)
    # The page and the API say the same figure as the rows they list.
    client.force_login(other_analyst)
    api = client.get("/api/v1/escalations", {"q": "typhoon"}).json()
    assert (api["count"], api["count_is_capped"]) == (2, False)
    assert {item["reference"] for item in api["items"]} == {shown.reference, restricted.reference}
    page = client.get("/", {"q": "typhoon"}).content.decode()
    assert "<strong>2</strong> escalations match these filters" in page


def test_a_text_search_past_its_cap_says_so_on_the_page_and_in_the_api(
    make_escalation, analyst, client, monkeypatch
):
    for n in range(3):
        make_escalation(title=f"Typhoon wave {n}")
    monkeypatch.setattr(selectors, "TEXT_COUNT_CAP", 2)
    client.force_login(analyst)
    page = client.get("/", {"q": "typhoon"}).content.decode()
    assert "<strong>2+</strong> escalations match these filters" in page
    assert "narrow the filters for the exact figure" in page
    api = client.get("/api/v1/escalations", {"q": "typhoon"}).json()
    assert (api["count"], api["count_is_capped"]) == (2, True)
