"""Reads of notifications. Need to know first: a notification about an escalation is as
visible as the escalation, a notification about something of an app above this one (a
crisis's sitrep reminder) as visible as that thing, and the delivery log is for leads and
administrators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Prefetch, Q, QuerySet

from watchfloor.core.errors import NotFound
from watchfloor.core.roles import Role, can_work_escalations, is_admin
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.notify.hooks import hidden_notifications
from watchfloor.notify.models import (
    ACKNOWLEDGED_VIA,
    Channel,
    Engagement,
    EngagementStatus,
    Notification,
    NotificationStatus,
)
from watchfloor.notify.permissions import may_manage_deliveries
from watchfloor.notify.policy import Stage

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

PANEL_ENGAGEMENTS = 5


def notifications_visible_to(user: User) -> QuerySet[Notification]:
    """The only way to start a query of notifications for a person."""
    notifications = Notification.objects.all()
    if not may_manage_deliveries(user):
        return notifications.none()
    if is_admin(user):
        return notifications
    notifications = notifications.filter(
        Q(escalation__isnull=True) | Q(escalation__in=escalations_visible_to(user).values("pk"))
    )
    for hidden in hidden_notifications:
        notifications = notifications.exclude(pk__in=hidden(user))
    return notifications


@dataclass(frozen=True)
class DeliveryFilters:
    status: str = ""
    channel: str = ""
    escalation: int | None = None


def delivery_log(*, user: User, filters: DeliveryFilters) -> QuerySet[Notification]:
    notifications = notifications_visible_to(user)
    if filters.status:
        notifications = notifications.filter(status=filters.status)
    if filters.channel:
        notifications = notifications.filter(channel__code=filters.channel)
    if filters.escalation is not None:
        notifications = notifications.filter(escalation_id=filters.escalation)
    return (
        notifications.select_related("channel", "recipient", "escalation", "engagement")
        .prefetch_related("attempts")
        .order_by("-created_at", "-id")
    )


def status_counts(*, user: User) -> dict[str, int]:
    rows = notifications_visible_to(user).values("status").annotate(count=Count("id"))
    counts = dict.fromkeys(NotificationStatus.values, 0)
    counts.update({row["status"]: row["count"] for row in rows})
    return counts


def get_visible_notification(*, user: User, notification_id: int | str) -> Notification:
    try:
        pk = int(notification_id)
    except (TypeError, ValueError):
        raise NotFound(f"no notification '{notification_id}'", field="notification") from None
    notification = notifications_visible_to(user).filter(pk=pk).first()
    if notification is None:
        raise NotFound(f"no notification {pk} that you can see", field="notification")
    return notification


def active_channels() -> QuerySet[Channel]:
    return Channel.objects.filter(is_active=True).order_by("code")


# ---------------------------------------------------------------- the escalation panel


@dataclass
class StageView:
    number: int
    name: str
    due_at: datetime
    targets: list[str]
    reached: bool
    notifications: list[Notification] = field(default_factory=list)


@dataclass
class EngagementView:
    engagement: Engagement
    stages: list[StageView]

    @property
    def is_active(self) -> bool:
        return self.engagement.status == EngagementStatus.ACTIVE

    @property
    def next_stage(self) -> StageView | None:
        return next((stage for stage in self.stages if not stage.reached), None)


@dataclass
class NotifyPanel:
    escalation: Escalation
    engagements: list[EngagementView]
    may_acknowledge: bool
    may_manage: bool

    @property
    def active(self) -> EngagementView | None:
        return next((view for view in self.engagements if view.is_active), None)

    @property
    def latest(self) -> EngagementView | None:
        """The newest run of the policy: the pager's state, shown once atop the page."""
        return self.engagements[0] if self.engagements else None

    @property
    def acknowledged_via(self) -> str:
        latest = self.latest
        if latest is None or not latest.engagement.acknowledged_via:
            return ""
        return ACKNOWLEDGED_VIA.get(latest.engagement.acknowledged_via, "")


def _engagement_view(engagement: Engagement) -> EngagementView:
    by_stage: dict[int, list[Notification]] = {}
    for notification in engagement.notifications.all():
        by_stage.setdefault(notification.stage or 0, []).append(notification)
    stages = []
    for index, raw in enumerate(engagement.stages):
        stage = Stage.model_validate(raw)
        stages.append(
            StageView(
                number=index + 1,
                name=stage.name,
                due_at=engagement.started_at + stage.offset,
                targets=[target.label for target in stage.notify],
                reached=index <= engagement.current_stage,
                notifications=by_stage.get(index, []),
            )
        )
    return EngagementView(engagement=engagement, stages=stages)


def escalation_panel(*, escalation: Escalation, viewer: User) -> NotifyPanel | None:
    """Who the escalation policy told, when, and whether it arrived; in a fixed number of
    queries. None for partner-team members: internal paging is not theirs to see."""
    if not viewer.is_authenticated or viewer.role == Role.PARTNER:
        return None
    engagements = list(
        Engagement.objects.filter(escalation=escalation)
        .select_related("acknowledged_by")
        .prefetch_related(
            Prefetch(
                "notifications",
                queryset=Notification.objects.select_related("recipient", "channel")
                .prefetch_related("attempts")
                .order_by("stage", "id"),
            )
        )
        .order_by("-started_at", "-id")[:PANEL_ENGAGEMENTS]
    )
    views = [_engagement_view(engagement) for engagement in engagements]
    active = next((view for view in views if view.is_active), None)
    may_acknowledge = active is not None and (
        can_work_escalations(viewer)
        or any(n.recipient_id == viewer.pk for n in active.engagement.notifications.all())
    )
    return NotifyPanel(
        escalation=escalation,
        engagements=views,
        may_acknowledge=may_acknowledge,
        may_manage=may_manage_deliveries(viewer),
    )
