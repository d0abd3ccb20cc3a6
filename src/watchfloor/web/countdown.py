"""How far away a deadline is, in words a tired reader takes in at a glance.

The same wording is produced by ``static/web/watchfloor.js``, which refreshes the text
every 30 seconds; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def describe_span(delta: timedelta) -> str:
    """'2 d 3 h', '1 h 12 min', '25 min' or 'under a minute' (whole minutes, rounded down)."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def countdown_text(due_at: datetime, now: datetime) -> str:
    """'in 1 h 12 min' before the deadline, 'breached 25 min ago' after it."""
    if due_at >= now:
        return f"in {describe_span(due_at - now)}"
    return f"breached {describe_span(now - due_at)} ago"
