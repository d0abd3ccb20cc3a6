"""Which markets an official alert is about, from its areas.

In order, the first that finds a market of the catalog wins (``MarketsFound.how`` says
which):

1. ``geocode``: codes whose scheme names the country. ISO 3166 codes (``JP``,
   ``AU-SA``, ``AU_SA``) give their country; the U.S. schemes (SAME, FIPS6, UGC) give US.
   Other schemes are national and say nothing more here.
2. ``area``: polygons and circles, whose bounding rectangle is compared with each
   market's ``bounding_boxes`` in the catalog (rough rectangles: an alert near a border
   can name both neighbours, which is the safe side for a warning).
3. ``name``: a market's name written in ``areaDesc`` ("... of Neiafu, Tonga").
4. ``sender``: the sender's country (``cap_senders.yaml``), else the country of its
   domain name (``.jp``, ``.gov.au``).

Pure functions of the alert and the catalog's markets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchfloor.catalog.schema import BoundingBox, MarketSpec
from watchfloor.warning.cap import CapArea, CapInfo

__all__ = ["MarketsFound", "markets_for_info", "sender_domain_country"]

KM_PER_DEGREE = 111.32
_ISO_SCHEMES = re.compile(r"iso[\s_-]*3166|country_codes", re.IGNORECASE)
_US_SCHEMES = frozenset({"SAME", "FIPS6", "UGC", "NWSUGC"})
_ISO_VALUE = re.compile(r"([A-Za-z]{2})(?:[-_ ][A-Za-z0-9]{1,3})?")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+\.([A-Za-z]{2})(?:[/:]|$)")


@dataclass(frozen=True)
class MarketsFound:
    codes: tuple[str, ...]
    how: str  # geocode, area, name, sender or "" when nothing was found


def markets_for_info(
    info: CapInfo, *, markets: Sequence[MarketSpec], sender_country: str | None
) -> MarketsFound:
    known = {market.code for market in markets}
    for how, found in (
        ("geocode", _by_geocode(info.areas)),
        ("area", _by_shape(info.areas, markets)),
        ("name", _by_name(info.areas, markets)),
    ):
        codes = tuple(dict.fromkeys(code for code in found if code in known))
        if codes:
            return MarketsFound(codes, how)
    if sender_country and sender_country in known:
        return MarketsFound((sender_country,), "sender")
    return MarketsFound((), "")


def sender_domain_country(sender: str) -> str | None:
    """The country of a sender's domain (``cfsmedia@cfs.sa.gov.au`` → AU), if it has one."""
    host = sender.rsplit("@", 1)[-1].split("://", 1)[-1]
    match = _DOMAIN.match(host)
    return match.group(1).upper() if match else None


def _by_geocode(areas: Iterable[CapArea]) -> list[str]:
    found = []
    for area in areas:
        for scheme, value in area.geocodes:
            if scheme.strip().upper() in _US_SCHEMES:
                found.append("US")
            elif _ISO_SCHEMES.search(scheme):
                match = _ISO_VALUE.fullmatch(value.strip())
                if match:
                    found.append(match.group(1).upper())
    return found


def _by_shape(areas: Iterable[CapArea], markets: Sequence[MarketSpec]) -> list[str]:
    found = []
    for area in areas:
        rectangles = [_polygon_rectangle(points) for points in area.polygons]
        rectangles += [_circle_rectangle(*circle) for circle in area.circles]
        for rectangle in rectangles:
            for market in markets:
                if any(_overlaps(rectangle, box) for box in market.bounding_boxes):
                    found.append(market.code)
    return found


def _by_name(areas: Iterable[CapArea], markets: Sequence[MarketSpec]) -> list[str]:
    text = " ".join(area.description for area in areas)
    found = []
    for market in markets:
        if re.search(rf"(?<![\w-]){re.escape(market.name)}(?![\w-])", text, re.IGNORECASE):
            found.append((text.lower().find(market.name.lower()), market.code))
    return [code for _, code in sorted(found)]


# A rectangle: (south, north, longitude intervals), intervals within [-180, 180].
Rectangle = tuple[float, float, list[tuple[float, float]]]


def _polygon_rectangle(points: Sequence[tuple[float, float]]) -> Rectangle:
    latitudes = [lat for lat, _ in points]
    longitudes = [lon for _, lon in points]
    west, east = min(longitudes), max(longitudes)
    if east - west > 180:
        # Across the 180th meridian: from the westernmost positive to the easternmost
        # negative longitude.
        positive = [lon for lon in longitudes if lon >= 0]
        negative = [lon for lon in longitudes if lon < 0]
        intervals = [(min(positive), 180.0), (-180.0, max(negative))]
    else:
        intervals = [(west, east)]
    return (min(latitudes), max(latitudes), intervals)


def _circle_rectangle(lat: float, lon: float, radius_km: float) -> Rectangle:
    d_lat = radius_km / KM_PER_DEGREE
    cos = math.cos(math.radians(lat))
    d_lon = 180.0 if cos < 1e-6 else min(180.0, radius_km / (KM_PER_DEGREE * cos))
    west, east = lon - d_lon, lon + d_lon
    intervals = [(max(west, -180.0), min(east, 180.0))]
    if west < -180:
        intervals.append((west + 360, 180.0))
    if east > 180:
        intervals.append((-180.0, east - 360))
    return (max(-90.0, lat - d_lat), min(90.0, lat + d_lat), intervals)


def _box_intervals(box: BoundingBox) -> list[tuple[float, float]]:
    if box.west <= box.east:
        return [(box.west, box.east)]
    return [(box.west, 180.0), (-180.0, box.east)]


def _overlaps(rectangle: Rectangle, box: BoundingBox) -> bool:
    south, north, intervals = rectangle
    if north < box.south or south > box.north:
        return False
    return any(
        west <= box_east and box_west <= east
        for west, east in intervals
        for box_west, box_east in _box_intervals(box)
    )
