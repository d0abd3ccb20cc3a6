"""Registries that apps above notify fill in their ``AppConfig.ready()``. Kept apart
from the selectors, which bring the escalation policy's models: a ``ready()`` that
imports this module costs every command nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from watchfloor.people.models import User

# A notification may be about something of an app above notify (a crisis's sitrep reminder
# names the crisis and who commands it). That app registers, in its ``AppConfig.ready()``,
# a function giving the ids of its notifications a person may not see, as a query.
HiddenNotifications = Callable[["User"], "QuerySet[Any]"]
hidden_notifications: list[HiddenNotifications] = []


def register_hidden_notifications(hidden: HiddenNotifications) -> None:
    """Add a rule that hides notifications from people: ``hidden(user)`` returns a query of
    the notification ids ``user`` may not see (``.values("notification_id")``, say)."""
    if hidden not in hidden_notifications:
        hidden_notifications.append(hidden)
