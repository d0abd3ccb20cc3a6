"""Filing a new escalation: the type, markets, subjects and statutory notices checked (each
error names its field), severity assessed from the rubric answers and the statutory
rules, the SLA and statutory clocks started, audited in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput
from watchfloor.core.roles import can_work_escalations
from watchfloor.core.shared_reads import shared_within
from watchfloor.core.validation import check_time_range, clean_language_tags
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import (
    market_time_zone,
    next_running_clock,
    starting_clocks,
    statutory_due_at,
)
from watchfloor.escalations.hooks import Filed, escalation_event, hand_over_filed
from watchfloor.escalations.inputs import EscalationInput, StatutoryTriggerInput
from watchfloor.escalations.models import (
    NO_DEADLINE,
    Clock,
    Escalation,
    EscalationType,
    SourceKind,
    Subject,
)
from watchfloor.escalations.services import (
    FUTURE_TOLERANCE,
    SUBJECTS_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    aware_in_utc,
    policy_named,
)
from watchfloor.escalations.text_index import escalation_text_parts, index_new_escalation
from watchfloor.markets.models import Market, StatutoryRule
from watchfloor.markets.selectors import markets_by_code
from watchfloor.people.models import Team, User
from watchfloor.severity.rubric import Assessment, StatutoryTrigger, describe_duration, evaluate

if TYPE_CHECKING:
    from watchfloor.catalog.models import CatalogVersion


def _received_at(trigger: StatutoryTriggerInput, *, now: datetime, field: str) -> datetime:
    """When the notice arrived, in UTC: not in the future, within the calendar, and
    confirmed by the person filing when it is longer ago than the configured span."""
    received_at = check_time_range(aware_in_utc(trigger.received_at, field=field), field=field)
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


@shared_within
def _escalation_type(code: str) -> EscalationType:
    try:
        return EscalationType.objects.get(code=code)
    except EscalationType.DoesNotExist as exc:
        raise InvalidInput(f"unknown escalation type '{code}'", field="type") from exc


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
def create_escalation(*, actor: User, details: EscalationInput) -> Escalation:
    """File a new escalation: severity from the rubric answers and statutory rules, the
    SLA and statutory clocks started, audited in the same transaction."""
    _require(can_work_escalations(actor), "your role cannot create escalations")
    version = active_catalog_version()
    escalation_type = _escalation_type(details.type_code)
    title = _text(details.title, field="title", max_length=TITLE_MAX, required=True)
    summary = _text(details.summary, field="summary", max_length=SUMMARY_MAX, required=False)
    market_rows = markets_by_code(details.markets)
    language_tags = clean_language_tags(details.languages)
    if details.source_kind not in SourceKind.values:
        raise InvalidInput(
            f"unknown source '{details.source_kind}'; use one of {', '.join(SourceKind.values)}",
            field="source_kind",
        )
    source_team = None
    if details.source_team_code:
        source_team = Team.objects.filter(code=details.source_team_code).first()
        if source_team is None:
            raise InvalidInput(f"unknown team '{details.source_team_code}'", field="source_team")
    elif details.source_kind == SourceKind.PARTNER_TEAM:
        raise InvalidInput("say which partner team referred it", field="source_team")
    source_detail = _text(
        details.source_detail, field="source_detail", max_length=500, required=False
    )
    policy = (
        policy_named(details.policy_code) if details.policy_code else escalation_type.default_policy
    )
    subject_inputs = list(details.subjects)
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
    for index, trigger in enumerate(details.statutory_triggers):
        field = f"statutory_triggers[{index}]"
        rule = _statutory_rule(trigger.rule, field=f"{field}.rule")
        _require_rule_in_markets(rule, named_markets, field=f"{field}.rule")
        received_at = _received_at(trigger, now=now, field=f"{field}.received_at")
        stated = aware_in_utc(trigger.due_at, field=f"{field}.due_at") if trigger.due_at else None
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
        rubric_answers=dict(details.rubric_answers),
        statutory_rules=[rule for rule, *_ in triggers],
    )

    access_users = []
    for index, username in enumerate(details.access_usernames):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise InvalidInput(f"no user named '{username}'", field=f"access_list[{index}]")
        access_users.append(user)
    teams = []
    for index, code in enumerate(details.shared_with_team_codes):
        team = Team.objects.filter(code=code, kind=Team.Kind.PARTNER).first()
        if team is None:
            raise InvalidInput(
                f"unknown partner team '{code}'", field=f"shared_with_teams[{index}]"
            )
        teams.append(team)

    # The matter began when the earliest notice arrived; the SLA clocks count from now,
    # when Watchfloor learns of it (statutory clocks run from receipt, below).
    opened_at = min([now, *(received for _, received, *_ in triggers)])
    clocks = starting_clocks(
        rubric=rubric_for(version),
        severity=assessment.severity,
        filed_at=now,
        zone=market_time_zone(market_rows[0] if market_rows else None),
        triggers=triggers,
    )
    nearest = next_running_clock(clocks)
    escalation = Escalation.objects.create(
        type=escalation_type,
        title=title,
        summary=summary,
        policy=policy,
        primary_market=market_rows[0] if market_rows else None,
        languages=language_tags,
        source_kind=details.source_kind,
        source_team=source_team,
        source_detail=source_detail,
        severity=assessment.severity,
        computed_severity=assessment.severity,
        rubric_answers=validate_clean_answers(assessment),
        severity_explanation=assessment.as_dict(),
        catalog_version=version,
        created_by=actor,
        is_high_visibility=details.is_high_visibility,
        is_restricted=details.is_restricted,
        # Set at creation so the escalation policy started below already knows it is a
        # drill and records its notifications without delivering them.
        is_drill=details.is_drill,
        opened_at=opened_at,
        created_at=now,
        updated_at=now,
        # The queue's sort key, from the clocks started below (``clocks.refresh_next_due``
        # keeps it so afterwards).
        next_due_at=nearest.due_at if nearest else None,
        next_due_label=nearest.label if nearest else "",
        queue_due_at=nearest.due_at if nearest else NO_DEADLINE,
    )
    # A new escalation has no links yet: each is added (one statement), not set (a read of
    # what is there, then the difference), and an empty list writes nothing.
    if market_rows:
        escalation.markets.add(*market_rows)
    if details.is_restricted:
        # Whoever files a restricted escalation keeps access to it.
        escalation.access_list.add(*{actor, *access_users})
    elif access_users:
        escalation.access_list.add(*access_users)
    if teams:
        escalation.shared_with_teams.add(*teams)
    Subject.objects.bulk_create(
        Subject(
            escalation=escalation, kind=s.kind, reference=s.reference.strip(), note=s.note[:500]
        )
        for s in subject_inputs
    )
    for started in clocks:
        started.escalation = escalation
    Clock.objects.bulk_create(clocks)
    # Indexed from what was just written, not read back (``text_index._documents`` reads
    # the same pieces for an escalation changed later).
    index_new_escalation(
        escalation.pk,
        escalation_text_parts(
            title=title,
            summary=summary,
            source_detail=source_detail,
            subjects=[(s.reference.strip(), s.note[:500]) for s in subject_inputs],
            notices=[c.notice_reference for c in sorted(clocks, key=lambda c: c.due_at)],
        ),
    )
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
            "source": details.source_kind,
            "restricted": details.is_restricted,
            "drill": details.is_drill,
            "catalog_version": version.digest[:12],
            "statutory_clocks": [
                {"rule": rule.code, "received_at": received, "due_at": due}
                for rule, received, due, _, _ in triggers
            ],
        },
    )
    hand_over_filed(
        escalation,
        Filed(
            market_codes=tuple(sorted(m.code for m in market_rows)),
            clocks=tuple(sorted(clocks, key=lambda c: c.due_at)),
        ),
    )
    escalation_event(escalation=escalation, event="created", actor=actor)
    return escalation


def validate_clean_answers(assessment: Assessment) -> dict[str, str]:
    return {c.factor: c.answer for c in assessment.contributions if c.answered}
