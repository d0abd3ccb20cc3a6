"""Every change to an escalation is one named action here: validated, written and audited
in one transaction. Views and the API check visibility with ``access_escalation`` first,
then call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.roles import (
    can_add_notes,
    can_approve_decisions,
    can_override_severity,
    can_work_escalations,
    is_admin,
)
from watchfloor.core.validation import check_time_range, clean_language_tags
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.core.versions import require_current_version
from watchfloor.escalations import editing, second_person, severity_changes
from watchfloor.escalations.clocks import meet_clocks as _meet_clocks
from watchfloor.escalations.clocks import refresh_next_due as _refresh_next_due
from watchfloor.escalations.clocks import (
    reset_sla_clocks,
    statutory_due_at,
)
from watchfloor.escalations.hooks import escalation_event
from watchfloor.escalations.models import (
    TRANSITIONS,
    Clock,
    Decision,
    Escalation,
    EscalationType,
    Link,
    Note,
    SourceKind,
    Status,
    Subject,
)
from watchfloor.escalations.second_person import Proposal
from watchfloor.escalations.text_index import reindex_escalations
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.markets.selectors import markets_by_code
from watchfloor.people.models import Team, User
from watchfloor.policy.models import EnforcementAction, Policy, PolicyVersion
from watchfloor.severity.rubric import Assessment, StatutoryTrigger, describe_duration, evaluate

if TYPE_CHECKING:
    from watchfloor.catalog.models import CatalogVersion

TITLE_MAX = 200
SUMMARY_MAX = 20_000
NOTE_MAX = 20_000
REASON_MAX = 5_000
SUBJECTS_MAX = 200
# Notices can be entered a little after the fact, but not from the future (clock skew aside).
FUTURE_TOLERANCE = timedelta(minutes=5)


# ---------------------------------------------------------------- input values


@dataclass(frozen=True)
class SubjectInput:
    kind: str
    reference: str
    note: str = ""


@dataclass(frozen=True)
class StatutoryTriggerInput:
    rule: str
    received_at: datetime
    due_at: datetime | None = None
    notice_reference: str = ""
    # A receipt time older than settings.WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER is refused
    # unless the person filing confirms it (a typo such as 1999 for 2026 is likelier).
    confirm_old_receipt: bool = False


# ---------------------------------------------------------------- helpers


def _aware(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "times must carry their UTC offset or zone, e.g. 2026-11-26T09:00:00+09:00",
            field=field,
        )
    check_time_range(value, field=field)
    # Stored and computed in UTC: adding hours to a zoned time would add wall time and
    # give a 24-hour deadline 23 or 25 real hours across a daylight-saving change.
    return value.astimezone(UTC)


def _received_at(trigger: StatutoryTriggerInput, *, now: datetime, field: str) -> datetime:
    """When the notice arrived, in UTC: not in the future, within the calendar, and
    confirmed by the person filing when it is longer ago than the configured span."""
    received_at = check_time_range(_aware(trigger.received_at, field=field), field=field)
    if received_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("the notice cannot have been received in the future", field=field)
    span: timedelta = settings.WATCHFLOOR_RECEIPT_CONFIRMATION_AFTER
    if now - received_at > span and not trigger.confirm_old_receipt:
        days = (now - received_at).days
        raise InvalidInput(
            f"received {received_at:%Y-%m-%d %H:%M} UTC, {days} days ago: more than "
            f"{span.days} days before it is filed. Check the date; if it is right, "
            "confirm that the notice was received then",
            field=field,
            code="confirm_old_receipt",
        )
    return received_at


def _require_rule_in_markets(rule: StatutoryRule, markets: list[Market], *, field: str) -> None:
    """A statutory rule binds in its own jurisdiction only: India's IT Rules have no
    deadline on a Thailand-only escalation. Refused unless the rule's market is one of
    ``markets`` (when no market is named, the rule's own becomes the escalation's)."""
    if not markets or rule.market is None or rule.market in markets:
        return
    named = ", ".join(f"{m.code} {m.name}" for m in markets)
    raise InvalidInput(
        f"{rule.code} is a rule of {rule.market.code} {rule.market.name}, not of this "
        f"escalation's markets ({named}): add {rule.market.code} to the markets, or choose "
        f"a rule of {', '.join(m.code for m in markets)}",
        field=field,
    )


def _escalation_type(code: str) -> EscalationType:
    try:
        return EscalationType.objects.get(code=code)
    except EscalationType.DoesNotExist as exc:
        raise InvalidInput(f"unknown escalation type '{code}'", field="type") from exc


def _policy(code: str, *, field: str = "policy") -> Policy:
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


def _touch(escalation: Escalation) -> None:
    escalation.updated_at = clock.now()


# ---------------------------------------------------------------- severity


def _statutory_rule(code: str, *, field: str) -> StatutoryRule:
    rule = StatutoryRule.objects.select_related("market").filter(code=code).first()
    if rule is None:
        raise InvalidInput(f"unknown statutory rule '{code}'", field=field)
    return rule


def _statutory_trigger(rule: StatutoryRule) -> StatutoryTrigger:
    if rule.deadline is not None:
        reason = (
            f"{rule.instrument}: a {describe_duration(rule.deadline)} deadline cannot wait "
            "in the queue."
        )
    else:
        reason = f"{rule.instrument} sets its own severity floor."
    return StatutoryTrigger(rule=rule.code, min_severity=rule.min_severity, reason=reason)


def _assess(
    *,
    version: CatalogVersion,
    escalation_type: EscalationType,
    rubric_answers: dict[str, Any],
    statutory_rules: list[StatutoryRule],
) -> Assessment:
    return evaluate(
        rubric_for(version),
        answers=rubric_answers or {},
        escalation_type=escalation_type.code,
        statutory_triggers=[_statutory_trigger(rule) for rule in statutory_rules],
    )


def preview_severity(
    *,
    type_code: str,
    rubric_answers: dict[str, Any],
    statutory_rule_codes: list[str] | None = None,
    catalog_version: CatalogVersion | None = None,
) -> Assessment:
    """The rubric's verdict without saving anything, statutory rules included."""
    return _assess(
        version=catalog_version or active_catalog_version(),
        escalation_type=_escalation_type(type_code),
        rubric_answers=rubric_answers,
        statutory_rules=[
            _statutory_rule(code, field=f"statutory_rules[{index}]")
            for index, code in enumerate(statutory_rule_codes or [])
        ],
    )


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


