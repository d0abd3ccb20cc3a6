"""Who may work and approve a playbook step, built on ``core.roles``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watchfloor.core.roles import Role, can_approve_decisions, can_work_escalations, is_admin
from watchfloor.playbooks.models import RunStep
from watchfloor.playbooks.schema import StepSpec

if TYPE_CHECKING:
    from watchfloor.people.models import User


def may_work_step(user: User, step: RunStep) -> bool:
    """Site policy works every step; a partner works the steps their team owns."""
    if can_work_escalations(user):
        return True
    return (
        user.role == Role.PARTNER
        and user.team is not None
        and bool(step.owner_team)
        and user.team.code == step.owner_team
    )


def may_approve_step(user: User, step: RunStep, spec: StepSpec, holders: dict[str, Any]) -> bool:
    approval = spec.approval
    if approval is None or user.role == Role.VIEWER:
        return False
    if is_admin(user):
        return True
    if approval.team is not None:
        return user.team is not None and user.team.code == approval.team
    holder = holders.get(approval.role or "")
    if holder is not None:
        return holder.pk == user.pk
    return can_approve_decisions(user)
