"""Template filters for the delivery log."""

from __future__ import annotations

from typing import Any

from django import template

from watchfloor.core.roles import is_admin

register = template.Library()


@register.filter
def sees_receiver_answers(user: Any) -> bool:
    """Whether ``user`` may read what webhook receivers answered (administrators only:
    an answer may carry anything the receiver chose to send back)."""
    return bool(getattr(user, "is_authenticated", False) and is_admin(user))
