"""The lifecycle of an escalation after it is filed (status, owner, notes, links, merges,
access, severity overrides), each change one named action: validated, written and audited
in one transaction. Filing lives in ``filing``, enforcement decisions in ``decisions``.
Views and the API check visibility with ``access_escalation`` first, then call these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.roles import (
    can_add_notes,
    can_override_severity,
    can_work_escalations,
    is_admin,
)
from watchfloor.core.validation import check_time_range
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.core.versions import require_current_version
from watchfloor.escalations import editing, severity_changes
from watchfloor.escalations.clocks import meet_clocks as _meet_clocks
from watchfloor.escalations.clocks import refresh_next_due as _refresh_next_due
from watchfloor.escalations.hooks import escalation_event
from watchfloor.escalations.models import (
    TRANSITIONS,
    Clock,
    Decision,
    Escalation,
    Link,
    Note,
    Status,
)
from watchfloor.escalations.text_index import reindex_escalations
from watchfloor.people.models import Team, User
from watchfloor.policy.models import Policy

if TYPE_CHECKING:
    from watchfloor.escalations.hooks import EscalationEvent

TITLE_MAX = 200
SUMMARY_MAX = 20_000
NOTE_MAX = 20_000
REASON_MAX = 5_000
SUBJECTS_MAX = 200
# Notices can be entered a little after the fact, but not from the future (clock skew aside).
FUTURE_TOLERANCE = timedelta(minutes=5)


# ---------------------------------------------------------------- helpers


def aware_in_utc(value: datetime, *, field: str) -> datetime:
    """A time given with its offset or zone, in UTC; a naive or out-of-range one is
    refused on ``field``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "times must carry their UTC offset or zone, e.g. 2026-11-26T09:00:00+09:00",
            field=field,
        )
    check_time_range(value, field=field)
    # Stored and computed in UTC: adding hours to a zoned time would add wall time and
    # give a 24-hour deadline 23 or 25 real hours across a daylight-saving change.
    return value.astimezone(UTC)


def policy_named(code: str, *, field: str = "policy") -> Policy:
    """The policy with this code; an unknown one is refused on ``field``."""
    try:
        return Policy.objects.get(code=code)
    except Policy.DoesNotExist as exc:
        raise InvalidInput(f"unknown policy '{code}'", field=field) from exc


def _refuse_while_decision_awaits_approval(
    escalation: Escalation, *, doing: str, field: str = "to_status"
) -> None:
    """Closing (or merging away) a case whose decision awaits its second person would end
    the case on one person's word: the decision must be approved or sent back first."""
    if escalation.decisions.filter(state=Decision.State.PENDING_APPROVAL).exists():
        raise Conflict(
            f"a decision on {escalation.reference} awaits a second person's approval; "
            f"have it approved or sent back before {doing}",
            field=field,
            code="decision_awaits_approval",
        )


def mark_updated(escalation: Escalation) -> None:
    """Stamp the escalation as changed now; the caller saves it with its other changes."""
    escalation.updated_at = clock.now()


# ---------------------------------------------------------------- severity


@transaction.atomic
def override_severity(
    *, escalation: Escalation, severity: int, reason: str, actor: User
) -> Escalation:
    """Set the severity by hand. Lowering a SEV0 or SEV1 only proposes it: the severity
    stays until a second lead or admin approves (``severity_changes``); the escalation is
    returned unchanged then, with the proposal pending."""
    _require(can_override_severity(actor), "only a lead or an admin may override severity")
    rubric = rubric_for(escalation.catalog_version)
    levels = [level.level for level in rubric.severities]
    if severity not in levels:
        raise InvalidInput(
            f"severity must be one of {', '.join(f'SEV{n}' for n in levels)}", field="severity"
        )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=True)
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if severity_changes.downgrade_needs_approval(current=escalation.severity, to=severity):
        severity_changes.propose_downgrade(
            escalation=escalation, severity=severity, reason=reason, actor=actor
        )
        return escalation
    return severity_changes.apply_severity(
        escalation=escalation, severity=severity, reason=reason, actor=actor
    )


# ---------------------------------------------------------------- lifecycle


