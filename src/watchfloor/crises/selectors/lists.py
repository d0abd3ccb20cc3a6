"""Lists of crises (filtered, and those of an escalation, with the queue's banner and the
escalation page's panel) and the escalations of a crisis that a viewer may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Value, When

from watchfloor.crises.models import (
    LEVEL_URGENCY,
    Crisis,
    CrisisEscalation,
    RoleAssignment,
    RoleKind,
)
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.selectors.access import crises_visible_to
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to

if TYPE_CHECKING:
    from watchfloor.people.models import User

QUEUE_BANNER_LIMIT = 3


def crisis_list(*, user: User, include_closed: bool = True) -> QuerySet[Crisis]:
    """Crises the user may see: active ones first, the most urgent level first, then the
    nearest sitrep; closed ones after, the latest first."""
    crises = crises_visible_to(user)
    if not include_closed:
        crises = crises.filter(is_active=True)
    urgency = Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_URGENCY.items()),
        output_field=IntegerField(),
    )
    visible_links = CrisisEscalation.objects.filter(
        escalation__in=escalations_visible_to(user)
    ).select_related("escalation")
    commanders = RoleAssignment.objects.filter(
        role=RoleKind.INCIDENT_COMMANDER, ended_at__isnull=True
    ).select_related("holder")
    return (
        crises.annotate(urgency=urgency)
        .prefetch_related(
            "markets",
            Prefetch("links", queryset=visible_links, to_attr="visible_links"),
            Prefetch("role_assignments", queryset=commanders, to_attr="current_commanders"),
        )
        .order_by("-is_active", "urgency", "next_sitrep_due_at", "-declared_at", "-pk")
    )


@dataclass(frozen=True)
class CrisisFilters:
    """What the crises list may be narrowed to; an empty filter leaves everything in."""

    active: bool | None = None  # True: active only; False: closed only
    levels: tuple[str, ...] = ()
    market: str = ""


def filtered_crisis_list(*, user: User, filters: CrisisFilters) -> QuerySet[Crisis]:
    """:func:`crisis_list`, in the same order and with the same prefetches, narrowed."""
    crises = crisis_list(user=user)
    if filters.active is not None:
        crises = crises.filter(is_active=filters.active)
    if filters.levels:
        crises = crises.filter(level__in=list(filters.levels))
    if filters.market:
        crises = crises.filter(
            Exists(
                Crisis.markets.through.objects.filter(
                    crisis_id=OuterRef("pk"), market__code=filters.market
                )
            )
        )
    return crises


def crises_for_escalation(*, escalation: Escalation, user: User) -> list[Crisis]:
    return list(
        crises_visible_to(user)
        .filter(links__escalation=escalation)
        .order_by("-is_active", "-declared_at")
    )


@dataclass(frozen=True)
class QueueCrisisBanner:
    """The active crises above the triage queue: the most urgent first, a few at most."""

    crises: Sequence[Crisis]
    has_more: bool


def queue_crisis_banner(*, viewer: User) -> QueueCrisisBanner:
    """The active crises ``viewer`` may see (drills are rehearsals, not the floor's
    state, and stay off it): one query, bounded by the banner's size."""
    urgency = Case(
        *(When(level=level, then=Value(rank)) for level, rank in LEVEL_URGENCY.items()),
        output_field=IntegerField(),
    )
    crises = list(
        crises_visible_to(viewer)
        .filter(is_active=True, is_drill=False)
        .annotate(urgency=urgency)
        .order_by("urgency", "-declared_at", "-pk")[: QUEUE_BANNER_LIMIT + 1]
    )
    return QueueCrisisBanner(
        crises=crises[:QUEUE_BANNER_LIMIT], has_more=len(crises) > QUEUE_BANNER_LIMIT
    )


@dataclass(frozen=True)
class EscalationCrisisPanel:
    """What the escalation page says about crises: the ones it is part of, and whether
    the viewer may declare one from it."""

    escalation: Escalation
    crises: list[Crisis]
    may_declare: bool

    @property
    def active(self) -> list[Crisis]:
        return [c for c in self.crises if c.is_active]


def escalation_crisis_panel(*, escalation: Escalation, viewer: User) -> EscalationCrisisPanel:
    return EscalationCrisisPanel(
        escalation=escalation,
        crises=crises_for_escalation(escalation=escalation, user=viewer),
        may_declare=may_work_crisis(viewer),
    )


def visible_links(*, crisis: Crisis, viewer: User) -> list[CrisisEscalation]:
    """The crisis's escalations the viewer may see, with what the war room shows of them."""
    return list(
        CrisisEscalation.objects.filter(
            crisis=crisis, escalation__in=escalations_visible_to(viewer)
        )
        .select_related("escalation__type", "escalation__owner", "linked_by")
        .prefetch_related(
            "escalation__clocks",
            "escalation__decisions__action",
            "escalation__decisions__policy_version__policy",
            "escalation__decisions__decided_by",
        )
    )


def visible_escalation_ids(*, crisis: Crisis, viewer: User) -> set[int]:
    """The linked escalations the viewer may see, by id (for reading the timeline)."""
    return set(
        CrisisEscalation.objects.filter(
            crisis=crisis, escalation__in=escalations_visible_to(viewer)
        ).values_list("escalation_id", flat=True)
    )
