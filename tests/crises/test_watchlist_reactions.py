"""Watchlists on the intake's reactions path: a signal stored through the real intake is
flagged into the crisis when the worker drains the reactions backlog, not before."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watchfloor.core import clock
from watchfloor.crises.models import WatchlistHit, WatchlistKind
from watchfloor.crises.watchlists import add_watchlist_entry, forget_matcher
from watchfloor.signals import backlog
from watchfloor.signals.intake import ingest_signals
from watchfloor.signals.models import ReactionBacklog
from watchfloor.signals.tasks import react_to_signals

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_matcher():
    forget_matcher()
    yield
    forget_matcher()


def _signal(number: int, text: str) -> dict:
    return {
        "id": f"r-{number}",
        "received_at": (clock.now() - timedelta(minutes=1)).isoformat(),
        "source": "user_report",
        "subject": {"kind": "post", "ref": f"post:r{number}"},
        "text": text,
        "market": "JP",
    }


def test_the_worker_flags_new_signals_that_match_a_crisis_watchlist(crisis, analyst):
    add_watchlist_entry(
        crisis=crisis, kind=WatchlistKind.TERM, value="津波警報", language="ja", actor=analyst
    )
    result = ingest_signals(
        items=[
            _signal(1, "【拡散希望】大津波警報が発令されました、すぐ逃げて"),
            _signal(2, "今日の東京は晴れ、風もなく穏やかな一日でした"),
        ],
        producer="tests",
        actor=None,
    )
    first, _ = (item.signal_id for item in result.results)
    # Acknowledged and stored; the watchlist is a reaction, so nothing is flagged yet.
    assert ReactionBacklog.objects.count() == 1
    assert not WatchlistHit.objects.exists()

    done = react_to_signals.call()

    assert done["rows"] == 1
    hit = WatchlistHit.objects.get()
    assert (hit.crisis_id, hit.signal_id) == (crisis.pk, first)
    assert not ReactionBacklog.objects.exists()
    # Draining again (a second worker, a retry) flags nothing twice.
    ReactionBacklog.objects.create(
        created_at=clock.now(), signal_ranges=[[first, first]], signal_count=1
    )
    backlog.drain()
    assert WatchlistHit.objects.count() == 1
