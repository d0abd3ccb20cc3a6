"""Who may see signals and clusters, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.core.roles import Role

if TYPE_CHECKING:
    from watchfloor.people.models import User


def can_see_signals(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role != Role.PARTNER)
