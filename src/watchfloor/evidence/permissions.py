"""Who may see what of the evidence, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.core.roles import can_override_severity, is_admin

if TYPE_CHECKING:
    from watchfloor.people.models import User


def may_see_team_exposure(user: User) -> bool:
    """The team exposure page is for leads (and admins) who belong to a team."""
    return can_override_severity(user) and user.team_id is not None


def may_record_training(actor: User, person: User) -> bool:
    """Admins record anyone's training; a lead, that of the people of their own team."""
    if is_admin(actor):
        return True
    return (
        can_override_severity(actor)
        and actor.team_id is not None
        and (actor.team_id == person.team_id)
    )