# ---------------------------------------------------------------- create


@transaction.atomic
def create_escalation(
    *,
    actor: User,
    type_code: str,
    title: str,
    summary: str = "",
    markets: list[str] | None = None,
    languages: list[str] | None = None,
    subjects: list[SubjectInput] | None = None,
    source_kind: str = SourceKind.INTERNAL,
    source_team_code: str = "",
    source_detail: str = "",
    rubric_answers: dict[str, Any] | None = None,
    statutory_triggers: list[StatutoryTriggerInput] | None = None,
    policy_code: str = "",
    is_high_visibility: bool = False,
    is_restricted: bool = False,
    access_usernames: list[str] | None = None,
    shared_with_team_codes: list[str] | None = None,
    is_drill: bool = False,
) -> Escalation:
    _require(can_work_escalations(actor), "your role cannot create escalations")
    version = active_catalog_version()
    escalation_type = _escalation_type(type_code)
    title = _text(title, field="title", max_length=TITLE_MAX, required=True)
    summary = _text(summary, field="summary", max_length=SUMMARY_MAX, required=False)
    market_rows = markets_by_code(markets or [])
    language_tags = clean_language_tags(languages or [])
    if source_kind not in SourceKind.values:
        raise InvalidInput(
            f"unknown source '{source_kind}'; use one of {', '.join(SourceKind.values)}",
            field="source_kind",
        )
    source_team = None
    if source_team_code:
        source_team = Team.objects.filter(code=source_team_code).first()
        if source_team is None:
            raise InvalidInput(f"unknown team '{source_team_code}'", field="source_team")
    elif source_kind == SourceKind.PARTNER_TEAM:
        raise InvalidInput("say which partner team referred it", field="source_team")
    source_detail = _text(source_detail, field="source_detail", max_length=500, required=False)
    policy = _policy(policy_code) if policy_code else escalation_type.default_policy
    subject_inputs = subjects or []
    if len(subject_inputs) > SUBJECTS_MAX:
        raise InvalidInput(f"at most {SUBJECTS_MAX} subjects", field="subjects")
    for index, subject in enumerate(subject_inputs):
        if subject.kind not in Subject.Kind.values:
            raise InvalidInput(
                f"unknown subject kind '{subject.kind}'; "
                f"use one of {', '.join(Subject.Kind.values)}",
                field=f"subjects[{index}].kind",
            )
        _text(
            subject.reference, field=f"subjects[{index}].reference", max_length=2000, required=True
        )
        _text(subject.note, field=f"subjects[{index}].note", max_length=500, required=False)

    now = clock.now()
    triggers = []
    # Markets the person named; with none named, each rule's own market is the escalation's.
    named_markets = list(market_rows)
    for index, trigger in enumerate(statutory_triggers or []):
        field = f"statutory_triggers[{index}]"
        rule = _statutory_rule(trigger.rule, field=f"{field}.rule")
        _require_rule_in_markets(rule, named_markets, field=f"{field}.rule")
        received_at = _received_at(trigger, now=now, field=f"{field}.received_at")
        stated = _aware(trigger.due_at, field=f"{field}.due_at") if trigger.due_at else None
        due_at, basis = statutory_due_at(
            rule=rule, received_at=received_at, stated_due_at=stated, field=field
        )
        notice_reference = _text(
            trigger.notice_reference,
            field=f"{field}.notice_reference",
            max_length=200,
            required=False,
        )
        triggers.append((rule, received_at, due_at, basis, notice_reference))
        if rule.market and rule.market not in market_rows:
            market_rows.append(rule.market)  # only when no market was named
    # After the triggers: a statutory rule raises the severity by itself.
    assessment = _assess(
        version=version,
        escalation_type=escalation_type,
        rubric_answers=rubric_answers or {},
        statutory_rules=[rule for rule, *_ in triggers],
    )

    access_users = []
    for index, username in enumerate(access_usernames or []):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise InvalidInput(f"no user named '{username}'", field=f"access_list[{index}]")
        access_users.append(user)
    teams = []
    for index, code in enumerate(shared_with_team_codes or []):
        team = Team.objects.filter(code=code, kind=Team.Kind.PARTNER).first()
        if team is None:
            raise InvalidInput(
                f"unknown partner team '{code}'", field=f"shared_with_teams[{index}]"
            )
        teams.append(team)

    # The matter began when the earliest notice arrived; the SLA clocks count from now,
    # when Watchfloor learns of it (statutory clocks run from receipt, below).
    opened_at = min([now, *(received for _, received, *_ in triggers)])
    escalation = Escalation.objects.create(
        type=escalation_type,
        title=title,
        summary=summary,
        policy=policy,
        primary_market=market_rows[0] if market_rows else None,
        languages=language_tags,
        source_kind=source_kind,
        source_team=source_team,
        source_detail=source_detail,
        severity=assessment.severity,
        computed_severity=assessment.severity,
        rubric_answers=validate_clean_answers(assessment),
        severity_explanation=assessment.as_dict(),
        catalog_version=version,
        created_by=actor,
        is_high_visibility=is_high_visibility,
        is_restricted=is_restricted,
        # Set at creation so the escalation policy started below already knows it is a
        # drill and records its notifications without delivering them.
        is_drill=is_drill,
        opened_at=opened_at,
        created_at=now,
        updated_at=now,
    )
    escalation.markets.set(market_rows)
    if is_restricted:
        # Whoever files a restricted escalation keeps access to it.
        escalation.access_list.set({actor, *access_users})
    elif access_users:
        escalation.access_list.set(access_users)
    escalation.shared_with_teams.set(teams)
    Subject.objects.bulk_create(
        Subject(
            escalation=escalation, kind=s.kind, reference=s.reference.strip(), note=s.note[:500]
        )
        for s in subject_inputs
    )
    reset_sla_clocks(escalation, rubric=rubric_for(version))
    for rule, received_at, due_at, basis, notice_reference in triggers:
        Clock.objects.create(
            escalation=escalation,
            kind=Clock.Kind.STATUTORY,
            label=rule.label,
            starts_at=received_at,
            due_at=due_at,
            statutory_rule=rule,
            basis=basis,
            notice_reference=notice_reference,
        )
    _refresh_next_due(escalation)
    reindex_escalations([escalation.pk])
    record_event(
        action=AuditAction.ESCALATION_CREATED,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={
            "type": escalation_type.code,
            "title": title,
            "severity": f"SEV{assessment.severity}",
            "severity_summary": assessment.summary,
            "markets": [m.code for m in market_rows],
            "languages": language_tags,
            "source": source_kind,
            "restricted": is_restricted,
            "drill": is_drill,
            "catalog_version": version.digest[:12],
            "statutory_clocks": [
                {"rule": rule.code, "received_at": received, "due_at": due}
                for rule, received, due, _, _ in triggers
            ],
        },
    )
    escalation_event(escalation=escalation, event="created", actor=actor)
    return escalation