@transaction.atomic
def transition_escalation(
    *, escalation: Escalation, to_status: str, actor: User, reason: str = ""
) -> Escalation:
    _require(can_work_escalations(actor), "your role cannot change an escalation's status")
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if to_status not in Status.values:
        raise InvalidInput(
            f"unknown status '{to_status}'; use one of {', '.join(Status.values)}",
            field="to_status",
        )
    current = escalation.status
    if escalation.merged_into_id is not None:
        raise Conflict(
            f"this escalation was merged into WF-{escalation.merged_into_id}; work it there",
            field="to_status",
        )
    if to_status not in TRANSITIONS[current]:
        allowed = ", ".join(Status(s).label for s in Status.values if s in TRANSITIONS[current])
        raise Conflict(
            f"cannot move from {Status(current).label} to {Status(to_status).label}; "
            f"from {Status(current).label} it can go to: {allowed}",
            field="to_status",
        )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=False)
    has_final_decision = escalation.decisions.filter(state=Decision.State.FINAL).exists()
    if to_status in (Status.DECIDED, Status.ACTIONED) and not has_final_decision:
        raise Conflict(
            "record a decision (and have it approved where approval is required) first",
            field="to_status",
        )
    if to_status == Status.CLOSED:
        _refuse_while_decision_awaits_approval(escalation, doing="closing it")
    if to_status == Status.CLOSED and not has_final_decision and not reason:
        raise InvalidInput("closing without a decision needs a reason", field="reason")
    if current == Status.CLOSED and not reason:
        raise InvalidInput("reopening needs a reason", field="reason")

    escalation.status = to_status
    escalation.is_open = to_status != Status.CLOSED
    now = clock.now()
    escalation.closed_at = now if to_status == Status.CLOSED else None
    mark_updated(escalation)
    escalation.save(update_fields=["status", "is_open", "closed_at", "updated_at"])
    if current == Status.NEW:
        _meet_clocks(escalation, (Clock.Kind.ACKNOWLEDGE,), actor=actor)
    if to_status in (Status.DECIDED, Status.ACTIONED):
        _meet_clocks(escalation, (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION), actor=actor)
    if to_status in (Status.ACTIONED, Status.CLOSED):
        _meet_clocks(
            escalation,
            (
                Clock.Kind.ACKNOWLEDGE,
                Clock.Kind.FIRST_ACTION,
                Clock.Kind.RESOLVE,
                Clock.Kind.STATUTORY,
            ),
            actor=actor,
        )
    _refresh_next_due(escalation)
    record_event(
        action=AuditAction.ESCALATION_TRANSITIONED,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={"from": current, "to": to_status, "reason": reason},
    )
    # One acknowledgement: triaging or any other move acknowledges the page, and the
    # pager stops once the work is decided, actioned or closed.
    if to_status in (Status.DECIDED, Status.ACTIONED, Status.CLOSED):
        # The three statuses are events of the same names.
        escalation_event(
            escalation=escalation, event=cast("EscalationEvent", to_status), actor=actor
        )
    elif current == Status.CLOSED:
        escalation_event(escalation=escalation, event="reopened", actor=actor)
    else:
        escalation_event(escalation=escalation, event="acknowledged", actor=actor, how="status")
    return escalation


@transaction.atomic
def assign_escalation(
    *, escalation: Escalation, owner: User | None, actor: User, read_version: int | None = None
) -> Escalation:
    """Give the escalation to ``owner`` (or nobody). ``read_version`` is the version the
    person read the owner at: refused when the owner changed after it."""
    _require(can_work_escalations(actor), "your role cannot assign escalations")
    editing.lock(escalation)
    editing.refuse_stale_owner(escalation, read_version)
    if owner is not None and not can_work_escalations(owner):
        raise InvalidInput(
            f"{owner.username} is a {owner.get_role_display()} and cannot own escalations",
            field="owner",
        )
    if (
        owner is not None
        and escalation.is_restricted
        and not escalation.access_list.filter(pk=owner.pk).exists()
        and not is_admin(owner)
    ):
        raise InvalidInput(
            f"{owner.username} is not on this restricted escalation's access list", field="owner"
        )
    previous = escalation.owner
    escalation.owner = owner
    mark_updated(escalation)
    escalation.save(update_fields=["owner", "updated_at"])
    record_event(
        action=AuditAction.ESCALATION_ASSIGNED,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={
            "from": previous.username if previous else None,
            "to": owner.username if owner else None,
        },
    )
    if owner is not None:
        # Somebody owns it now: that acknowledges the escalation and its page.
        _meet_clocks(escalation, (Clock.Kind.ACKNOWLEDGE,), actor=actor)
        _refresh_next_due(escalation)
        escalation_event(escalation=escalation, event="acknowledged", actor=actor, how="ownership")
    return escalation


