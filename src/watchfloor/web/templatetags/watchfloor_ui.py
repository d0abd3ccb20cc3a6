"""Presentation helpers: times in the viewer's zone, countdowns, severity badges.

They format; they decide nothing. Permission filters only ask ``core.roles``.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _wall_text(local: datetime, target: tzinfo) -> str:
    """'Tue 24 Nov 09:30 JST' (the year only when it is not the current one)."""
    same_year = local.year == clock.now().astimezone(target).year
    pattern = "%a %d %b %H:%M" if same_year else "%a %d %b %Y %H:%M"
    return f"{local.strftime(pattern)} {_zone_abbreviation(local)}"


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
    utc = in_zone(moment, UTC)
    if local is None or utc is None:
        return format_html(
            '<time class="is-out-of-range" title="outside the calendar">{}</time>',
            moment.isoformat(timespec="minutes"),
        )
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc_iso(utc),
        utc.strftime("%Y-%m-%d %H:%M"),
        _wall_text(local, target),
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
    return format_html(
        '<span class="deadline">{}{}</span>',
        local_time(moment),
        also_in_zone(moment, market_zone, "market time"),
    )


def deadline_words(moment: datetime, market_zone: str = "") -> str:
    """'due Tue 24 Nov 09:30 JST · Tue 24 Nov 08:30 SGT market time · 2026-11-24 00:30 UTC'
    (plain text, for a ``title``): the same three readings as :func:`deadline`."""
    here = in_zone(moment, _zone())
    utc = in_zone(moment, UTC)
    if here is None or utc is None:
        return "outside the calendar"
    parts = [f"due {_wall_text(here, _zone())}"]
    offsets = {here.utcoffset()}
    if reads_differently(moment, market_zone):
        there = in_zone(moment, _zone(market_zone))
        if there is not None:
            parts.append(f"{_wall_text(there, _zone(market_zone))} market time")
            offsets.add(there.utcoffset())
    if timedelta(0) not in offsets:
        parts.append(f"{utc:%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)


@register.simple_tag
def countdown(due_at: datetime | str | None, market_zone: str = "") -> str:
    """'in 1 h 12 min' / 'breached 25 min ago', refreshed in the browser from ``data-due``;
    the deadline itself (viewer's time, market time, UTC) on hover."""
    moment = _moment(due_at)
    if moment is None:
        return mark_safe('<span class="countdown countdown-none">no running clock</span>')
    now = clock.now()
    return format_html(
        '<span class="countdown{}" data-due="{}" title="{}">{}</span>',
        " is-breached" if moment < now else "",
        utc_iso(moment),
        deadline_words(moment, market_zone),
        countdown_text(moment, now),
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
