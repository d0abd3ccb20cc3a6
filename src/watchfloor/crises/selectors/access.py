"""Need to know for crises: every query of crises starts from crises_visible_to, and
access_crisis finds one crisis or the same not-found error whether it is missing or
hidden; who holds which crisis role now and before."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role, is_admin
from watchfloor.crises.models import Crisis, CrisisEscalation, RoleAssignment, RoleKind
from watchfloor.escalations.selectors import escalations_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User


def crises_visible_to(user: User) -> QuerySet[Crisis]:
    """Need to know, applied before anything else.

    Admins see every crisis. A restricted crisis is seen only by the people on its access
    list. Partner-team members see a crisis only when one of its escalations is shared
    with their team (and visible to them); everyone else sees unrestricted crises.
    """
    crises = Crisis.objects.all()
    if not user.is_authenticated or not user.is_active:
        return crises.none()
    if is_admin(user):
        return crises
    on_access_list = Exists(
        Crisis.access_list.through.objects.filter(crisis_id=OuterRef("pk"), user_id=user.pk)
    )
    visible = Q(is_restricted=False) | Q(on_access_list)
    if user.role == Role.PARTNER:
        if user.team_id is None:
            return crises.none()
        shared = Exists(
            CrisisEscalation.objects.filter(
                crisis_id=OuterRef("pk"), escalation__in=escalations_visible_to(user)
            )
        )
        return crises.filter(shared).filter(visible)
    return crises.filter(visible)


def access_crisis(*, actor: User, crisis_id: int | str) -> Crisis:
    """The crisis, or the same NotFound whether it is missing or hidden from ``actor``."""
    try:
        pk = int(str(crisis_id).upper().removeprefix("CR-"))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no crisis '{crisis_id}'", field="crisis_id") from exc
    crisis = (
        crises_visible_to(actor)
        .select_related("declared_by", "declared_from")
        .filter(pk=pk)
        .first()
    )
    if crisis is None:
        raise NotFound(f"no crisis CR-{pk} that you can see", field="crisis_id")
    return crisis


def current_assignments(crisis: Crisis) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True).select_related("holder")
    )


def role_history(crisis: Crisis) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(crisis=crisis).select_related(
            "holder", "started_by", "ended_by"
        )
    )


def commander_of(crisis: Crisis) -> User | None:
    assignment = (
        RoleAssignment.objects.filter(
            crisis=crisis, role=RoleKind.INCIDENT_COMMANDER, ended_at__isnull=True
        )
        .select_related("holder")
        .first()
    )
    return assignment.holder if assignment else None


@dataclass(frozen=True)
class RoleSlot:
    """One role of the crisis and who holds it now (``None``: open)."""

    role: str
    market_code: str
    assignment: RoleAssignment | None

    @property
    def label(self) -> str:
        label = RoleKind(self.role).label
        return f"{label} ({self.market_code})" if self.market_code else label

    @property
    def holder(self) -> User | None:
        return self.assignment.holder if self.assignment else None

    @property
    def key(self) -> str:
        return f"{self.role}:{self.market_code}" if self.market_code else self.role


def role_slots(*, market_codes: Iterable[str], current: Iterable[RoleAssignment]) -> list[RoleSlot]:
    """Every role, held or open, in a fixed order; a regional lead for each market."""
    held = {(a.role, a.market_code): a for a in current}
    slots: list[RoleSlot] = []
    for role in RoleKind.values:
        if role == RoleKind.REGIONAL_LEAD:
            codes = list(dict.fromkeys([*market_codes, *(m for r, m in held if r == role)]))
            slots.extend(RoleSlot(role, code, held.get((role, code))) for code in codes)
        else:
            slots.append(RoleSlot(role, "", held.get((role, ""))))
    return slots
