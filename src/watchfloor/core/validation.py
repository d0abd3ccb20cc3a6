"""Checks every service makes on its input, written once."""

from __future__ import annotations

from watchfloor.core.errors import InvalidInput, PermissionDenied


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
