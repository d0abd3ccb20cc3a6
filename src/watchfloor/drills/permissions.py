"""Who may do what with a drill. Commanding a running drill (injecting, changing its
clock, finishing, abandoning) is commanding its crisis: ``crises.permissions``."""

from __future__ import annotations

from watchfloor.core.roles import Role, is_admin
from watchfloor.people.models import User


def may_start_drill(user: User) -> bool:
    """Leads and admins run exercises; the drill's commander then commands it as usual."""
    return user.is_authenticated and user.is_active and (is_admin(user) or user.role == Role.LEAD)
