"""The containment chart: inline SVG drawn on the server from the hourly figures.

No script and no inline style (the content security policy allows neither): bars for the
new signals of each hour, a line with a dot per hour for the watchlist matches, both on
one scale, hours labelled in the viewer's zone. The war room puts a table of the same
figures beside it for screen readers and anyone who wants the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from watchfloor.crises.containment import HourFigure

WIDTH = 720
HEIGHT = 200
LEFT = 44
RIGHT = 8
TOP = 12
BOTTOM = 26
LABEL_EVERY = 3


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value`` (an axis that reads well)."""
    ceiling = 1
    while True:
        for step in (1, 2, 5):
            if step * ceiling >= value:
                return step * ceiling
        ceiling *= 10


def containment_chart(hours: Sequence[HourFigure], *, zone: str) -> SafeString:
    """Signals (bars) and watchlist matches (line) per hour, oldest first."""
    if not hours:
        return SafeString("")
    local = ZoneInfo(zone)
    peak = _nice_ceiling(max(max(h.signals for h in hours), max(h.matches for h in hours), 1))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / len(hours)
    bar = max(slot * 0.72, 1)

    def y(value: int) -> float:
        return TOP + plot_height - (value / peak) * plot_height

    def number(value: float) -> str:
        return f"{value:.1f}"

    bars = format_html_join(
        "",
        '<rect class="chart-bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        (
            (
                number(LEFT + index * slot + (slot - bar) / 2),
                number(y(hour.signals)),
                number(bar),
                number(TOP + plot_height - y(hour.signals)),
                f"{hour.start.astimezone(local):%H:%M}: {hour.signals} new signals, "
                f"{hour.matches} watchlist matches",
            )
            for index, hour in enumerate(hours)
        ),
    )
    points = " ".join(
        f"{LEFT + (index + 0.5) * slot:.1f},{y(hour.matches):.1f}"
        for index, hour in enumerate(hours)
    )
    dots = format_html_join(
        "",
        '<circle class="chart-match-dot" cx="{}" cy="{}" r="2.5"/>',
        (
            (number(LEFT + (index + 0.5) * slot), number(y(hour.matches)))
            for index, hour in enumerate(hours)
            if hour.matches
        ),
    )
    grid = format_html_join(
        "",
        '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="chart-tick" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                number(y(value)),
                number(y(value)),
                LEFT - 6,
                number(y(value) + 4),
                f"{value:,}",
            )
            for value in (0, peak // 2, peak)
        ),
    )
    labels = format_html_join(
        "",
        '<text class="chart-tick" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (
                number(LEFT + (index + 0.5) * slot),
                HEIGHT - 8,
                f"{hour.start.astimezone(local):%H:%M}",
            )
            for index, hour in enumerate(hours)
            if index % LABEL_EVERY == 0
        ),
    )
    first, last = hours[0].start.astimezone(local), hours[-1].end.astimezone(local)
    summary = (
        f"New signals and watchlist matches per hour, {first:%d %b %H:%M} to "
        f"{last:%d %b %H:%M} {last.tzname()}: {sum(h.signals for h in hours):,} signals, "
        f"peak {max(h.signals for h in hours):,} in an hour; "
        f"{sum(h.matches for h in hours):,} watchlist matches."
    )
    return format_html(
        '<svg class="containment-chart" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="containment-chart-title"><title id="containment-chart-title">{}'
        "</title>{}{}"
        '<polyline class="chart-matches" points="{}"/>{}{}</svg>',
        WIDTH,
        HEIGHT,
        summary,
        grid,
        bars,
        points,
        dots,
        labels,
    )
