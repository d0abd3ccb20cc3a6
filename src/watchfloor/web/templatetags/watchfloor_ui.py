"""Presentation helpers: times in the viewer's zone, countdowns, severity badges.

They format; they decide nothing. Permission filters only ask ``core.roles``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from watchfloor.core import clock, roles
from watchfloor.web.countdown import countdown_text
from watchfloor.web.text_language import text_language

register = template.Library()


def _moment(value: datetime | str | None) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if value.tzinfo is not None else None


def _zone_abbreviation(moment: datetime) -> str:
    name = moment.strftime("%Z")
    # tzdata has no letters for many Asian zones ("+08"); say what it is.
    return f"UTC{name}" if name[:1] in "+-" else name


def utc_iso(moment: datetime) -> str:
    utc = in_zone(moment, UTC)
    return (utc or moment).strftime("%Y-%m-%dT%H:%M:%SZ" if utc else "%Y-%m-%dT%H:%M:%S%z")


def in_zone(moment: datetime, zone: tzinfo) -> datetime | None:
    """``moment`` in ``zone``, or None where the calendar ends before it gets there.

    Input is bounded (``core.validation``), but a row stored before it was (a signal
    dated 9999-12-31T23:59:59Z) must not take a page down: in a zone east of UTC that
    time would be in the year 10000, which Python cannot represent."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return None


def _zone(name: str = "") -> tzinfo:
    """The zone named, else the viewer's (the middleware activates it); UTC for a name
    that is not a zone, so a bad value stored before it was checked cannot take a page down."""
    if not name:
        return timezone.get_current_timezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _wall_text(local: datetime, target: tzinfo, *, current_year: int | None = None) -> str:
    """'Tue 24 Nov 09:30 JST' (the year only when it is not the current one in
    ``target``: ``current_year`` when the caller knows it)."""
    if current_year is None:
        current_year = clock.now().astimezone(target).year
    pattern = "%a %d %b %H:%M" if local.year == current_year else "%a %d %b %Y %H:%M"
    return f"{local.strftime(pattern)} {_zone_abbreviation(local)}"


def _time_element(moment: datetime, utc: datetime | None, local: datetime | None, wall: str) -> str:
    """``<time>`` showing ``wall`` (``local``'s reading), the UTC time on hover; the
    moment's own ISO text where the calendar ends before the zone gets there."""
    if local is None or utc is None:
        return format_html(
            '<time class="is-out-of-range" title="outside the calendar">{}</time>',
            moment.isoformat(timespec="minutes"),
        )
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc_iso(utc),
        utc.strftime("%Y-%m-%d %H:%M"),
        wall,
    )


@register.simple_tag
def local_time(value: datetime | str | None, zone: str = "") -> str:
    """``<time>`` in the viewer's zone (or ``zone``), the UTC time on hover.

    The year is left out when it is the current one: deadlines are near, and a short
    time reads faster at a glance.
    """
    moment = _moment(value)
    if moment is None:
        return "—"
    target = _zone(zone)
    local = in_zone(moment, target)
    return _time_element(
        moment, in_zone(moment, UTC), local, _wall_text(local, target) if local else ""
    )


def reads_differently(moment: datetime, zone: str) -> bool:
    """Whether ``moment`` shows another wall-clock time in ``zone`` than in the viewer's:
    only then is it printed a second time (never "21:26 JST · 21:26 JST")."""
    if not zone:
        return False
    here = in_zone(moment, _zone())
    there = in_zone(moment, _zone(zone))
    if here is None or there is None:
        return False
    return here.utcoffset() != there.utcoffset()


@register.simple_tag
def also_in_zone(value: datetime | str | None, zone: str, note: str) -> str:
    """ " · <time> (note)": ``value`` in ``zone`` as well, only where it reads differently
    from the viewer's own time, so that no time is printed twice."""
    moment = _moment(value)
    if moment is None or not reads_differently(moment, zone):
        return ""
    return format_html(' · {} <span class="muted">({})</span>', local_time(moment, zone=zone), note)


@register.simple_tag
def deadline(value: datetime | str | None, market_zone: str = "") -> str:
    """A deadline as every page shows it: the viewer's time, the market's time beside it
    where it reads differently, and UTC on hover (``<time datetime title>``)."""
    moment = _moment(value)
    if moment is None:
        return "—"
    return DeadlineReader().deadline(moment, market_zone)


def deadline_words(moment: datetime, market_zone: str = "") -> str:
    """'due Tue 24 Nov 09:30 JST · Tue 24 Nov 08:30 SGT market time · 2026-11-24 00:30 UTC'
    (plain text, for a ``title``): the same three readings as :func:`deadline`."""
    return DeadlineReader().words(moment, market_zone)


@register.simple_tag
def countdown(due_at: datetime | str | None, market_zone: str = "") -> str:
    """'in 1 h 12 min' / 'breached 25 min ago', refreshed in the browser from ``data-due``;
    the deadline itself (viewer's time, market time, UTC) on hover."""
    moment = _moment(due_at)
    if moment is None:
        return mark_safe('<span class="countdown countdown-none">no running clock</span>')
    return DeadlineReader().countdown(moment, market_zone)


