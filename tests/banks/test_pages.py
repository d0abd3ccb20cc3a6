"""The banks pages: need-to-know (a restricted bank is 404 to others), the list and a
bank's page with their figures, entry switches with the version they were read at, the
match page, and "bank this" on an evidence item."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from PIL import Image, ImageDraw

from tests.banks.test_services import BASE, bank_with, near
from watchfloor.audit.models import AuditEvent
from watchfloor.banks import services
from watchfloor.banks.models import BankEntry, EntrySource, Match, ReviewOutcome, RuleFiring
from watchfloor.core import clock

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def record_match(bank, entry, *, days_ago: float = 0, distance: int = 0) -> Match:
    return Match.objects.create(
        signal_type=bank.signal_type,
        value=entry.value,
        bank=bank,
        entry=entry,
        distance=distance,
        matched_at=clock.now() - timedelta(days=days_ago),
        channel="api",
    )


def test_the_list_shows_visible_banks_with_entries_and_recent_matches(analyst, lead, admin_user):
    open_bank = bank_with("livestream", BASE, near(BASE, 5), actor=lead, labels=["violent"])
    bank_with("ncii", near(BASE, 60), actor=lead, is_restricted=True)
    first = open_bank.entries.first()
    for days_ago in (0, 1, 6, 9):  # the one nine days ago is outside the seven
        record_match(open_bank, first, days_ago=days_ago)
    page = client_for(analyst).get("/banks/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "livestream" in html and "violent" in html and "ncii" not in html
    row = html[html.index('href="/banks/livestream/"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num" data-label="Entries">2</td>' in row
    assert '<td class="num" data-label="Matches, 7 days">3</td>' in row
    assert 'class="banks cards"' in html
    assert "ncii" in client_for(admin_user).get("/banks/").content.decode()


def test_a_restricted_bank_is_not_found_for_others(analyst, lead, legal_partner, admin_user):
    bank = bank_with("ncii", BASE, actor=lead, is_restricted=True)
    entry = bank.entries.get()
    other = client_for(analyst)
    assert other.get("/banks/ncii/").status_code == 404
    assert other.get("/banks/missing/").status_code == 404
    answer = other.post(f"/banks/ncii/entries/{entry.pk}/switch", {"enabled": "off", "reason": "x"})
    assert answer.status_code == 404
    assert other.post("/banks/ncii/entries", {"value": near(BASE, 3)}).status_code == 404
    entry.refresh_from_db()
    assert entry.disabled_at is None and bank.entries.count() == 1
    # Partners are not shown the banks pages at all.
    assert client_for(legal_partner).get("/banks/").status_code in (403, 404)
    assert client_for(admin_user).get("/banks/ncii/").status_code == 200
    services.change_bank(bank=bank, actor=admin_user, grant_access_to=[analyst])
    assert other.get("/banks/ncii/").status_code == 200


def test_the_bank_page_shows_entries_history_and_false_positive_rate(analyst, lead):
    bank = bank_with("livestream", BASE, near(BASE, 9), actor=lead)
    first, second = bank.entries.order_by("id")
    services.disable_entry(entry=second, reason="a logo, not the video", actor=lead)
    matches = [record_match(bank, first, days_ago=d) for d in (0, 0, 2, 20)]
    outcomes = [ReviewOutcome.CORRECT, ReviewOutcome.WRONG, ReviewOutcome.CORRECT, ""]
    for match, outcome in zip(matches, outcomes, strict=True):
        RuleFiring.objects.create(
            rule_code="r",
            rules_version="1",
            match=match,
            mode="live",
            action="escalate",
            outcome="opened",
            fired_at=match.matched_at,
            needs_review=True,
            review_outcome=outcome,
        )
    html = client_for(analyst).get("/banks/livestream/").content.decode()
    assert first.value in html and second.value in html
    assert "a logo, not the video" in html and "Disabled" in html
    assert "Added by hand" in html and lead.display_name in html
    assert "33.3 %" in html and "1 of 3 reviewed" in html
    start = html.index('class="match-history"')
    history = html[start : html.index("</table>", start)]
    assert history.count("<tr>") == 14 + 1  # fourteen days and the header
    assert '<td class="num">2</td>' in history and '<td class="num">1</td>' in history


def test_disable_and_enable_from_the_page_carry_the_version_read(analyst, lead):
    bank = bank_with("livestream", BASE, actor=lead)
    entry = bank.entries.get()
    page = client_for(analyst).get("/banks/livestream/")
    read_version = page.context["read_version"]
    client = client_for(analyst)
    url = f"/banks/livestream/entries/{entry.pk}/switch"
    client.post(url, {"enabled": "off", "reason": "false positive", "read_version": read_version})
    entry.refresh_from_db()
    assert entry.disabled_reason == "false positive"
    # A second person, on a page read before that, is refused and told what changed.
    stale = client_for(lead).post(
        url, {"enabled": "off", "reason": "dup", "read_version": read_version}, follow=True
    )
    assert "changed since you opened the page" in stale.content.decode()
    entry.refresh_from_db()
    assert entry.disabled_reason == "false positive"
    fresh = client_for(analyst).get("/banks/livestream/").context["read_version"]
    client.post(url, {"enabled": "on", "read_version": fresh})
    entry.refresh_from_db()
    assert entry.disabled_at is None
    actions = list(
        AuditEvent.objects.filter(object_id=str(entry.pk), action__startswith="bank.entry_")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["bank.entry_disabled", "bank.entry_enabled"]


def test_a_viewer_sees_but_cannot_change_a_bank(viewer, lead):
    bank = bank_with("livestream", BASE, actor=lead)
    client = client_for(viewer)
    html = client.get("/banks/livestream/").content.decode()
    assert "Disable" not in html and "Add an entry" not in html
    entry = bank.entries.get()
    answer = client.post(
        f"/banks/livestream/entries/{entry.pk}/switch", {"enabled": "off", "reason": "x"}
    )
    assert answer.status_code == 403


def test_adding_an_entry_by_hand_and_a_bad_value_is_named(analyst, lead):
    bank_with("livestream", BASE, actor=lead)
    client = client_for(analyst)
    client.post(
        "/banks/livestream/entries", {"value": near(BASE, 4), "labels": "a b", "note": "copy"}
    )
    added = BankEntry.objects.get(value=near(BASE, 4))
    assert (added.source, added.labels, added.note, added.added_by) == (
        EntrySource.MANUAL,
        ["a", "b"],
        "copy",
        analyst,
    )
    bad = client.post("/banks/livestream/entries", {"value": "xyz"}, follow=True)
    assert bad.status_code == 200
    assert "pdq" in bad.content.decode().lower() and BankEntry.objects.count() == 2


def picture(seed: int) -> bytes:
    image = Image.new("RGB", (320, 240), (30, 90, 160))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        left = seed * 13 + n * 40
        draw.ellipse((left, n * 30, left + 90, n * 30 + 90), fill=(n * 40, 200, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_the_match_page_answers_each_line_with_distances_and_errors(analyst, lead):
    bank_with("livestream", BASE, actor=lead)
    bank_with("ncii", near(BASE, 2), actor=lead, is_restricted=True)
    client = client_for(analyst)
    text = f"{near(BASE, 7)}\nnot-a-hash\n\nsha256:{'0' * 64}\n"
    page = client.post("/banks/match", {"hashes": text})
    rows = page.context["rows"]
    assert [row.label for row in rows] == ["line 1", "line 2", "line 4"]
    assert [(m.bank, m.distance) for m in rows[0].matches] == [("livestream", 7)]
    assert rows[1].error and "line 2" in rows[1].error
    assert rows[2].matches == [] and not rows[2].error
    html = page.content.decode()
    assert "distance <strong>7</strong>" in html and "ncii" not in html
    assert not Match.objects.exists()  # a person's look-up is not a platform match


def test_the_match_page_hashes_an_uploaded_photo(analyst, lead):
    from watchfloor.banks.hashing import pdq_of_image

    data = picture(3)
    pdq, _quality = pdq_of_image(data)
    bank_with("livestream", pdq, actor=lead)
    upload = io.BytesIO(data)
    upload.name = "copy.png"
    rows = client_for(analyst).post("/banks/match", {"hashes": "", "image": upload}).context["rows"]
    assert [(row.label, [m.distance for m in row.matches]) for row in rows] == [("copy.png", [0])]
    empty = client_for(analyst).post("/banks/match", {"hashes": ""})
    assert "paste at least one hash" in empty.content.decode()


def test_the_list_costs_the_same_queries_for_one_bank_or_many(analyst, lead):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bank_with("first", BASE, actor=lead)
    client = client_for(analyst)
    client.get("/banks/")  # the session and the user are cached from here on
    with CaptureQueriesContext(connection) as one:
        client.get("/banks/")
    for number in range(4):
        bank = bank_with(f"more-{number}", near(BASE, 40 + number), actor=lead)
        record_match(bank, bank.entries.get())
    with CaptureQueriesContext(connection) as many:
        client.get("/banks/")
    assert len(many) == len(one)