@transaction.atomic
def add_note(*, escalation: Escalation, body: str, actor: User) -> Note:
    _require(can_add_notes(actor), "your role cannot add notes")
    body = _text(body, field="body", max_length=NOTE_MAX, required=True)
    note = Note.objects.create(
        escalation=escalation, author=actor, body=body, created_at=clock.now()
    )
    Escalation.objects.filter(pk=escalation.pk).update(updated_at=note.created_at)
    reindex_escalations([escalation.pk])
    record_event(
        action=AuditAction.ESCALATION_NOTE_ADDED,
        actor=actor,
        target=note,
        escalation_id=escalation.pk,
        data={"body": body},
    )
    return note


@transaction.atomic
def link_escalations(
    *, escalation: Escalation, other: Escalation, actor: User, reason: str = ""
) -> Link:
    _require(can_work_escalations(actor), "your role cannot link escalations")
    if escalation.pk == other.pk:
        raise InvalidInput("an escalation cannot be linked to itself", field="other")
    low, high = sorted((escalation, other), key=lambda e: e.pk)
    if Link.objects.filter(from_escalation=low, to_escalation=high).exists():
        raise Conflict(
            f"{escalation.reference} and {other.reference} are already linked", field="other"
        )
    reason = _text(reason, field="reason", max_length=500, required=False)
    link = Link.objects.create(
        from_escalation=low,
        to_escalation=high,
        reason=reason,
        created_at=clock.now(),
        created_by=actor,
    )
    for side, counterpart in ((escalation, other), (other, escalation)):
        record_event(
            action=AuditAction.ESCALATION_LINKED,
            actor=actor,
            target=link,
            escalation_id=side.pk,
            data={"with": counterpart.reference, "reason": reason},
        )
    return link


@transaction.atomic
def merge_escalation(
    *, duplicate: Escalation, into: Escalation, actor: User, reason: str = ""
) -> Escalation:
    """Close ``duplicate`` as merged into ``into``; its clocks stop, its history stays."""
    _require(can_work_escalations(actor), "your role cannot merge escalations")
    if duplicate.pk == into.pk:
        raise InvalidInput("an escalation cannot be merged into itself", field="into")
    if into.merged_into_id is not None:
        raise Conflict(
            f"{into.reference} was itself merged into WF-{into.merged_into_id}; merge into that",
            field="into",
        )
    if duplicate.merged_into_id is not None:
        raise Conflict(f"{duplicate.reference} is already merged", field="into")
    if into.status == Status.CLOSED:
        # Its running deadlines would move onto a closed case and vanish from the queue.
        raise Conflict(
            f"{into.reference} is closed; reopen it before merging into it", field="into"
        )
    _refuse_while_decision_awaits_approval(duplicate, doing="merging it", field="into")
    if duplicate.is_restricted and not into.is_restricted:
        raise Conflict(
            "a restricted escalation cannot be merged into an unrestricted one: that would "
            "expose it; restrict the target first",
            field="into",
        )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=False)
    previous_status = duplicate.status
    duplicate.merged_into = into
    duplicate.status = Status.CLOSED
    duplicate.is_open = False
    duplicate.closed_at = clock.now()
    mark_updated(duplicate)
    duplicate.save(update_fields=["merged_into", "status", "is_open", "closed_at", "updated_at"])
    # A statutory deadline does not go away because the case moved: the target inherits
    # it, and with it the rule's market (a statutory rule belongs to one of its markets).
    target_markets = set(into.markets.values_list("pk", flat=True))
    markets_added = []
    for inherited in duplicate.clocks.select_related("statutory_rule__market").filter(
        kind=Clock.Kind.STATUTORY, met_at__isnull=True
    ):
        market = inherited.statutory_rule.market if inherited.statutory_rule else None
        if market is not None and market.pk not in target_markets:
            into.markets.add(market)
            target_markets.add(market.pk)
            markets_added.append(market.code)
        Clock.objects.create(
            escalation=into,
            kind=inherited.kind,
            label=inherited.label,
            starts_at=inherited.starts_at,
            due_at=inherited.due_at,
            statutory_rule=inherited.statutory_rule,
            basis=f"{inherited.basis} (from {duplicate.reference})",
            notice_reference=inherited.notice_reference,
        )
    _refresh_next_due(into)
    # The inherited notice numbers now find the target too.
    reindex_escalations([into.pk])
    _meet_clocks(duplicate, tuple(Clock.Kind.values), actor=actor)
    _refresh_next_due(duplicate)
    low, high = sorted((duplicate, into), key=lambda e: e.pk)
    Link.objects.get_or_create(
        from_escalation=low,
        to_escalation=high,
        defaults={"reason": "merged", "created_at": clock.now(), "created_by": actor},
    )
    record_event(
        action=AuditAction.ESCALATION_MERGED,
        actor=actor,
        target=duplicate,
        escalation_id=duplicate.pk,
        data={"into": into.reference, "from_status": previous_status, "reason": reason},
    )
    record_event(
        action=AuditAction.ESCALATION_ABSORBED,
        actor=actor,
        target=into,
        escalation_id=into.pk,
        data={
            "duplicate": duplicate.reference,
            "reason": reason,
            **({"markets_added": markets_added} if markets_added else {}),
        },
    )
    escalation_event(escalation=duplicate, event="merged", actor=actor)
    return duplicate


