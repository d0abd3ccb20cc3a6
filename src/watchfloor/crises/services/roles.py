"""Crisis roles: who holds each, handing over and releasing a role."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from watchfloor.audit.events import AuditAction
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.roles import Role, can_work_escalations
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises import permissions
from watchfloor.crises.models import (
    LIAISON_TEAMS,
    Crisis,
    RoleAssignment,
    RoleKind,
)
from watchfloor.crises.permissions import may_command_crisis
from watchfloor.crises.services.common import (
    REASON_MAX,
    count_access_change,
    lock_crisis,
    record_crisis_event,
    refuse_if_closed,
    require_access_version,
)
from watchfloor.people.models import User

# ---------------------------------------------------------------- role holders


def check_holder(crisis: Crisis, role: str, user: User) -> None:
    """Whether ``user`` may hold ``role`` in ``crisis``; raises with what is wrong."""
    if not user.is_active:
        raise InvalidInput(f"{user.username} is not an active account", field="holder")
    team_code = LIAISON_TEAMS.get(role)
    if user.role == Role.VIEWER:
        raise InvalidInput(f"{user.username} is a viewer and cannot hold a role", field="holder")
    if user.role == Role.PARTNER:
        if team_code is None:
            raise InvalidInput(
                f"{user.username} is a partner-team member; partners hold liaison roles only",
                field="holder",
            )
        if user.team is None or user.team.code != team_code:
            raise InvalidInput(
                f"{RoleKind(role).label}: {user.username} is not in the "
                f"{team_code.replace('_', ' ')} team",
                field="holder",
            )
    elif not can_work_escalations(user):
        raise InvalidInput(f"{user.username} cannot hold a crisis role", field="holder")
    if not permissions.may_see(user, crisis):
        if crisis.is_restricted:
            raise InvalidInput(
                f"{user.username} is not on this restricted crisis's access list; add them first",
                field="holder",
            )
        raise InvalidInput(
            f"{user.username} cannot see {crisis.reference} (a partner sees a crisis only when "
            "one of its escalations is shared with their team)",
            field="holder",
        )


def _scope(crisis: Crisis, role: str, market: str) -> str:
    if role not in RoleKind.values:
        raise InvalidInput(
            f"unknown role '{role}'; use one of {', '.join(RoleKind.values)}", field="role"
        )
    market = (market or "").strip().upper()
    if role == RoleKind.REGIONAL_LEAD:
        if not market:
            raise InvalidInput("say which market the regional lead covers", field="market")
        if not crisis.markets.filter(code=market).exists():
            raise InvalidInput(
                f"{market} is not one of {crisis.reference}'s markets; add it to the crisis first",
                field="market",
            )
        return market
    if market:
        raise InvalidInput(f"only regional leads cover a market, not a {role}", field="market")
    return ""


def hand_over(
    *, crisis: Crisis, role: str, market: str, to_user: User, actor: User, note: str
) -> RoleAssignment:
    """End the current holding of the role (if any) and start ``to_user``'s. No checks of
    the actor: the callers have made them."""
    now = clock.now()
    current = (
        RoleAssignment.objects.select_for_update()
        .filter(crisis=crisis, role=role, market_code=market, ended_at__isnull=True)
        .select_related("holder")
        .first()
    )
    if current is not None and current.holder_id == to_user.pk:
        raise Conflict(f"{to_user.display_name} already holds {current.role_label}", field="holder")
    if current is not None:
        current.ended_at, current.ended_by = now, actor
        current.save(update_fields=["ended_at", "ended_by"])
    count_access_change(crisis)
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                crisis=crisis,
                role=role,
                market_code=market,
                holder=to_user,
                started_at=now,
                started_by=actor,
                note=note,
            )
    except IntegrityError as exc:  # a simultaneous handover of the same role won the race
        raise Conflict("someone else handed this role over just now; reload", field="role") from exc
    record_crisis_event(
        AuditAction.CRISIS_ROLE_ASSIGNED,
        crisis=crisis,
        actor=actor,
        target=assignment,
        data={
            "role": role,
            "role_label": assignment.role_label,
            "market": market,
            "from": current.holder.username if current else None,
            "to": to_user.username,
            "note": note,
        },
    )
    return assignment


def _holders(crisis: Crisis) -> str:
    """Who holds which role now, for a refusal that says what changed."""
    held = (
        RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True)
        .select_related("holder")
        .order_by("role", "market_code")
    )
    return "; ".join(f"{a.role_label}: {a.holder.username}" for a in held) or "no role is held"


# ---------------------------------------------------------------- roles


@transaction.atomic
def hand_over_role(
    *,
    crisis: Crisis,
    role: str,
    to_user: User | None,
    actor: User,
    note: str = "",
    market: str = "",
    expected_version: int | None = None,
) -> RoleAssignment:
    """Give ``role`` to ``to_user``: an assignment when it is open, a handover when it is
    held. Handing over command needs a successor: the commander is never empty while the
    crisis is active. ``expected_version``: the crisis's ``access_version`` as the page or
    API client read it (always sent by them; None for drills and demo data): a handover
    decided on a stale view of the roles is refused."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may hand roles over",
    )
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its roles are kept as they were")
    require_access_version(
        crisis, expected_version=expected_version, what="who holds the roles", now=_holders(crisis)
    )
    market = _scope(crisis, role, market)
    note = _text(note, field="note", max_length=REASON_MAX, required=False)
    if to_user is None:
        if role == RoleKind.INCIDENT_COMMANDER:
            raise InvalidInput(
                "handing over command needs a successor: name the new incident commander",
                field="holder",
            )
        raise InvalidInput(
            f"name who takes the {RoleKind(role).label.lower()} role", field="holder"
        )
    check_holder(crisis, role, to_user)
    assignment = hand_over(
        crisis=crisis, role=role, market=market, to_user=to_user, actor=actor, note=note
    )
    crisis.updated_at = assignment.started_at
    crisis.save(update_fields=["updated_at"])
    return assignment


@transaction.atomic
def release_role(
    *,
    crisis: Crisis,
    role: str,
    actor: User,
    note: str = "",
    market: str = "",
    expected_version: int | None = None,
) -> RoleAssignment:
    """Leave a role open. Never the incident commander's. ``expected_version`` as for
    :func:`hand_over_role`."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may change roles",
    )
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its roles are kept as they were")
    require_access_version(
        crisis, expected_version=expected_version, what="who holds the roles", now=_holders(crisis)
    )
    market = _scope(crisis, role, market)
    if role == RoleKind.INCIDENT_COMMANDER:
        raise Conflict(
            "the incident commander cannot be left empty while the crisis is active; "
            "hand command over to a successor instead",
            field="role",
        )
    note = _text(note, field="note", max_length=REASON_MAX, required=False)
    current = (
        RoleAssignment.objects.select_for_update()
        .filter(crisis=crisis, role=role, market_code=market, ended_at__isnull=True)
        .select_related("holder")
        .first()
    )
    if current is None:
        label = RoleKind(role).label + (f" ({market})" if market else "")
        raise Conflict(f"nobody holds {label}", field="role")
    now = clock.now()
    current.ended_at, current.ended_by = now, actor
    current.save(update_fields=["ended_at", "ended_by"])
    count_access_change(crisis)
    record_crisis_event(
        AuditAction.CRISIS_ROLE_RELEASED,
        crisis=crisis,
        actor=actor,
        target=current,
        data={
            "role": role,
            "role_label": current.role_label,
            "market": market,
            "from": current.holder.username,
            "note": note,
        },
    )
    return current
