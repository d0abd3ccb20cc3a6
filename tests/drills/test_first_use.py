"""What a new user met playing a drill (issue 12, defect 9): the war room's market time in
the wrong market, "Score: 0.0%" for a drill with nothing due, raw ids on the score, and
no way to speed a five-hour scenario up in the UI."""

from __future__ import annotations

import re

import pytest

from tests.crises.conftest import signed_in
from watchfloor.drills.scenario_files import PACKAGE_SCENARIOS, read_scenario

JP = PACKAGE_SCENARIOS / "jp_livestream_attack.yaml"


@pytest.fixture
def library(catalog):
    from watchfloor.playbooks.services import load_playbooks

    return load_playbooks(actor=None)


@pytest.fixture
def jp(library):
    return read_scenario(JP, check_catalog=True)


@pytest.fixture
def started(jp, lead, frozen_clock):
    from watchfloor.drills.services import start_drill

    return start_drill(scenario=jp, actor=lead)


def visible_text(html: str) -> str:
    """What a reader sees: the page without its tags (and so without their attributes)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


# ---------------------------------------------------------------- market time


def test_the_drill_war_room_shows_the_primary_markets_time(started, lead):
    """The Osaka drill's crisis covers JP and AU; its market time is Tokyo's, not the
    alphabetically first market's (AEDT)."""
    from watchfloor.crises.drafting import crisis_zone

    crisis = started.crisis
    assert sorted(crisis.markets.values_list("code", flat=True)) == ["AU", "JP"]
    assert crisis_zone(crisis).key == "Asia/Tokyo"
    page = signed_in(lead).get(f"/crises/{crisis.pk}/").content.decode()
    deadlines = section(page, "live-deadlines")
    assert "Confirm the content and stop any livestream" in deadlines
    # The lead reads in Singapore time; the market column is in Japan's.
    assert "JST" in deadlines
    assert "AEDT" not in deadlines and "AEST" not in deadlines


def test_without_an_origin_the_crisis_keeps_its_first_market(analyst, frozen_clock):
    from watchfloor.crises.drafting import crisis_zone
    from watchfloor.crises.services import declare_crisis

    crisis = declare_crisis(
        actor=analyst, title="Scam wave", level="monitoring", markets=["JP", "AU"]
    )
    # Declared from no escalation: nothing says which market leads, so the first by code.
    assert crisis_zone(crisis).key == "Australia/Sydney"
