"""The war room's latest watchlist matches (``watchlists.recent_hits``): one row per
signal with every entry it matched, the newest signals first, found from the newest hits
without grouping every hit of the crisis, and the same answer when signals that matched
many entries fill the hits it reads first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from watchfloor.crises import watchlists
from watchfloor.crises.watchlists import (
    add_watchlist_entry,
    flag_matching_signals,
    recent_hits,
)
from watchfloor.signals.intake import ingest_signals

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
_numbers = count(1)


@pytest.fixture(autouse=True)
def _each_test_with_a_fresh_matcher(fresh_matcher):
    """Before anything else: the database is new each time, the matcher's cache is not."""


def ingest(text: str, *, minutes_ago: int) -> int:
    number = next(_numbers)
    result = ingest_signals(
        items=[
            {
                "id": f"recent-{number}",
                "received_at": (T0 - timedelta(minutes=minutes_ago)).isoformat(),
                "source": "user_report",
                "subject": {"kind": "post", "ref": f"post:recent{number}"},
                "text": text,
            }
        ],
        producer="recent-hits-tests",
        actor=None,
    )
    return result.results[0].signal_id


@pytest.fixture
def flagged(crisis, analyst):
    """Three signals in the crisis: the newest matched all three terms, the next two
    terms, the oldest one; the newest also matched a term of another crisis."""
    for term in ("詐欺", "義援金", "偽サイト"):
        add_watchlist_entry(crisis=crisis, kind="term", value=term, actor=analyst)
    signals = {
        "newest": ingest("義援金詐欺の偽サイト 寄付", minutes_ago=1),
        "middle": ingest("義援金詐欺に注意", minutes_ago=2),
        "oldest": ingest("偽サイトです", minutes_ago=3),
    }
    flag_matching_signals(list(signals.values()))
    return signals


def _rows(crisis, viewer, **kwargs) -> list[tuple[int, list[str]]]:
    return [
        (match.signal.pk, sorted(entry.value for entry in match.entries))
        for match in recent_hits(crisis=crisis, viewer=viewer, **kwargs)
    ]


def test_latest_signals_first_each_with_every_entry_it_matched(crisis, analyst, flagged, declare):
    other = declare(title="Another wave", declared_from=None)
    add_watchlist_entry(crisis=other, kind="term", value="寄付", actor=analyst)
    flag_matching_signals([flagged["newest"]])
    assert _rows(crisis, analyst) == [
        (flagged["newest"], sorted(["詐欺", "義援金", "偽サイト"])),
        (flagged["middle"], sorted(["詐欺", "義援金"])),
        (flagged["oldest"], ["偽サイト"]),
    ]
    assert _rows(crisis, analyst, limit=2) == _rows(crisis, analyst)[:2]
    assert _rows(other, analyst) == [(flagged["newest"], ["寄付"])]


def test_signals_with_many_entries_filling_the_hits_read_first(
    crisis, analyst, flagged, monkeypatch, django_assert_num_queries
):
    expected = _rows(crisis, analyst)
    # One hit read per signal wanted: the newest signal's three hits hold one signal, not
    # two, so the rest are grouped in a second query.
    monkeypatch.setattr(watchlists, "HITS_READ_PER_SIGNAL", 1)
    with django_assert_num_queries(2):
        assert _rows(crisis, analyst, limit=2) == expected[:2]
    monkeypatch.setattr(watchlists, "HITS_READ_PER_SIGNAL", 4)
    with django_assert_num_queries(1):
        assert _rows(crisis, analyst, limit=2) == expected[:2]


def test_readers_who_may_not_see_signals_get_none(crisis, flagged, legal_partner):
    assert recent_hits(crisis=crisis, viewer=legal_partner) == []
