"""Sparklines: a run of signal counts drawn as a small inline SVG, on the server.

No script and no inline style (the pages' CSP allows neither): the SVG's classes are
styled by the app's stylesheet. The cluster list, a cluster's page and the surge feed
draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.utils.html import format_html
from django.utils.safestring import SafeString

from watchfloor.signals import selectors


def sparkline(
    counts: Sequence[int],
    *,
    width: int = 150,
    height: int = 30,
    label: str,
    baseline_per_bucket: float | None = None,
    threshold_per_bucket: float | None = None,
    css_class: str = "sparkline",
) -> SafeString:
    """An inline SVG line of ``counts`` (oldest first), scaled to its peak.

    With ``baseline_per_bucket`` and ``threshold_per_bucket`` (a surge's baseline and
    the rate it had to reach, per bucket) two dashed guides are drawn.
    """
    values = list(counts) or [0]
    peak = max(max(values), threshold_per_bucket or 0, 1)
    step = width / max(len(values) - 1, 1)
    usable = height - 2

    def y(value: float) -> str:
        return f"{height - 1 - (value / peak) * usable:.1f}"

    points = " ".join(f"{index * step:.1f},{y(value)}" for index, value in enumerate(values))
    area = f"M0,{height} L{points.replace(' ', ' L')} L{width},{height} Z"
    guides = []
    for value, name in ((baseline_per_bucket, "baseline"), (threshold_per_bucket, "threshold")):
        if value is not None:
            guides.append(
                format_html(
                    '<line class="spark-{}" x1="0" x2="{}" y1="{}" y2="{}"/>',
                    name,
                    width,
                    y(value),
                    y(value),
                )
            )
    return format_html(
        '<svg class="{}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}" preserveAspectRatio="none"><title>{}</title>'
        '<path class="spark-area" d="{}"/>{}<polyline class="spark-line" points="{}"/></svg>',
        css_class,
        width,
        height,
        width,
        height,
        label,
        label,
        area,
        SafeString("".join(guides)),
        points,
    )


def spark_label(counts: Sequence[int]) -> str:
    hours = len(counts) * selectors.BUCKET / timedelta(hours=1)
    return (
        f"Signals per 5 minutes over the last {hours:g} hours: "
        f"peak {max(counts, default=0)}, latest {counts[-1] if counts else 0}"
    )
