"""Enforcement decisions on an escalation: recorded, sent for a second person's approval
when the two-person rule asks for it, approved or sent back. Each one is written and
audited in one transaction."""

from __future__ import annotations

from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput, NotFound
from watchfloor.core.roles import can_approve_decisions, can_work_escalations
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations import editing, second_person, severity_changes
from watchfloor.escalations.clocks import meet_clocks as _meet_clocks
from watchfloor.escalations.clocks import refresh_next_due as _refresh_next_due
from watchfloor.escalations.hooks import decision_became_final, escalation_event
from watchfloor.escalations.models import Clock, Decision, Escalation, Status
from watchfloor.escalations.second_person import Proposal
from watchfloor.escalations.services import NOTE_MAX, REASON_MAX, mark_updated, policy_named
from watchfloor.markets.models import Market
from watchfloor.people.models import User
from watchfloor.policy.models import EnforcementAction, Policy, PolicyVersion

SECOND_PERSON_MUST_APPROVE = "a second person must approve: you recorded this decision"


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
    policy = policy_named(policy_code)
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
    mark_updated(escalation)
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
    if decision.state == Decision.State.FINAL:
        decision_became_final(decision_id=decision.pk, actor=actor)
    return decision


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
    mark_updated(escalation)
    _refresh_next_due(escalation)
    decision_became_final(decision_id=decision.pk, actor=actor)
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