@transaction.atomic
def set_access(
    *,
    escalation: Escalation,
    actor: User,
    is_restricted: bool,
    access_usernames: list[str],
    shared_with_team_codes: list[str],
    expected_version: int | None,
) -> Escalation:
    """Who may see the escalation. ``expected_version`` is the ``access_version`` the
    editor read (None only for changes made by the system): a stale edit is refused."""
    _require(can_override_severity(actor), "only a lead or an admin may change who can see this")
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    users = []
    for index, username in enumerate(access_usernames):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise InvalidInput(f"no user named '{username}'", field=f"access_list[{index}]")
        users.append(user)
    teams = []
    for index, code in enumerate(shared_with_team_codes):
        team = Team.objects.filter(code=code, kind=Team.Kind.PARTNER).first()
        if team is None:
            raise InvalidInput(
                f"unknown partner team '{code}'", field=f"shared_with_teams[{index}]"
            )
        teams.append(team)
    if is_restricted and actor not in users:
        users.append(actor)
    before = {
        "restricted": escalation.is_restricted,
        "access_list": sorted(escalation.access_list.values_list("username", flat=True)),
        "teams": sorted(escalation.shared_with_teams.values_list("code", flat=True)),
    }
    require_current_version(
        expected=expected_version,
        current=escalation.access_version,
        what=f"who may see {escalation.reference}",
        now=_describe_access(before),
    )
    escalation.is_restricted = is_restricted
    escalation.access_version += 1
    mark_updated(escalation)
    escalation.save(update_fields=["is_restricted", "access_version", "updated_at"])
    escalation.access_list.set(users)
    escalation.shared_with_teams.set(teams)
    record_event(
        action=AuditAction.ESCALATION_ACCESS_CHANGED,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={
            "before": before,
            "after": {
                "restricted": is_restricted,
                "access_list": sorted(u.username for u in users),
                "teams": sorted(t.code for t in teams),
            },
            "version": escalation.access_version,
        },
    )
    return escalation


def _describe_access(access: dict[str, Any]) -> str:
    listed = ", ".join(access["access_list"]) or "nobody"
    shared = ", ".join(access["teams"]) or "no partner team"
    state = "restricted" if access["restricted"] else "not restricted"
    return f"{state}; access list: {listed}; shared with {shared}"


@transaction.atomic
def record_restricted_view(*, escalation: Escalation, actor: User, channel: str) -> None:
    """Need to know is only as good as its record: each look at a restricted case is logged."""
    if escalation.is_restricted:
        record_event(
            action=AuditAction.ESCALATION_VIEWED,
            actor=actor,
            target=escalation,
            escalation_id=escalation.pk,
            data={"channel": channel},
        )


# ---------------------------------------------------------------- exports


@transaction.atomic
def record_queue_export(*, actor: User, filters: dict[str, Any], row_count: int) -> None:
    """Who took which slice of the queue out of the system, and how much of it."""
    record_event(
        action=AuditAction.ESCALATIONS_EXPORTED,
        actor=actor,
        data={"filters": filters, "rows": row_count, "format": "csv"},
    )