def validate_clean_answers(assessment: Assessment) -> dict[str, str]:
    return {c.factor: c.answer for c in assessment.contributions if c.answered}


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
    _touch(escalation)
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
        escalation_event(escalation=escalation, event=to_status, actor=actor)
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
    _touch(escalation)
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
    _touch(duplicate)
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
    _touch(escalation)
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


# ---------------------------------------------------------------- decisions


def decision_needs_approval(escalation: Escalation) -> bool:
    """High-visibility, or SEV0/SEV1 at any time within the two-person window."""
    return severity_changes.decision_needs_approval(escalation)


def _policy_version_in_force(policy: Policy, version: str) -> PolicyVersion:
    if version:
        found = PolicyVersion.objects.filter(policy=policy, version=version).first()
        if found is None:
            raise InvalidInput(
                f"policy '{policy.code}' has no version '{version}'", field="policy_version"
            )
        return found
    today = clock.now().date()
    found = (
        PolicyVersion.objects.filter(policy=policy, effective_from__lte=today)
        .order_by("-effective_from")
        .first()
    )
    if found is None:
        raise InvalidInput(f"policy '{policy.code}' has no version in force", field="policy")
    return found


@transaction.atomic
def record_decision(
    *,
    escalation: Escalation,
    actor: User,
    policy_code: str,
    action_code: str,
    scope: str,
    rationale: str,
    countries: list[str] | None = None,
    policy_version: str = "",
    supersedes: int | None = None,
    read_version: int | None = None,
) -> Decision:
    """Record a decision. An escalation has at most one final decision: a later one
    replaces it only by naming it in ``supersedes``. ``read_version`` is the version the
    person read the decisions at: refused when a decision was recorded after it."""
    _require(can_work_escalations(actor), "your role cannot record decisions")
    if escalation.status == Status.CLOSED:
        raise Conflict("the escalation is closed; reopen it to decide again", field="status")
    editing.lock(escalation)
    editing.refuse_stale_decision(escalation, read_version)
    replaced = editing.decision_to_replace(escalation, supersedes)
    policy = _policy(policy_code)
    version = _policy_version_in_force(policy, policy_version)
    action = EnforcementAction.objects.filter(code=action_code).first()
    if action is None:
        known = ", ".join(EnforcementAction.objects.values_list("code", flat=True))
        raise InvalidInput(
            f"unknown enforcement action '{action_code}'; use one of {known}", field="action"
        )
    country_codes = [c.strip().upper() for c in countries or [] if c and c.strip()]
    if action.needs_countries and not country_codes:
        raise InvalidInput(f"'{action.label}' needs the countries it applies in", field="countries")
    if not action.needs_countries and country_codes:
        raise InvalidInput(f"'{action.label}' does not take countries", field="countries")
    known_markets = set(
        Market.objects.filter(code__in=country_codes).values_list("code", flat=True)
    )
    for index, code in enumerate(country_codes):
        if code not in known_markets:
            raise InvalidInput(f"unknown country or market '{code}'", field=f"countries[{index}]")
    scope = _text(scope, field="scope", max_length=REASON_MAX, required=True)
    rationale = _text(rationale, field="rationale", max_length=NOTE_MAX, required=True)
    approval_reason = severity_changes.approval_reason(escalation)
    needs_approval = bool(approval_reason)
    if replaced is not None and not needs_approval:
        editing.retire(replaced)
    decision = Decision.objects.create(
        escalation=escalation,
        policy_version=version,
        action=action,
        countries=country_codes,
        scope=scope,
        rationale=rationale,
        state=Decision.State.PENDING_APPROVAL if needs_approval else Decision.State.FINAL,
        decided_by=actor,
        decided_at=clock.now(),
        supersedes=replaced,
    )
    # Recording a decision acknowledges the case; it is the first action only once it
    # counts (approved where approval is required).
    _meet_clocks(escalation, (Clock.Kind.ACKNOWLEDGE,), actor=actor)
    if decision.state == Decision.State.FINAL:
        _meet_clocks(escalation, (Clock.Kind.FIRST_ACTION,), actor=actor)
    _touch(escalation)
    _refresh_next_due(escalation)
    record_event(
        action=AuditAction.DECISION_RECORDED,
        actor=actor,
        target=decision,
        escalation_id=escalation.pk,
        data={
            "policy": f"{policy.code} v{version.version}",
            "action": action.code,
            "countries": country_codes,
            "scope": scope,
            "rationale": rationale,
            "state": decision.state,
            **({"approval_needed_because": approval_reason} if approval_reason else {}),
            **({"supersedes": replaced.pk} if replaced else {}),
        },
    )
    if replaced is not None and not needs_approval:
        editing.record_superseded(old=replaced, new=decision, actor=actor)
    escalation_event(escalation=escalation, event="acknowledged", actor=actor, how="decision")
    return decision


