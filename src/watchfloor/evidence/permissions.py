"""Who may see what of the evidence, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.core.roles import can_override_severity

if TYPE_CHECKING:
    from watchfloor.people.models import User


def may_see_team_exposure(user: User) -> bool:
    """The team exposure page is for leads (and admins) who belong to a team."""
    return can_override_severity(user) and user.team_id is not None
