"""What the crisis actions share: limits, the audit record, locking, and the checks every
action makes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import F

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.versions import require_current_version
from watchfloor.crises import selectors
from watchfloor.crises.cadence import sitrep_due_at
from watchfloor.crises.config import CrisisConfig
from watchfloor.crises.models import (
    Crisis,
    Level,
)
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.notify.services import notify_escalation_event
from watchfloor.people.models import User

if TYPE_CHECKING:
    from watchfloor.audit.models import AuditEvent


TITLE_MAX = 200
SUMMARY_MAX = 20_000
NOTE_MAX = 20_000
REASON_MAX = 5_000
SUBJECT_MAX = 500
SITREP_MAX = 50_000
REFERENCE_IN_TEXT = re.compile(r"\bWF-(\d+)\b")


# ---------------------------------------------------------------- helpers


def active_users_named(usernames: Iterable[str], *, field: str) -> list[User]:
    """The active accounts named, in order; the first unknown name is refused at its index."""
    users = []
    for index, username in enumerate(usernames):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise InvalidInput(f"no user named '{username}'", field=f"{field}[{index}]")
        users.append(user)
    return users


def record_crisis_event(
    action: AuditAction,
    *,
    crisis: Crisis,
    actor: User | None,
    target: Any = None,
    data: dict[str, Any] | None = None,
    escalation: Escalation | int | None = None,
) -> AuditEvent:
    """Write one crisis event: the crisis's id and reference in its data always; the
    escalation's id only while the crisis is unrestricted (see the module docstring)."""
    escalation_id = escalation.pk if isinstance(escalation, Escalation) else escalation
    return record_event(
        action=action,
        actor=actor,
        target=target if target is not None else crisis,
        escalation_id=escalation_id if not crisis.is_restricted else None,
        data={"crisis_id": crisis.pk, "crisis": crisis.reference, **(data or {})},
    )


def lock_crisis(crisis: Crisis) -> Crisis:
    """The crisis read again under a row lock, for the rest of the transaction."""
    return Crisis.objects.select_for_update().get(pk=crisis.pk)


def require_access_version(
    crisis: Crisis, *, expected_version: int | None, what: str, now: str = ""
) -> None:
    """Refuse an edit of the crisis's access or roles read at another ``access_version``
    (``crisis`` is the locked row)."""
    require_current_version(
        expected=expected_version,
        current=crisis.access_version,
        what=f"{what} of {crisis.reference}",
        now=now,
    )


def count_access_change(crisis: Crisis) -> None:
    """Who may see the crisis or hold its roles changed: forms read before are now stale."""
    crisis.access_version += 1
    Crisis.objects.filter(pk=crisis.pk).update(access_version=F("access_version") + 1)


def refuse_if_closed(crisis: Crisis, what: str) -> None:
    """A closed crisis takes no more changes; ``what`` says which one was refused."""
    if crisis.level == Level.CLOSED:
        raise Conflict(f"{crisis.reference} is closed; {what}", field="crisis")


def refresh_sitrep_due(crisis: Crisis, config: CrisisConfig) -> None:
    """Keep the crisis's next-sitrep time equal to what the cadence says."""
    crisis.next_sitrep_due_at = sitrep_due_at(
        settings=config.settings,
        level=crisis.level,
        declared_at=crisis.declared_at,
        level_changed_at=crisis.level_changed_at,
        last_sent_at=selectors.last_sitrep_sent_at(crisis, config.settings.cadence_audiences),
    )


def escalations_actor_sees(actor: User, escalations: Iterable[Escalation]) -> list[Escalation]:
    """The escalations, checked again against the actor's need to know."""
    wanted = list(dict.fromkeys(escalations))
    seen = set(
        escalations_visible_to(actor)
        .filter(pk__in=[e.pk for e in wanted])
        .values_list("pk", flat=True)
    )
    for escalation in wanted:
        if escalation.pk not in seen:
            raise NotFound(
                f"no escalation WF-{escalation.pk} that you can see", field="escalations"
            )
    return wanted


def notify_declared(*, crisis: Crisis, actor: User) -> None:
    """Page the people of the escalation a crisis is declared from.

    The notification engine speaks of escalation events; until it knows crises, a
    declaration starts the origin escalation's escalation policy again as a new matter
    (a policy already running carries on). Called inside the declaring transaction, as
    the escalation services call it: deliveries leave only once it commits. A crisis
    declared from scratch pages nobody yet. A drill pages nobody: it rehearses the
    response without reaching anyone (see ``watchfloor.drills``).
    """
    if crisis.is_drill or (crisis.declared_from is not None and crisis.declared_from.is_drill):
        return
    if crisis.declared_from is not None:
        notify_escalation_event(escalation=crisis.declared_from, event="created", actor=actor)