SECOND_PERSON_MUST_APPROVE = "a second person must approve: you recorded this decision"


def _proposal(decision: Decision) -> Proposal:
    return Proposal(
        what="decision",
        is_pending=decision.state == Decision.State.PENDING_APPROVAL,
        state_label=decision.get_state_display(),
        proposed_by_id=decision.decided_by_id,
        own_refusal=SECOND_PERSON_MUST_APPROVE,
    )


def review_refusal(*, decision: Decision, actor: User) -> str:
    """Why ``actor`` may not approve or send back ``decision``, or "" when they may.

    Pages offer Approve and Send back only where this is empty, and say why otherwise,
    so nobody is led to a refusal; the review services enforce the same rules.
    """
    return second_person.review_refusal(_proposal(decision), actor=actor)


def _pending_decision(decision: Decision, actor: User) -> Decision:
    _require(can_approve_decisions(actor), "only a lead or an admin may review decisions")
    decision = Decision.objects.select_for_update().get(pk=decision.pk)
    second_person.refuse_review(_proposal(decision), actor=actor, field="decision")
    return decision


@transaction.atomic
def approve_decision(*, decision: Decision, actor: User, comment: str = "") -> Decision:
    decision = _pending_decision(decision, actor)
    # Two decisions proposed side by side cannot both become final.
    editing.lock(decision.escalation)
    replaced = editing.decision_to_replace(
        decision.escalation, decision.supersedes_id, exclude=decision.pk
    )
    if replaced is not None:
        editing.retire(replaced)
    decision.state = Decision.State.FINAL
    decision.reviewed_by = actor
    decision.reviewed_at = clock.now()
    decision.review_comment = _text(comment, field="comment", max_length=REASON_MAX, required=False)
    decision.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_comment"])
    if replaced is not None:
        editing.record_superseded(old=replaced, new=decision, actor=actor)
    record_event(
        action=AuditAction.DECISION_APPROVED,
        actor=actor,
        target=decision,
        escalation_id=decision.escalation_id,
        data={"comment": decision.review_comment, "decided_by": decision.decided_by.username},
    )
    escalation = decision.escalation
    _meet_clocks(escalation, (Clock.Kind.FIRST_ACTION,), actor=actor)
    _touch(escalation)
    _refresh_next_due(escalation)
    return decision


