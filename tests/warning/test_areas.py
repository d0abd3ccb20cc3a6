"""Areas → markets: pure functions of an alert's areas and the catalog's markets."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.catalog.schema import MarketsFile
from watchfloor.warning.areas import markets_for_info, sender_domain_country
from watchfloor.warning.cap import CapArea, CapInfo

MARKETS = MarketsFile.model_validate(
    yaml.safe_load((Path(__file__).parents[2] / "src/watchfloor/defaults/markets.yaml").read_text())
).markets
BOXED = [(market, box) for market in MARKETS for box in market.bounding_boxes]


def info(*areas: CapArea) -> CapInfo:
    return CapInfo(
        language="en", categories=("Geo",), event="Tsunami Warning",
        urgency="Immediate", severity="Extreme", certainty="Observed", areas=areas,
    )  # fmt: skip


def locate(area: CapArea, sender_country: str | None = None):
    return markets_for_info(info(area), markets=MARKETS, sender_country=sender_country)


@st.composite
def point_in_a_box(draw):
    market, box = draw(st.sampled_from(BOXED))
    lat = draw(st.floats(box.south, box.north))
    if box.west <= box.east:
        lon = draw(st.floats(box.west, box.east))
    else:  # across the 180th meridian
        lon = draw(st.floats(box.west, 180.0) | st.floats(-180.0, box.east))
    return market.code, lat, lon


# No deadline: speed is for bench/, and this machine is shared.
@settings(deadline=None)
@given(point_in_a_box(), st.floats(0, 200))
def test_a_circle_inside_a_markets_box_names_that_market(found, radius):
    code, lat, lon = found
    result = markets_for_info(
        info(CapArea("somewhere", circles=((lat, lon, radius),))),
        markets=MARKETS,
        sender_country=None,
    )
    assert result.how == "area" and code in result.codes


@settings(deadline=None)
@given(point_in_a_box())
def test_a_polygon_around_a_point_names_its_market(found):
    code, lat, lon = found
    d = 0.01
    ring = ((lat - d, lon - d), (lat - d, lon + d), (lat + d, lon + d), (lat + d, lon - d))
    ring = tuple((a, max(-180.0, min(180.0, b))) for a, b in ring)
    result = markets_for_info(
        info(CapArea("somewhere", polygons=((*ring, ring[0]),))),
        markets=MARKETS,
        sender_country=None,
    )
    assert code in result.codes


def test_an_area_in_the_open_ocean_falls_back_to_the_senders_country():
    result = markets_for_info(
        info(CapArea("mid-Pacific", circles=((0.0, -140.0, 10.0),))),
        markets=MARKETS,
        sender_country="US",
    )
    assert (result.codes, result.how) == (("US",), "sender")


def test_names_in_the_area_description_are_the_last_resort_before_the_sender():
    result = markets_for_info(
        info(CapArea("Coastal areas of Tonga, Fiji and Samoa")),
        markets=MARKETS,
        sender_country="US",
    )
    assert (result.codes, result.how) == (("TO", "FJ", "WS"), "name")


def test_a_senders_domain_gives_its_country():
    assert sender_domain_country("cfsmedia@cfs.sa.gov.au") == "AU"
    assert sender_domain_country("https://www.jma.go.jp/bosai/") == "JP"
    assert sender_domain_country("w-nws.webmaster@noaa.gov") is None
