"""Declaring a crisis, updating it and changing its level. Every action is checked,
written and audited in one transaction; see the package docstring for the audit
conventions. Linking escalations is :mod:`.links`, who may see a crisis :mod:`.access`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import refuse_if_changed_since
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.validation import clean_language_tags
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.crises import selectors
from watchfloor.crises.config import crisis_config
from watchfloor.crises.models import (
    DECLARABLE_LEVELS,
    LEVEL_TRANSITIONS,
    Crisis,
    CrisisEscalation,
    Level,
    Review,
    RoleAssignment,
    RoleKind,
)
from watchfloor.crises.permissions import may_command_crisis, may_work_crisis
from watchfloor.crises.search import reindex_crises
from watchfloor.crises.services.common import (
    REASON_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    active_users_named,
    escalations_actor_sees,
    lock_crisis,
    notify_declared,
    record_crisis_event,
    refresh_sitrep_due,
    refuse_if_closed,
)
from watchfloor.crises.services.roles import check_holder, hand_over
from watchfloor.escalations.models import Escalation
from watchfloor.markets.selectors import markets_by_code
from watchfloor.people.models import User

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
    linked = escalations_actor_sees(
        actor, [*([declared_from] if declared_from else []), *(escalations or [])]
    )
    market_rows = markets_by_code(markets or [])
    language_tags = clean_language_tags(languages or [])
    if declared_from is not None:
        if not market_rows:
            market_rows = list(declared_from.markets.all())
        if not language_tags:
            language_tags = list(declared_from.languages or [])
    access_users = active_users_named(access_usernames or [], field="access_list")
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
    reindex_crises([crisis.pk])
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
    refresh_sitrep_due(crisis, config)
    crisis.save(update_fields=["next_sitrep_due_at"])
    record_crisis_event(
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
            record_crisis_event(
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
    check_holder(crisis, RoleKind.INCIDENT_COMMANDER, commander)
    hand_over(
        crisis=crisis,
        role=RoleKind.INCIDENT_COMMANDER,
        market="",
        to_user=commander,
        actor=actor,
        note="commander at declaration",
    )
    notify_declared(crisis=crisis, actor=actor)
    return crisis


def _details_change(event: AuditEvent) -> str:
    after = event.data.get("after") or {}
    shown = []
    for name, value in after.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        text = str(value)
        shown.append(f"{name} now “{text[:80]}{'…' if len(text) > 80 else ''}”")
    return "; ".join(shown) or "details saved"


@transaction.atomic
def update_crisis(
    *,
    crisis: Crisis,
    actor: User,
    title: str,
    summary: str,
    markets: list[str],
    languages: list[str],
    read_version: int | None = None,
) -> Crisis:
    """Change the crisis's details. ``read_version`` is the version the person read them
    at: refused, with what changed, when someone changed them after it."""
    _require(
        may_command_crisis(actor, crisis),
        "only the commander, the deputy or a lead may change this",
    )
    crisis = lock_crisis(crisis)
    refuse_if_closed(crisis, "its details are kept as they were")
    refuse_if_changed_since(
        read_version=read_version,
        subject=f"{crisis.reference}'s details",
        actions=(AuditAction.CRISIS_UPDATED,),
        describe=_details_change,
        crisis_id=crisis.pk,
    )
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
    reindex_crises([crisis.pk])
    after = {
        "title": title,
        "summary": summary,
        "markets": sorted(m.code for m in market_rows),
        "languages": language_tags,
    }
    record_crisis_event(
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
    crisis = lock_crisis(crisis)
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
    refresh_sitrep_due(crisis, config)
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
    record_crisis_event(
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
