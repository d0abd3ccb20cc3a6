"""The demo day's banks: the livestream bank with copies arriving, its allow bank, and the
demo crisis's bank filled by "bank this" on its evidence; loaded once."""

from __future__ import annotations

import pytest

from tests.banks.test_pages import client_for
from watchfloor.banks.demo import (
    ALLOW_BANK,
    ARRIVALS,
    EVACUATION_BANK,
    FRAME_COUNT,
    LIVESTREAM_BANK,
    REPOSTS,
    load_demo_banks,
)
from watchfloor.banks.models import Bank, EntrySource, Match
from watchfloor.bootstrap.demo import ensure_demo_accounts, load_demo_scenario
from watchfloor.crises.models import Crisis
from watchfloor.signals.models import ReactionBacklog, Signal

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # builds the demo day


def test_the_demo_day_has_banks_with_matches_and_a_crisis_bank(catalog):
    ensure_demo_accounts()
    load_demo_scenario()
    livestream = Bank.objects.get(name=LIVESTREAM_BANK)
    assert livestream.entries.filter(disabled_at__isnull=True).count() == FRAME_COUNT
    assert livestream.entries.filter(disabled_at__isnull=False).get().disabled_reason
    assert Match.objects.filter(bank=livestream).count() == len(ARRIVALS)
    assert sorted(set(Match.objects.values_list("distance", flat=True))) == sorted(
        {bits for _, _, bits, _ in ARRIVALS}
    )
    assert Signal.objects.filter(source="hash_match").count() == len(ARRIVALS) + len(REPOSTS)
    assert Bank.objects.get(name=ALLOW_BANK).is_allow_bank
    crisis_bank = Bank.objects.get(name=EVACUATION_BANK)
    assert crisis_bank.crisis == Crisis.objects.get()
    assert crisis_bank.entries.get().source == EntrySource.EVIDENCE
    assert Match.objects.filter(bank=crisis_bank).count() == len(REPOSTS)
    assert not ReactionBacklog.objects.exists()
    assert load_demo_banks() == 0
    analyst = livestream.entries.first().added_by
    html = client_for(analyst).get(f"/banks/{LIVESTREAM_BANK}/").content.decode()
    assert "Not from the attack stream" in html
    listing = client_for(analyst).get("/banks/").content.decode()
    assert LIVESTREAM_BANK in listing and EVACUATION_BANK in listing
