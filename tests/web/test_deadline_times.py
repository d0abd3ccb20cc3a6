"""Deadlines read the same everywhere: the viewer's time, the market's time beside it
where it reads differently, UTC on hover; the countdown's hover says the same. A time is
never printed twice (issue 12: "21:26 JST · 21:26 JST (owner's time)")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.web.templatetags.watchfloor_ui import also_in_zone, countdown, deadline

NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
ZONES = st.sampled_from(
    [
        "Asia/Tokyo",
        "Asia/Seoul",
        "Asia/Taipei",
        "Asia/Singapore",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Asia/Bangkok",
        "Asia/Jakarta",
        "Australia/Sydney",
        "Australia/Adelaide",
        "Pacific/Auckland",
        "Europe/London",
        "America/New_York",
        "UTC",
    ]
)
TIME_TEXT = re.compile(r"<time [^>]*>([^<]*)</time>")


def test_a_deadline_shows_the_viewers_time_then_the_markets_with_utc_on_hover():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        html = deadline(NOW, "Asia/Kolkata")
    assert html == (
        '<span class="deadline"><time datetime="2026-11-24T00:30:00Z" '
        'title="2026-11-24 00:30 UTC">Tue 24 Nov 09:30 JST</time> · '
        '<time datetime="2026-11-24T00:30:00Z" title="2026-11-24 00:30 UTC">'
        'Tue 24 Nov 06:00 IST</time> <span class="muted">(market time)</span></span>'
    )


def test_the_market_time_is_left_out_where_it_reads_the_same():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert "market time" not in deadline(NOW, "Asia/Tokyo")
        assert "market time" not in deadline(NOW, "Asia/Seoul"), "same clock reading"
        assert "market time" not in deadline(NOW, "")
        assert also_in_zone(NOW, "Asia/Tokyo", "owner's time") == ""
        assert deadline(None, "Asia/Tokyo") == "—"


def test_a_zone_that_is_not_one_does_not_take_the_page_down():
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert "Tue 24 Nov 09:30 JST" in deadline(NOW, "Mars/Olympus_Mons")


def test_the_countdown_says_on_hover_when_it_is_due_in_each_zone_and_in_utc():
    with timezone.override(ZoneInfo("Asia/Singapore")):
        html = countdown(NOW + timedelta(hours=2), "Asia/Tokyo")
    assert 'title="due Tue 24 Nov 10:30 UTC+08 · Tue 24 Nov 11:30 JST market time · ' in html
    assert '2026-11-24 02:30 UTC"' in html


@settings(max_examples=200, deadline=None)
@given(
    viewer=ZONES,
    market=ZONES,
    minutes=st.integers(min_value=-60 * 24 * 400, max_value=60 * 24 * 400),
)
def test_no_time_is_ever_printed_twice(viewer, market, minutes):
    moment = NOW + timedelta(minutes=minutes)
    with timezone.override(ZoneInfo(viewer)):
        shown = TIME_TEXT.findall(deadline(moment, market))
        title = re.search(r'title="([^"]*)"', countdown(moment, market)).group(1)
    assert len(shown) == (
        2 if market and viewer_offset(viewer, moment) != viewer_offset(market, moment) else 1
    )
    # Every reading on hover is another clock reading: none repeats another.
    readings = [re.search(r"\d\d:\d\d", part).group(0) for part in title.split(" · ")]
    assert len(readings) == len(set(readings)), title


def viewer_offset(zone: str, moment: datetime) -> timedelta | None:
    return moment.astimezone(ZoneInfo(zone)).utcoffset()
