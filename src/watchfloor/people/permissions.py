"""Who may change what of the people app's records, built on ``core.roles``."""

from __future__ import annotations

from watchfloor.core.roles import Role, is_admin
from watchfloor.people.models import Rotation, User


def may_manage_rotation(user: User, rotation: Rotation) -> bool:
    """Leads and admins, and the rotation's own team (people swap shifts among themselves)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user) or user.role == Role.LEAD:
        return True
    return user.role != Role.VIEWER and user.team_id == rotation.team_id
