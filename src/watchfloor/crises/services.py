"""Every change to a crisis is one named action here: checked, written and audited in one
transaction. Views find the crisis with ``selectors.access_crisis`` first (and any
escalation with ``access_escalation``), then call these.

Each audit event carries the crisis's id in its data (``crisis_id``). The declaration,
level changes and links also carry the escalation they concern (``escalation_id``), so
they read on that escalation's timeline too — only while the crisis is unrestricted, so
a restricted crisis never shows on the timeline of an escalation others may see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from watchfloor.core.roles import Role, can_work_escalations, is_admin
from watchfloor.core.validation import clean_language_tags
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises import selectors
from watchfloor.crises.cadence import sitrep_due_at
from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.handoffs import build_packet
from watchfloor.crises.models import (
    ACTION_ITEM_TRANSITIONS,
    DECLARABLE_LEVELS,
    LEVEL_TRANSITIONS,
    LIAISON_TEAMS,
    WHYS_MAX,
    ActionItem,
    Crisis,
    CrisisEscalation,
    CrisisNote,
    Handoff,
    Level,
    Review,
    RoleAssignment,
    RoleKind,
    RootCause,
    Sitrep,
    SitrepSection,
)
from watchfloor.crises.permissions import may_add_crisis_notes, may_command_crisis, may_work_crisis
from watchfloor.crises.shifts import HandoffTime
from watchfloor.escalations.models import Escalation
from watchfloor.escalations.selectors import escalations_visible_to
from watchfloor.markets.selectors import markets_by_code
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
_REFERENCE_IN_TEXT = re.compile(r"\bWF-(\d+)\b")


# ---------------------------------------------------------------- helpers


def _users(usernames: Iterable[str], *, field: str) -> list[User]:
    users = []
    for index, username in enumerate(usernames):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise InvalidInput(f"no user named '{username}'", field=f"{field}[{index}]")
        users.append(user)
    return users


def _record(
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


def _lock(crisis: Crisis) -> Crisis:
    return Crisis.objects.select_for_update().get(pk=crisis.pk)


def _refuse_if_closed(crisis: Crisis, what: str) -> None:
    if crisis.level == Level.CLOSED:
        raise Conflict(f"{crisis.reference} is closed; {what}", field="crisis")


def _refresh_sitrep_due(crisis: Crisis, config: CrisisConfig) -> None:
    """Keep the crisis's next-sitrep time equal to what the cadence says."""
    crisis.next_sitrep_due_at = sitrep_due_at(
        settings=config.settings,
        level=crisis.level,
        declared_at=crisis.declared_at,
        level_changed_at=crisis.level_changed_at,
        last_sent_at=selectors.last_sitrep_sent_at(crisis, config.settings.cadence_audiences),
    )


def _visible_escalations(actor: User, escalations: Iterable[Escalation]) -> list[Escalation]:
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


def _notify_declared(*, crisis: Crisis, actor: User) -> None:
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


# ---------------------------------------------------------------- role holders


def _check_holder(crisis: Crisis, role: str, user: User) -> None:
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
    if not selectors.may_see(user, crisis):
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


