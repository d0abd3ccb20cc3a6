"""Checks every service makes on its input, written once."""

from __future__ import annotations

from datetime import UTC, datetime

from watchfloor.core.errors import InvalidInput, PermissionDenied

# Times outside this window are typing mistakes, and near the ends of the calendar
# converting them to UTC would overflow.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def require(allowed: bool, message: str) -> None:
    """Refuse with ``message`` when the actor's role does not allow the action."""
    if not allowed:
        raise PermissionDenied(message)


def clean_text(value: str | None, *, field: str, max_length: int, required: bool) -> str:
    """The stripped text, or an error naming the field: missing when required, too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; the limit is {max_length}", field=field
        )
    return text


def within_calendar(value: datetime, *, field: str) -> datetime:
    """``value`` when it falls in the years Watchfloor accepts, else an error naming them."""
    if not EARLIEST_TIME <= value <= LATEST_TIME:
        raise InvalidInput(
            f"times must fall between {EARLIEST_TIME.year} and {LATEST_TIME.year}; "
            f"{value:%Y-%m-%d} is outside them: check the year",
            field=field,
        )
    return value
