"""Who may do what in a crisis, built on ``core.roles``.

Working a crisis (notes, pinned facts, links, sitreps, the review) is for the people who
work escalations. Commanding it (its level, its roles, who may see it) is for the
incident commander and the deputy, and for leads and admins. Partners read the crises
their team is part of and add notes there; viewers only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from watchfloor.core.roles import Role, can_add_notes, can_work_escalations, is_admin
from watchfloor.crises.models import COMMAND_ROLES, RoleAssignment

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis
    from watchfloor.people.models import User


def may_work_crisis(user: User) -> bool:
    return can_work_escalations(user)


def may_add_crisis_notes(user: User) -> bool:
    return can_add_notes(user)


def holds_command(
    user: User, crisis: Crisis, *, current: Iterable[RoleAssignment] | None = None
) -> bool:
    """Whether ``user`` is the crisis's commander or deputy now. Pass the current
    assignments when they are already loaded, to spare a query."""
    if current is None:
        return RoleAssignment.objects.filter(
            crisis=crisis, holder_id=user.pk, role__in=COMMAND_ROLES, ended_at__isnull=True
        ).exists()
    return any(a.holder_id == user.pk and a.role in COMMAND_ROLES for a in current)


def may_command_crisis(
    user: User, crisis: Crisis, *, current: Iterable[RoleAssignment] | None = None
) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user) or user.role == Role.LEAD:
        return True
    return can_work_escalations(user) and holds_command(user, crisis, current=current)


def may_read_sitrep(user: User, *, detail: str) -> bool:
    """A partner reads the partner and public versions, not leadership's full one."""
    return user.role != Role.PARTNER or detail != "full"


def may_see(user: User, crisis: Crisis) -> bool:
    # Imported here: the selectors ask this module who may work a crisis.
    from watchfloor.crises.selectors import crises_visible_to

    return crises_visible_to(user).filter(pk=crisis.pk).exists()
