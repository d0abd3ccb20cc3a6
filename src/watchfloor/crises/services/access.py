"""Who may see a crisis: restricting it to an access list or opening it (carrying the
version it was read at), and logging each look at a restricted crisis."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.validation import require as _require
from watchfloor.crises.models import Crisis, RoleAssignment
from watchfloor.crises.permissions import may_command_crisis
from watchfloor.crises.services.common import (
    active_users_named,
    count_access_change,
    lock_crisis,
    record_crisis_event,
    require_access_version,
)
from watchfloor.people.models import User


@transaction.atomic
def set_crisis_access(
    *,
    crisis: Crisis,
    actor: User,
    is_restricted: bool,
    access_usernames: list[str],
    expected_version: int | None = None,
) -> Crisis:
    """Restrict a crisis to its access list (the actor and the current role holders always
    stay on it, so nobody loses sight of a crisis they are running), or open it.

    ``expected_version`` is the ``access_version`` the page or API client read; the pages
    and the API always send it, and a stale edit is refused. None is for callers that read
    nothing a person saw (the system, drills)."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may change who can see this",
    )
    crisis = lock_crisis(crisis)
    users = active_users_named(access_usernames, field="access_list")
    if is_restricted:
        holders = User.objects.filter(
            pk__in=RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True).values(
                "holder_id"
            )
        )
        users = list(dict.fromkeys([*users, actor, *holders]))
    before: dict[str, Any] = {
        "restricted": crisis.is_restricted,
        "access_list": sorted(crisis.access_list.values_list("username", flat=True)),
    }
    require_access_version(
        crisis,
        expected_version=expected_version,
        what="who may see or hold roles",
        now=(
            f"{'restricted' if before['restricted'] else 'not restricted'}; access list: "
            f"{', '.join(before['access_list']) or 'nobody'}"
        ),
    )
    count_access_change(crisis)
    crisis.is_restricted = is_restricted
    crisis.updated_at = clock.now()
    crisis.save(update_fields=["is_restricted", "updated_at"])
    crisis.access_list.set(users)
    record_crisis_event(
        AuditAction.CRISIS_ACCESS_CHANGED,
        crisis=crisis,
        actor=actor,
        data={
            "before": before,
            "after": {
                "restricted": is_restricted,
                "access_list": sorted(u.username for u in users),
            },
            "version": crisis.access_version,
        },
    )
    return crisis


@transaction.atomic
def record_restricted_view(*, crisis: Crisis, actor: User, channel: str) -> None:
    """Each look at a restricted crisis is logged, as for restricted escalations."""
    if crisis.is_restricted:
        record_crisis_event(
            AuditAction.CRISIS_VIEWED, crisis=crisis, actor=actor, data={"channel": channel}
        )
