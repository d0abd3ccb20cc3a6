"""Who may ask partner teams, answer their requests and withdraw them, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.coordination.models import PartnerRequest
from watchfloor.core.roles import Role, can_work_escalations, is_admin

if TYPE_CHECKING:
    from watchfloor.people.models import User


def may_ask_partners(user: User) -> bool:
    return can_work_escalations(user)


def may_answer(user: User, partner_request: PartnerRequest) -> bool:
    """The members of the team asked (not its viewers), and admins."""
    if not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user):
        return True
    return user.role != Role.VIEWER and user.team_id == partner_request.team_id


def may_withdraw(user: User) -> bool:
    return can_work_escalations(user)
