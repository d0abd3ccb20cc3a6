"""Who may acknowledge an engagement and manage deliveries, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.core.roles import Role, can_work_escalations, is_admin
from watchfloor.notify.models import Engagement

if TYPE_CHECKING:
    from watchfloor.people.models import User


def may_acknowledge(*, actor: User, engagement: Engagement) -> bool:
    """Whoever works escalations, and anyone the policy notified about this one."""
    if not actor.is_authenticated or not actor.is_active:
        return False
    return can_work_escalations(actor) or engagement.notifications.filter(recipient=actor).exists()


def may_manage_deliveries(user: User) -> bool:
    return user.is_authenticated and user.is_active and (is_admin(user) or user.role == Role.LEAD)