@dataclass(frozen=True)
class _Readings:
    """One moment in the viewer's zone, in UTC and, where it reads differently, in the
    market's zone (None where the calendar ends before a zone gets there)."""

    moment: datetime
    here: datetime | None
    here_wall: str
    utc: datetime | None
    there: datetime | None = None
    there_wall: str = ""


class DeadlineReader:
    """Deadlines as the ``countdown`` and ``deadline`` tags show them, for one page.

    A page of fifty rows asked for the time, the viewer's zone, each zone's current year
    and each moment's readings over and over, once per tag and per helper; made once per
    page, a reader asks for each once (the same output: the tags use it too)."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now if now is not None else clock.now()
        self.viewer_zone = _zone()
        self._zones: dict[str, tzinfo] = {}
        self._years: dict[tzinfo, int] = {}

    def _zone(self, name: str) -> tzinfo:
        if name not in self._zones:
            self._zones[name] = _zone(name)
        return self._zones[name]

    def _wall(self, local: datetime, zone: tzinfo) -> str:
        if zone not in self._years:
            self._years[zone] = self.now.astimezone(zone).year
        return _wall_text(local, zone, current_year=self._years[zone])

    def readings(self, moment: datetime, market_zone: str = "") -> _Readings:
        here = in_zone(moment, self.viewer_zone)
        utc = in_zone(moment, UTC)
        here_wall = self._wall(here, self.viewer_zone) if here is not None else ""
        if market_zone and here is not None:
            zone = self._zone(market_zone)
            there = in_zone(moment, zone)
            # Printed a second time only where it reads differently (reads_differently).
            if there is not None and there.utcoffset() != here.utcoffset():
                return _Readings(moment, here, here_wall, utc, there, self._wall(there, zone))
        return _Readings(moment, here, here_wall, utc)

    def words(self, moment: datetime, market_zone: str = "") -> str:
        """What :func:`deadline_words` says."""
        return self._words(self.readings(moment, market_zone))

    def _words(self, readings: _Readings) -> str:
        here, utc, there = readings.here, readings.utc, readings.there
        if here is None or utc is None:
            return "outside the calendar"
        parts = [f"due {readings.here_wall}"]
        offsets = {here.utcoffset()}
        if there is not None:
            parts.append(f"{readings.there_wall} market time")
            offsets.add(there.utcoffset())
        if timedelta(0) not in offsets:
            parts.append(f"{utc:%Y-%m-%d %H:%M} UTC")
        return " · ".join(parts)

    def countdown(self, moment: datetime, market_zone: str = "") -> str:
        """What the ``countdown`` tag shows for a moment."""
        return self._countdown(self.readings(moment, market_zone))

    def deadline(self, moment: datetime, market_zone: str = "") -> str:
        """What the ``deadline`` tag shows for a moment."""
        return self._deadline(self.readings(moment, market_zone))

    def countdown_and_deadline(self, moment: datetime, market_zone: str = "") -> tuple[str, str]:
        """Both, from one working-out of the moment's readings."""
        readings = self.readings(moment, market_zone)
        return self._countdown(readings), self._deadline(readings)

    def _countdown(self, readings: _Readings) -> str:
        moment = readings.moment
        return format_html(
            '<span class="countdown{}" data-due="{}" title="{}">{}</span>',
            " is-breached" if moment < self.now else "",
            utc_iso(moment),
            self._words(readings),
            countdown_text(moment, self.now),
        )

    def _deadline(self, readings: _Readings) -> str:
        moment, utc = readings.moment, readings.utc
        there = ""
        if readings.there is not None:
            there = format_html(
                ' · {} <span class="muted">({})</span>',
                _time_element(moment, utc, readings.there, readings.there_wall),
                "market time",
            )
        return format_html(
            '<span class="deadline">{}{}</span>',
            _time_element(moment, utc, readings.here, readings.here_wall),
            there,
        )


@register.simple_tag
def server_now() -> str:
    """The server's idea of now (simulated in drills), so the browser counts from it."""
    return utc_iso(clock.now())


@register.simple_tag
def severity_badge(level: int | None, label: str = "") -> SafeString:
    if level is None:
        return mark_safe('<span class="sev">—</span>')
    level = int(level)
    if label:
        return format_html(
            '<span class="sev sev-{}">SEV{} <span class="sev-label">{}</span></span>',
            min(level, 4),
            level,
            label,
        )
    return format_html('<span class="sev sev-{}">SEV{}</span>', min(level, 4), level)


def _signed_in_and(question: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A role question of ``core.roles`` as a template filter: no for a signed-out visitor."""

    def check(user: Any) -> bool:
        return bool(user.is_authenticated and question(user))

    return check


register.filter("can_work", _signed_in_and(roles.can_work_escalations))
register.filter("can_approve", _signed_in_and(roles.can_approve_decisions))


@register.filter
def words(code: str) -> str:
    return str(code or "").replace("_", " ")


@register.filter
def text_attrs(text: str, languages: list[str] | None = None) -> SafeString:
    """` lang="…" dir="auto"` for an element holding people's text (a title, a summary,
    a note): its language among ``languages`` for the right glyphs, and its direction
    from its own first strong character, so right-to-left text is laid out as such."""
    tag = text_language(str(text or ""), languages or [])
    if tag:
        return format_html(' lang="{}" dir="auto"', tag)
    return mark_safe(' dir="auto"')