def _hand_over(
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
    _record(
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


# ---------------------------------------------------------------- declare


@transaction.atomic
def declare_crisis(
    *,
    actor: User,
    title: str,
    level: str = Level.INCIDENT,
    summary: str = "",
    markets: list[str] | None = None,
    languages: list[str] | None = None,
    commander: User | None = None,
    declared_from: Escalation | None = None,
    escalations: list[Escalation] | None = None,
    reason: str = "",
    is_restricted: bool = False,
    access_usernames: list[str] | None = None,
) -> Crisis:
    """Declare a crisis, from an escalation or from scratch.

    The commander defaults to the declarer: a crisis is never without one. Declaring from
    an escalation links it and, when no markets or languages are given, takes its own.
    """
    _require(may_work_crisis(actor), "your role cannot declare a crisis")
    config = crisis_config()
    if level not in DECLARABLE_LEVELS:
        raise InvalidInput(
            f"a crisis is declared at {', '.join(Level(v).label for v in DECLARABLE_LEVELS)}; "
            f"not '{level}'",
            field="level",
        )
    title = _text(title, field="title", max_length=TITLE_MAX, required=True)
    summary = _text(summary, field="summary", max_length=SUMMARY_MAX, required=False)
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=False)
    linked = _visible_escalations(
        actor, [*([declared_from] if declared_from else []), *(escalations or [])]
    )
    market_rows = markets_by_code(markets or [])
    language_tags = clean_language_tags(languages or [])
    if declared_from is not None:
        if not market_rows:
            market_rows = list(declared_from.markets.all())
        if not language_tags:
            language_tags = list(declared_from.languages or [])
    access_users = _users(access_usernames or [], field="access_list")
    commander = commander or actor

    now = clock.now()
    crisis = Crisis.objects.create(
        title=title,
        summary=summary,
        level=level,
        is_active=True,
        level_changed_at=now,
        languages=language_tags,
        declared_at=now,
        declared_by=actor,
        declared_from=declared_from,
        is_restricted=is_restricted,
        updated_at=now,
    )
    crisis.markets.set(market_rows)
    if is_restricted:
        # Whoever declares a restricted crisis, and its commander, keep access to it.
        crisis.access_list.set({actor, commander, *access_users})
    elif access_users:
        crisis.access_list.set(access_users)
    CrisisEscalation.objects.bulk_create(
        CrisisEscalation(
            crisis=crisis,
            escalation=escalation,
            is_origin=escalation == declared_from,
            linked_at=now,
            linked_by=actor,
            reason="declared from it" if escalation == declared_from else "linked at declaration",
        )
        for escalation in linked
    )
    _refresh_sitrep_due(crisis, config)
    crisis.save(update_fields=["next_sitrep_due_at"])
    _record(
        AuditAction.CRISIS_DECLARED,
        crisis=crisis,
        actor=actor,
        escalation=declared_from,
        data={
            "title": title,
            "level": level,
            "reason": reason,
            "markets": [m.code for m in market_rows],
            "languages": language_tags,
            "declared_from": declared_from.reference if declared_from else None,
            "escalations": [e.reference for e in linked],
            "restricted": is_restricted,
            "commander": commander.username,
            "next_sitrep_due_at": crisis.next_sitrep_due_at,
        },
    )
    for escalation in linked:
        if escalation != declared_from:
            _record(
                AuditAction.CRISIS_ESCALATION_LINKED,
                crisis=crisis,
                actor=actor,
                escalation=escalation,
                data={
                    "escalation_id": escalation.pk,
                    "escalation": escalation.reference,
                    "reason": "linked at declaration",
                },
            )
    _check_holder(crisis, RoleKind.INCIDENT_COMMANDER, commander)
    _hand_over(
        crisis=crisis,
        role=RoleKind.INCIDENT_COMMANDER,
        market="",
        to_user=commander,
        actor=actor,
        note="commander at declaration",
    )
    _notify_declared(crisis=crisis, actor=actor)
    return crisis


@transaction.atomic
def update_crisis(
    *,
    crisis: Crisis,
    actor: User,
    title: str,
    summary: str,
    markets: list[str],
    languages: list[str],
) -> Crisis:
    _require(
        may_command_crisis(actor, crisis),
        "only the commander, the deputy or a lead may change this",
    )
    crisis = _lock(crisis)
    _refuse_if_closed(crisis, "its details are kept as they were")
    title = _text(title, field="title", max_length=TITLE_MAX, required=True)
    summary = _text(summary, field="summary", max_length=SUMMARY_MAX, required=False)
    market_rows = markets_by_code(markets)
    language_tags = clean_language_tags(languages)
    covered = set(
        RoleAssignment.objects.filter(
            crisis=crisis, role=RoleKind.REGIONAL_LEAD, ended_at__isnull=True
        ).values_list("market_code", flat=True)
    )
    dropped = covered - {m.code for m in market_rows}
    if dropped:
        raise Conflict(
            f"{', '.join(sorted(dropped))} still has a regional lead; leave that role open first",
            field="markets",
        )
    before = {
        "title": crisis.title,
        "summary": crisis.summary,
        "markets": sorted(crisis.markets.values_list("code", flat=True)),
        "languages": crisis.languages,
    }
    crisis.title, crisis.summary, crisis.languages = title, summary, language_tags
    crisis.updated_at = clock.now()
    crisis.save(update_fields=["title", "summary", "languages", "updated_at"])
    crisis.markets.set(market_rows)
    after = {
        "title": title,
        "summary": summary,
        "markets": sorted(m.code for m in market_rows),
        "languages": language_tags,
    }
    _record(
        AuditAction.CRISIS_UPDATED,
        crisis=crisis,
        actor=actor,
        data={
            "before": {k: v for k, v in before.items() if v != after[k]},
            "after": {k: v for k, v in after.items() if v != before[k]},
        },
    )
    return crisis


# ---------------------------------------------------------------- level


@transaction.atomic
def change_level(
    *,
    crisis: Crisis,
    to_level: str,
    actor: User,
    reason: str = "",
    confirmed_criteria: Iterable[str] = (),
) -> Crisis:
    """Move the crisis along the level table, with the guards beside it.

    Every change records its reason. Standing down checks the stand-down criteria: the
    ones worked out from the record, and the ones a person confirms (``confirmed_criteria``
    lists their codes); with any unmet, the reason must say why it stands down anyway,
    and the event records which ones were unmet.
    """
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may change the level",
    )
    config = crisis_config()
    crisis = _lock(crisis)
    if to_level not in Level.values:
        raise InvalidInput(
            f"unknown level '{to_level}'; use one of {', '.join(Level.values)}", field="to_level"
        )
    current = crisis.level
    if current == Level.CLOSED:
        raise Conflict(
            f"{crisis.reference} is closed, and a closed crisis stays closed; declare a new "
            "crisis if it flares up again",
            field="to_level",
        )
    if to_level == current:
        raise Conflict(f"{crisis.reference} is already at {Level(current).label}", field="to_level")
    if to_level not in LEVEL_TRANSITIONS[current]:
        allowed = ", ".join(Level(v).label for v in Level.values if v in LEVEL_TRANSITIONS[current])
        hint = " (stand it down first)" if to_level == Level.CLOSED else ""
        raise Conflict(
            f"cannot move from {Level(current).label} to {Level(to_level).label}{hint}; "
            f"from {Level(current).label} it can go to: {allowed}",
            field="to_level",
        )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=False)
    now = clock.now()
    criteria_record: list[dict[str, Any]] = []
    unmet: list[str] = []
    if to_level == Level.STAND_DOWN:
        confirmed = set(confirmed_criteria)
        # From what the actor may see, as the war room showed it to them: a case hidden
        # from them neither holds them up nor is named in the record of their decision.
        results = selectors.stand_down_criteria(crisis=crisis, viewer=actor, now=now, config=config)
        known = {r.criterion.code for r in results}
        for code in sorted(confirmed - known):
            raise InvalidInput(f"unknown stand-down criterion '{code}'", field="confirmed_criteria")
        for result in results:
            met = result.criterion.code in confirmed if result.met is None else result.met
            criteria_record.append(
                {
                    "code": result.criterion.code,
                    "label": result.criterion.label,
                    "met": met,
                    "how": "confirmed" if result.met is None else "from the record",
                    # Escalation by escalation, so each reader is shown only what holds
                    # it up among the escalations they may see (crises.timeline).
                    "blockers": [
                        {"escalation_id": pk, "text": text} for pk, text in result.blockers
                    ],
                }
            )
            if not met:
                unmet.append(result.criterion.label)
        if unmet and not reason:
            raise InvalidInput(
                "the stand-down criteria are not all met ("
                + "; ".join(unmet)
                + "); give the reason to stand down anyway",
                field="reason",
            )
        reason = reason or "all stand-down criteria met"
    elif not reason:
        raise InvalidInput(
            f"say why {crisis.reference} moves to {Level(to_level).label}", field="reason"
        )

    crisis.level = to_level
    crisis.is_active = to_level != Level.CLOSED
    crisis.level_changed_at = now
    if to_level == Level.STAND_DOWN:
        crisis.stood_down_at = now
    elif to_level != Level.CLOSED:
        crisis.stood_down_at = None
    crisis.closed_at = now if to_level == Level.CLOSED else None
    crisis.updated_at = now
    _refresh_sitrep_due(crisis, config)
    crisis.save(
        update_fields=[
            "level",
            "is_active",
            "level_changed_at",
            "stood_down_at",
            "closed_at",
            "updated_at",
            "next_sitrep_due_at",
        ]
    )
    if to_level == Level.STAND_DOWN:
        # The post-incident review opens at the first stand-down, pre-filled from the record.
        Review.objects.get_or_create(crisis=crisis, defaults={"started_at": now, "updated_at": now})
    _record(
        AuditAction.CRISIS_LEVEL_CHANGED,
        crisis=crisis,
        actor=actor,
        escalation=crisis.declared_from_id,
        data={
            "from": current,
            "to": to_level,
            "reason": reason,
            "criteria": criteria_record,
            "unmet": unmet,
            "next_sitrep_due_at": crisis.next_sitrep_due_at,
        },
    )
    return crisis


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
) -> RoleAssignment:
    """Give ``role`` to ``to_user``: an assignment when it is open, a handover when it is
    held. Handing over command needs a successor: the commander is never empty while the
    crisis is active."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may hand roles over",
    )
    crisis = _lock(crisis)
    _refuse_if_closed(crisis, "its roles are kept as they were")
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
    _check_holder(crisis, role, to_user)
    assignment = _hand_over(
        crisis=crisis, role=role, market=market, to_user=to_user, actor=actor, note=note
    )
    crisis.updated_at = assignment.started_at
    crisis.save(update_fields=["updated_at"])
    return assignment


@transaction.atomic
def release_role(
    *, crisis: Crisis, role: str, actor: User, note: str = "", market: str = ""
) -> RoleAssignment:
    """Leave a role open. Never the incident commander's."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may change roles",
    )
    crisis = _lock(crisis)
    _refuse_if_closed(crisis, "its roles are kept as they were")
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
    _record(
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


# ---------------------------------------------------------------- notes and facts


@transaction.atomic
def add_crisis_note(
    *,
    crisis: Crisis,
    body: str,
    actor: User,
    kind: str = CrisisNote.Kind.NOTE,
    pinned: bool = False,
) -> CrisisNote:
    """A note, or a decision of the war room, on the live timeline; pinned, a key fact."""
    _require(may_add_crisis_notes(actor), "your role cannot add to the war room")
    if kind not in CrisisNote.Kind.values:
        raise InvalidInput(
            f"unknown kind '{kind}'; use one of {', '.join(CrisisNote.Kind.values)}", field="kind"
        )
    if (kind == CrisisNote.Kind.DECISION or pinned) and not may_work_crisis(actor):
        raise PermissionDenied("only site policy records war-room decisions and key facts")
    _refuse_if_closed(crisis, "add to its post-incident review instead")
    body = _text(body, field="body", max_length=NOTE_MAX, required=True)
    now = clock.now()
    note = CrisisNote.objects.create(
        crisis=crisis,
        kind=kind,
        author=actor,
        body=body,
        created_at=now,
        is_pinned=pinned,
        pinned_at=now if pinned else None,
        pinned_by=actor if pinned else None,
    )
    Crisis.objects.filter(pk=crisis.pk).update(updated_at=now)
    _record(
        AuditAction.CRISIS_NOTE_ADDED,
        crisis=crisis,
        actor=actor,
        target=note,
        data={"note_id": note.pk, "kind": kind, "body": body, "pinned": pinned},
    )
    return note


@transaction.atomic
def set_fact_pinned(*, note: CrisisNote, pinned: bool, actor: User) -> CrisisNote:
    """Pin an entry as a key fact (it heads the war room and the sitreps), or unpin it."""
    _require(may_work_crisis(actor), "your role cannot pin key facts")
    note = CrisisNote.objects.select_for_update().select_related("crisis").get(pk=note.pk)
    crisis = note.crisis
    _refuse_if_closed(crisis, "its key facts are kept as they were")
    if note.is_pinned == pinned:
        raise Conflict(
            "this entry is already pinned" if pinned else "this entry is not pinned", field="note"
        )
    now = clock.now()
    note.is_pinned = pinned
    note.pinned_at, note.pinned_by = (now, actor) if pinned else (None, None)
    note.save(update_fields=["is_pinned", "pinned_at", "pinned_by"])
    _record(
        AuditAction.CRISIS_FACT_PINNED if pinned else AuditAction.CRISIS_FACT_UNPINNED,
        crisis=crisis,
        actor=actor,
        target=note,
        data={"note_id": note.pk, "body": note.body},
    )
    return note


# ---------------------------------------------------------------- escalations


@transaction.atomic
def link_escalation(
    *, crisis: Crisis, escalation: Escalation, actor: User, reason: str = ""
) -> CrisisEscalation:
    _require(may_work_crisis(actor), "your role cannot link escalations to a crisis")
    _refuse_if_closed(crisis, "link the escalation to a new crisis instead")
    _visible_escalations(actor, [escalation])
    reason = _text(reason, field="reason", max_length=500, required=False)
    if CrisisEscalation.objects.filter(crisis=crisis, escalation=escalation).exists():
        raise Conflict(
            f"{escalation.reference} is already part of {crisis.reference}", field="escalation"
        )
    link = CrisisEscalation.objects.create(
        crisis=crisis, escalation=escalation, reason=reason, linked_at=clock.now(), linked_by=actor
    )
    _record(
        AuditAction.CRISIS_ESCALATION_LINKED,
        crisis=crisis,
        actor=actor,
        target=link,
        escalation=escalation,
        data={"escalation_id": escalation.pk, "escalation": escalation.reference, "reason": reason},
    )
    return link


@transaction.atomic
def unlink_escalation(*, crisis: Crisis, escalation: Escalation, actor: User, reason: str) -> None:
    _require(may_work_crisis(actor), "your role cannot unlink escalations from a crisis")
    _refuse_if_closed(crisis, "its escalations are kept as they were")
    reason = _text(reason, field="reason", max_length=500, required=True)
    link = CrisisEscalation.objects.filter(crisis=crisis, escalation=escalation).first()
    if link is None:
        raise NotFound(
            f"{escalation.reference} is not part of {crisis.reference}", field="escalation"
        )
    if link.is_origin:
        raise Conflict(
            f"{crisis.reference} was declared from {escalation.reference}; it stays linked",
            field="escalation",
        )
    link.delete()
    _record(
        AuditAction.CRISIS_ESCALATION_UNLINKED,
        crisis=crisis,
        actor=actor,
        escalation=escalation,
        data={"escalation_id": escalation.pk, "escalation": escalation.reference, "reason": reason},
    )


# ---------------------------------------------------------------- need to know


@transaction.atomic
def set_crisis_access(
    *, crisis: Crisis, actor: User, is_restricted: bool, access_usernames: list[str]
) -> Crisis:
    """Restrict a crisis to its access list (the actor and the current role holders always
    stay on it, so nobody loses sight of a crisis they are running), or open it."""
    _require(
        may_command_crisis(actor, crisis),
        "only the incident commander, the deputy, a lead or an admin may change who can see this",
    )
    crisis = _lock(crisis)
    users = _users(access_usernames, field="access_list")
    if is_restricted:
        holders = User.objects.filter(
            pk__in=RoleAssignment.objects.filter(crisis=crisis, ended_at__isnull=True).values(
                "holder_id"
            )
        )
        users = list(dict.fromkeys([*users, actor, *holders]))
    before = {
        "restricted": crisis.is_restricted,
        "access_list": sorted(crisis.access_list.values_list("username", flat=True)),
    }
    crisis.is_restricted = is_restricted
    crisis.updated_at = clock.now()
    crisis.save(update_fields=["is_restricted", "updated_at"])
    crisis.access_list.set(users)
    _record(
        AuditAction.CRISIS_ACCESS_CHANGED,
        crisis=crisis,
        actor=actor,
        data={
            "before": before,
            "after": {
                "restricted": is_restricted,
                "access_list": sorted(u.username for u in users),
            },
        },
    )
    return crisis


@transaction.atomic
def record_restricted_view(*, crisis: Crisis, actor: User, channel: str) -> None:
    """Each look at a restricted crisis is logged, as for restricted escalations."""
    if crisis.is_restricted:
        _record(AuditAction.CRISIS_VIEWED, crisis=crisis, actor=actor, data={"channel": channel})


# ---------------------------------------------------------------- sitreps


SECTIONS_MAX = 200
# A title shorter than this is too plain a phrase to tell a case by.
_TITLE_MATCH_MIN = 8


def _restricted_named(*, crisis: Crisis, actor: User, texts: Iterable[str]) -> list[Escalation]:
    """The restricted escalations the actor may see that could be named in ``texts``:
    those linked to the crisis, and any other one referred to by its reference. Only what
    the actor may see, so a refusal never tells them of a case they cannot see."""
    references = {int(pk) for text in texts for pk in _REFERENCE_IN_TEXT.findall(text)}
    return list(
        escalations_visible_to(actor)
        .filter(is_restricted=True)
        .filter(Q(pk__in=references) | Q(crisis_links__crisis=crisis))
        .distinct()
        .only("pk", "title", "is_restricted")
    )


def _names(text: str, escalation: Escalation) -> bool:
    if re.search(rf"\bWF-{escalation.pk}\b", text):
        return True
    title = " ".join(escalation.title.split()).casefold()
    return len(title) >= _TITLE_MATCH_MIN and title in " ".join(text.split()).casefold()


def _refuse_restricted_in_shared_text(
    *, texts: dict[str, str], restricted: list[Escalation], allowed: int | None = None
) -> None:
    """Every reader of a sitrep reads its shared text (and every reader of a section reads
    that section): a restricted case named there would reach people off its access list."""
    for field_name, text in texts.items():
        for escalation in restricted:
            if escalation.pk != allowed and _names(text, escalation):
                where = "the shared text" if allowed is None else "this section"
                raise InvalidInput(
                    f"{where} names {escalation.reference}, a restricted escalation: readers "
                    "outside its access list would read it; put what concerns it in its "
                    "own section",
                    field=field_name,
                )


@transaction.atomic
def send_sitrep(
    *,
    crisis: Crisis,
    audience: str,
    language: str,
    subject: str,
    body: str,
    actor: User,
    sections: Iterable[tuple[int, str]] = (),
) -> Sitrep:
    """Record a sitrep as sent to ``audience``, exactly as written, with the next number
    for that audience. Sending the sitrep of record (the audience that keeps the cadence)
    sets when the next one is due. Recording only: delivery is the notification engine's.

    ``sections``: (escalation id, text) for what concerns one escalation linked to the
    crisis, kept apart and shown only to readers who may see that escalation (see
    ``crises.drafting``); an empty one is left out. The shared text (subject and body) may
    not name a restricted escalation, and a section no restricted escalation but its own:
    readers outside an access list would read it.
    """
    _require(may_work_crisis(actor), "your role cannot send sitreps")
    config = crisis_config()
    crisis = _lock(crisis)
    _refuse_if_closed(crisis, "it sends no more sitreps")
    audience_spec = config.settings.audience(audience)
    if audience_spec is None:
        raise InvalidInput(
            f"unknown audience '{audience}'; use one of "
            + ", ".join(a.code for a in config.settings.sitreps.audiences),
            field="audience",
        )
    template = config.template(audience)
    if language not in template.spec.bodies:
        raise InvalidInput(
            f"the {audience_spec.name} sitrep is written in "
            + ", ".join(template.spec.bodies)
            + f", not '{language}'",
            field="language",
        )
    subject = _text(subject, field="subject", max_length=SUBJECT_MAX, required=True)
    body = _text(body, field="body", max_length=SITREP_MAX, required=True)
    kept = _sitrep_sections(
        crisis=crisis, actor=actor, sections=sections, public=audience_spec.detail == "public"
    )
    restricted = _restricted_named(
        crisis=crisis, actor=actor, texts=[subject, body, *(text for _, text in kept)]
    )
    _refuse_restricted_in_shared_text(
        texts={"subject": subject, "body": body}, restricted=restricted
    )
    for index, (escalation, text) in enumerate(kept):
        _refuse_restricted_in_shared_text(
            texts={f"sections[{index}].body": text},
            restricted=restricted,
            allowed=escalation.pk,
        )
    previous = Sitrep.objects.filter(crisis=crisis, audience=audience).order_by("-number").first()
    keeps_cadence = audience_spec.keeps_cadence
    now = clock.now()
    sitrep = Sitrep.objects.create(
        crisis=crisis,
        audience=audience,
        number=(previous.number + 1) if previous else 1,
        language=language,
        subject=subject,
        body=body,
        level=crisis.level,
        covers_from=previous.sent_at if previous else crisis.declared_at,
        sent_at=now,
        sent_by=actor,
        was_due_at=crisis.next_sitrep_due_at if keeps_cadence else None,
        template_code=template.spec.code,
        template_digest=template.digest,
    )
    SitrepSection.objects.bulk_create(
        SitrepSection(sitrep=sitrep, position=position, escalation=escalation, body=text)
        for position, (escalation, text) in enumerate(kept)
    )
    if keeps_cadence:
        _refresh_sitrep_due(crisis, config)
    crisis.updated_at = now
    crisis.save(update_fields=["next_sitrep_due_at", "updated_at"])
    _record(
        AuditAction.CRISIS_SITREP_SENT,
        crisis=crisis,
        actor=actor,
        target=sitrep,
        data={
            "sitrep_id": sitrep.pk,
            "audience": audience,
            "audience_name": audience_spec.name,
            "detail": audience_spec.detail,
            "number": sitrep.number,
            "language": language,
            "subject": subject,
            "body": body,
            # Each read only by those who may see its escalation (crises.timeline).
            "sections": [
                {"escalation_id": escalation.pk, "escalation": escalation.reference, "body": text}
                for escalation, text in kept
            ],
            "was_due_at": sitrep.was_due_at,
            "late": sitrep.is_late,
            "next_sitrep_due_at": crisis.next_sitrep_due_at,
            "template_digest": template.digest[:12],
        },
    )
    return sitrep


def _sitrep_sections(
    *, crisis: Crisis, actor: User, sections: Iterable[tuple[int, str]], public: bool
) -> list[tuple[Escalation, str]]:
    """The sections to keep, checked: each about an escalation linked to the crisis that the
    actor may see, at most one each; empty ones dropped. A public sitrep has none."""
    wanted = list(sections)
    if len(wanted) > SECTIONS_MAX:
        raise InvalidInput(
            f"a sitrep has at most {SECTIONS_MAX} sections, not {len(wanted)}", field="sections"
        )
    linked = {
        escalation.pk: escalation
        for escalation in escalations_visible_to(actor).filter(
            pk__in=[pk for pk, _ in wanted], crisis_links__crisis=crisis
        )
    }
    kept: list[tuple[Escalation, str]] = []
    for index, (pk, text) in enumerate(wanted):
        text = _text(text, field=f"sections[{index}].body", max_length=SITREP_MAX, required=False)
        if not text:
            continue
        if public:
            raise InvalidInput(
                "a public sitrep says nothing about individual cases: it has no sections",
                field=f"sections[{index}]",
            )
        escalation = linked.get(pk)
        if escalation is None:
            raise InvalidInput(
                f"no escalation WF-{pk} that you can see in {crisis.reference}",
                field=f"sections[{index}].escalation",
            )
        if any(kept_escalation.pk == pk for kept_escalation, _ in kept):
            raise InvalidInput(
                f"{escalation.reference} has two sections; make them one",
                field=f"sections[{index}].escalation",
            )
        kept.append((escalation, text))
    return kept


# ---------------------------------------------------------------- follow the sun


def next_handoff(crisis: Crisis, now: datetime | None = None) -> HandoffTime | None:
    """When the crisis next changes hands between regions (None when closed). Worked out
    in each region's wall time, from ``core.clock`` unless ``now`` is given."""
    return selectors.next_handoff(crisis, now or clock.now())


@transaction.atomic
def confirm_handoff(
    *,
    crisis: Crisis,
    actor: User,
    incoming_commander: User,
    risks: str = "",
    handoff_at: datetime | None = None,
) -> Handoff:
    """The outgoing commander confirms the packet for the handoff in play and names who
    takes command. ``handoff_at`` (from the form) guards against confirming a handoff that
    has moved on since the page was read."""
    crisis = _lock(crisis)
    _refuse_if_closed(crisis, "it is not handed over any more")
    config = crisis_config()
    outgoing = selectors.commander_of(crisis)
    _require(
        outgoing is not None and (outgoing.pk == actor.pk or is_admin(actor)),
        "only the outgoing incident commander confirms the handoff",
    )
    assert outgoing is not None
    now = clock.now()
    recorded = list(Handoff.objects.filter(crisis=crisis))
    in_play = selectors.handoff_in_play(crisis, now, config=config, recorded=recorded)
    if in_play is None:
        raise Conflict(f"{crisis.reference} is not handed over at its level", field="handoff")
    if handoff_at is not None and handoff_at != in_play.at:
        raise Conflict(
            f"the handoff in play is now {in_play.label} at {in_play.at:%Y-%m-%d %H:%M} UTC; "
            "reload and confirm that one",
            field="handoff",
        )
    if any(h.handoff_at == in_play.at for h in recorded):
        raise Conflict(f"the {in_play.label} handoff is already confirmed", field="handoff")
    _check_holder(crisis, RoleKind.INCIDENT_COMMANDER, incoming_commander)
    risks = _text(risks, field="risks", max_length=NOTE_MAX, required=False)
    packet = build_packet(
        crisis=crisis,
        handoff=in_play,
        viewer=actor,
        now=now,
        config=config,
        outgoing=outgoing,
        incoming=incoming_commander,
        risks=risks,
    )
    handoff = Handoff.objects.create(
        crisis=crisis,
        from_region=in_play.from_region.code,
        to_region=in_play.to_region.code,
        handoff_at=in_play.at,
        packet=packet,
        risks=risks,
        outgoing_commander=outgoing,
        incoming_commander=incoming_commander,
        confirmed_at=now,
    )
    _record(
        AuditAction.CRISIS_HANDOFF_CONFIRMED,
        crisis=crisis,
        actor=actor,
        target=handoff,
        data={
            "handoff_id": handoff.pk,
            "handoff_at": in_play.at,
            "from_region": in_play.from_region.code,
            "to_region": in_play.to_region.code,
            "outgoing": outgoing.username,
            "incoming": incoming_commander.username,
            "risks": risks,
            "deadlines": len(packet.get("deadlines", [])),
            "open_decisions": len(packet.get("open_decisions", [])),
        },
    )
    return handoff


@transaction.atomic
def acknowledge_handoff(*, handoff: Handoff, actor: User, note: str = "") -> Handoff:
    """The incoming commander acknowledges the packet and so takes command."""
    handoff = Handoff.objects.select_for_update().select_related("crisis").get(pk=handoff.pk)
    crisis = _lock(handoff.crisis)
    _require(
        handoff.incoming_commander_id == actor.pk,
        "only the incoming incident commander named in the handoff acknowledges it",
    )
    _refuse_if_closed(crisis, "it is not handed over any more")
    if handoff.status != Handoff.Status.CONFIRMED:
        raise Conflict("this handoff is already acknowledged", field="handoff")
    note = _text(note, field="note", max_length=REASON_MAX, required=False)
    now = clock.now()
    handoff.status = Handoff.Status.ACKNOWLEDGED
    handoff.acknowledged_at = now
    handoff.acknowledgement_note = note
    handoff.save(update_fields=["status", "acknowledged_at", "acknowledgement_note"])
    current = selectors.commander_of(crisis)
    if current is None or current.pk != actor.pk:
        _check_holder(crisis, RoleKind.INCIDENT_COMMANDER, actor)
        _hand_over(
            crisis=crisis,
            role=RoleKind.INCIDENT_COMMANDER,
            market="",
            to_user=actor,
            actor=actor,
            note=f"follow-the-sun handoff {handoff.from_region} → {handoff.to_region}"
            + (f": {note}" if note else ""),
        )
    _record(
        AuditAction.CRISIS_HANDOFF_ACKNOWLEDGED,
        crisis=crisis,
        actor=actor,
        target=handoff,
        data={
            "handoff_id": handoff.pk,
            "handoff_at": handoff.handoff_at,
            "from_region": handoff.from_region,
            "to_region": handoff.to_region,
            "outgoing": handoff.outgoing_commander.username,
            "incoming": actor.username,
            "note": note,
        },
    )
    return handoff


# ---------------------------------------------------------------- post-incident review


def _review_for_update(crisis: Crisis, actor: User) -> Review:
    _require(may_work_crisis(actor), "your role cannot write the post-incident review")
    if crisis.level not in (Level.STAND_DOWN, Level.CLOSED):
        raise Conflict(
            f"the post-incident review opens when {crisis.reference} stands down", field="review"
        )
    now = clock.now()
    review, _ = Review.objects.select_for_update().get_or_create(
        crisis=crisis, defaults={"started_at": now, "updated_at": now}
    )
    return review


def _aware(value: datetime | None, *, field: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput("times must carry their zone", field=field)
    if value is not None and value > clock.now():
        raise InvalidInput("that time is in the future", field=field)
    return value


@transaction.atomic
def update_review(
    *,
    crisis: Crisis,
    actor: User,
    summary: str = "",
    went_well: str = "",
    went_badly: str = "",
    contributing_factors: str = "",
    incident_started_at: datetime | None = None,
    contained_at: datetime | None = None,
) -> Review:
    review = _review_for_update(crisis, actor)
    values = {
        "summary": _text(summary, field="summary", max_length=SUMMARY_MAX, required=False),
        "went_well": _text(went_well, field="went_well", max_length=SUMMARY_MAX, required=False),
        "went_badly": _text(went_badly, field="went_badly", max_length=SUMMARY_MAX, required=False),
        "contributing_factors": _text(
            contributing_factors,
            field="contributing_factors",
            max_length=SUMMARY_MAX,
            required=False,
        ),
        "incident_started_at": _aware(incident_started_at, field="incident_started_at"),
        "contained_at": _aware(contained_at, field="contained_at"),
    }
    if (
        values["incident_started_at"]
        and values["contained_at"]
        and values["contained_at"] < values["incident_started_at"]
    ):
        raise InvalidInput(
            "containment cannot come before the incident began", field="contained_at"
        )
    changed = {name: value for name, value in values.items() if getattr(review, name) != value}
    for name, value in changed.items():
        setattr(review, name, value)
    review.updated_at, review.updated_by = clock.now(), actor
    review.save()
    _record(
        AuditAction.CRISIS_REVIEW_UPDATED,
        crisis=crisis,
        actor=actor,
        target=review,
        data={"changed": changed},
    )
    return review


@transaction.atomic
def add_root_cause(
    *, crisis: Crisis, actor: User, problem: str, whys: list[str], root_cause: str
) -> RootCause:
    """A five-whys chain: the problem, up to five answers to "why?", and the root cause."""
    review = _review_for_update(crisis, actor)
    problem = _text(problem, field="problem", max_length=REASON_MAX, required=True)
    answers = [
        _text(why, field=f"whys[{index}]", max_length=REASON_MAX, required=False)
        for index, why in enumerate(whys)
    ]
    answers = [answer for answer in answers if answer]
    if not answers:
        raise InvalidInput("answer at least the first 'why?'", field="whys[0]")
    if len(answers) > WHYS_MAX:
        raise InvalidInput(f"at most {WHYS_MAX} whys", field=f"whys[{WHYS_MAX}]")
    root_cause = _text(root_cause, field="root_cause", max_length=REASON_MAX, required=True)
    cause = RootCause.objects.create(
        review=review,
        problem=problem,
        whys=answers,
        root_cause=root_cause,
        created_at=clock.now(),
        created_by=actor,
    )
    _record(
        AuditAction.CRISIS_ROOT_CAUSE_ADDED,
        crisis=crisis,
        actor=actor,
        target=cause,
        data={"problem": problem, "whys": answers, "root_cause": root_cause},
    )
    return cause


@transaction.atomic
def add_action_item(
    *, crisis: Crisis, actor: User, title: str, owner: User, due_on: date
) -> ActionItem:
    review = _review_for_update(crisis, actor)
    title = _text(title, field="title", max_length=300, required=True)
    if owner.role == Role.VIEWER or not owner.is_active:
        raise InvalidInput(f"{owner.username} cannot own an action item", field="owner")
    if not selectors.may_see(owner, crisis):
        raise InvalidInput(f"{owner.username} cannot see {crisis.reference}", field="owner")
    item = ActionItem.objects.create(
        review=review,
        title=title,
        owner=owner,
        due_on=due_on,
        created_at=clock.now(),
        created_by=actor,
    )
    _record(
        AuditAction.CRISIS_ACTION_ITEM_ADDED,
        crisis=crisis,
        actor=actor,
        target=item,
        data={"item_id": item.pk, "title": title, "owner": owner.username, "due_on": due_on},
    )
    return item


@transaction.atomic
def change_action_item(*, item: ActionItem, actor: User, status: str, note: str = "") -> ActionItem:
    """Mark an action item done or dropped (dropping needs a note), or reopen it."""
    item = ActionItem.objects.select_for_update().select_related("review__crisis").get(pk=item.pk)
    _require(
        may_work_crisis(actor) or item.owner_id == actor.pk,
        "only site policy or the item's owner may update it",
    )
    if status not in ActionItem.Status.values:
        raise InvalidInput(
            f"unknown status '{status}'; use one of {', '.join(ActionItem.Status.values)}",
            field="status",
        )
    if status not in ACTION_ITEM_TRANSITIONS[item.status]:
        raise Conflict(
            f"this item is {ActionItem.Status(item.status).label.lower()}; it cannot become "
            f"{ActionItem.Status(status).label.lower()}",
            field="status",
        )
    note = _text(
        note, field="note", max_length=REASON_MAX, required=status == ActionItem.Status.DROPPED
    )
    previous = item.status
    now = clock.now()
    item.status = status
    item.status_note = note
    item.closed_at, item.closed_by = (
        (None, None) if status == ActionItem.Status.OPEN else (now, actor)
    )
    item.save(update_fields=["status", "status_note", "closed_at", "closed_by"])
    _record(
        AuditAction.CRISIS_ACTION_ITEM_CHANGED,
        crisis=item.review.crisis,
        actor=actor,
        target=item,
        data={
            "item_id": item.pk,
            "title": item.title,
            "from": previous,
            "to": status,
            "note": note,
        },
    )
    return item


@transaction.atomic
def record_review_export(*, crisis: Crisis, actor: User, format: str) -> None:
    """Who took the review out of the system, and in what form."""
    _record(AuditAction.CRISIS_REVIEW_EXPORTED, crisis=crisis, actor=actor, data={"format": format})