@transaction.atomic
def send_back_decision(*, decision: Decision, actor: User, comment: str) -> Decision:
    decision = _pending_decision(decision, actor)
    decision.state = Decision.State.SENT_BACK
    decision.reviewed_by = actor
    decision.reviewed_at = clock.now()
    decision.review_comment = _text(comment, field="comment", max_length=REASON_MAX, required=True)
    decision.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_comment"])
    record_event(
        action=AuditAction.DECISION_REJECTED,
        actor=actor,
        target=decision,
        escalation_id=decision.escalation_id,
        data={"comment": decision.review_comment},
    )
    return decision


def get_decision(*, escalation: Escalation, decision_id: int | str) -> Decision:
    decision = (
        escalation.decisions.filter(pk=decision_id).first() if str(decision_id).isdigit() else None
    )
    if decision is None:
        raise NotFound(f"no decision {decision_id} on {escalation.reference}", field="decision_id")
    return decision


@transaction.atomic
def record_queue_export(*, actor: User, filters: dict[str, Any], row_count: int) -> None:
    """Who took which slice of the queue out of the system, and how much of it."""
    record_event(
        action=AuditAction.ESCALATIONS_EXPORTED,
        actor=actor,
        data={"filters": filters, "rows": row_count, "format": "csv"},
    )
