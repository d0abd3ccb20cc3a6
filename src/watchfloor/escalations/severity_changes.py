"""Severity after filing, and the two-person rule that rests on it.

A lead or an admin may raise or lower an escalation's severity. Two things keep one
person from deciding a grave case alone by lowering it for a moment:

- a decision needs a second person's approval when the escalation is high-visibility or
  held SEV0/SEV1 at any time within ``WATCHFLOOR_TWO_PERSON_WINDOW``. What it held is read
  from its audited severity changes (``escalation.severity_overridden`` events), not from
  a flag on the row that a later change could reset;
- lowering a SEV0 or SEV1 is only a proposal (:class:`SeverityDowngrade`) until a second
  lead or admin approves it; until then the severity stays.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from watchfloor.audit.events import AuditAction
from watchfloor.audit.selectors import escalation_event_data_since
from watchfloor.audit.services import record_event
from watchfloor.catalog.selectors import rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, NotFound
from watchfloor.core.roles import can_approve_decisions
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require as _require
from watchfloor.escalations.clocks import refresh_next_due, reset_sla_clocks
from watchfloor.escalations.hooks import escalation_event
from watchfloor.escalations.models import Escalation, SeverityDowngrade
from watchfloor.escalations.second_person import Proposal, refuse_review, review_refusal
from watchfloor.people.models import User

# SEV0 and SEV1: decisions on them need a second person, and so does lowering them.
GRAVEST_SOLE_LEVEL = 1
REASON_MAX = 5_000
SECOND_PERSON_MUST_APPROVE_DOWNGRADE = "a second person must approve: you proposed this downgrade"


def _level(name: object) -> int | None:
    """'SEV2' → 2 (None for anything else: an event written by older code, say)."""
    text = str(name or "")
    return int(text[3:]) if text.startswith("SEV") and text[3:].isdigit() else None


def most_severe_within_window(escalation: Escalation, *, now: datetime | None = None) -> int:
    """The most severe level (the lowest number) ``escalation`` held at any moment in the
    last ``WATCHFLOOR_TWO_PERSON_WINDOW``.

    Every level held in the window is either the one in force now or the one a change in
    the window replaced (its ``from``), so the current severity and the ``from`` of each
    audited change since the window began are all there is to read.
    """
    since = (now or clock.now()) - settings.WATCHFLOOR_TWO_PERSON_WINDOW
    held = [escalation.severity]
    for data in escalation_event_data_since(
        escalation_id=escalation.pk,
        action=AuditAction.ESCALATION_SEVERITY_OVERRIDDEN,
        since=since,
    ):
        level = _level(data.get("from"))
        if level is not None:
            held.append(level)
    return min(held)


def approval_reason(escalation: Escalation) -> str:
    """Why a decision on ``escalation`` needs a second person, or "" when it does not."""
    if escalation.is_high_visibility:
        return "the escalation is high-visibility"
    level = most_severe_within_window(escalation)
    if level > GRAVEST_SOLE_LEVEL:
        return ""
    if level == escalation.severity:
        return f"the escalation is SEV{level}"
    days = settings.WATCHFLOOR_TWO_PERSON_WINDOW.days
    return f"the escalation was SEV{level} within the last {days} days"


def decision_needs_approval(escalation: Escalation) -> bool:
    return bool(approval_reason(escalation))


def downgrade_needs_approval(*, current: int, to: int) -> bool:
    return current <= GRAVEST_SOLE_LEVEL and to > current


def pending_downgrade(escalation: Escalation) -> SeverityDowngrade | None:
    return (
        SeverityDowngrade.objects.filter(
            escalation=escalation, state=SeverityDowngrade.State.PENDING
        )
        .select_related("proposed_by")
        .first()
    )


# ---------------------------------------------------------------- writes


def apply_severity(
    *,
    escalation: Escalation,
    severity: int,
    reason: str,
    actor: User,
    set_by: User | None = None,
    extra: dict[str, str] | None = None,
) -> Escalation:
    """Put ``severity`` in force, move the SLA clocks and record it. Callers have checked
    the actor and the input, inside their transaction, on a locked row."""
    previous = escalation.severity
    _supersede_pending(escalation, actor=actor, now_severity=severity)
    escalation.severity = severity
    escalation.severity_override_reason = reason
    escalation.severity_overridden_by = set_by or actor
    escalation.updated_at = clock.now()
    escalation.save(
        update_fields=[
            "severity",
            "severity_override_reason",
            "severity_overridden_by",
            "updated_at",
        ]
    )
    reset_sla_clocks(escalation, rubric=rubric_for(escalation.catalog_version))
    refresh_next_due(escalation)
    record_event(
        action=AuditAction.ESCALATION_SEVERITY_OVERRIDDEN,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={
            "from": f"SEV{previous}",
            "to": f"SEV{severity}",
            "computed": f"SEV{escalation.computed_severity}",
            "reason": reason,
            **(extra or {}),
        },
    )
    escalation_event(escalation=escalation, event="severity_changed", actor=actor)
    return escalation


def _supersede_pending(escalation: Escalation, *, actor: User, now_severity: int) -> None:
    """A downgrade proposed from a severity the escalation no longer has is void."""
    pending = pending_downgrade(escalation)
    if pending is None or now_severity == pending.from_severity:
        return
    pending.state = SeverityDowngrade.State.SUPERSEDED
    pending.reviewed_at = clock.now()
    pending.save(update_fields=["state", "reviewed_at"])
    record_event(
        action=AuditAction.ESCALATION_DOWNGRADE_SUPERSEDED,
        actor=actor,
        target=pending,
        escalation_id=escalation.pk,
        data={"to": f"SEV{pending.to_severity}", "severity_now": f"SEV{now_severity}"},
    )


def propose_downgrade(
    *, escalation: Escalation, severity: int, reason: str, actor: User
) -> SeverityDowngrade:
    """Ask a second lead or admin to lower a SEV0/SEV1; the severity stays until then."""
    existing = pending_downgrade(escalation)
    if existing is not None:
        raise Conflict(
            f"{existing.proposed_by.display_name} already proposed lowering it to "
            f"SEV{existing.to_severity}; approve or reject that first",
            field="severity",
        )
    downgrade = SeverityDowngrade.objects.create(
        escalation=escalation,
        from_severity=escalation.severity,
        to_severity=severity,
        reason=reason,
        proposed_by=actor,
        proposed_at=clock.now(),
    )
    record_event(
        action=AuditAction.ESCALATION_DOWNGRADE_PROPOSED,
        actor=actor,
        target=downgrade,
        escalation_id=escalation.pk,
        data={"from": f"SEV{escalation.severity}", "to": f"SEV{severity}", "reason": reason},
    )
    return downgrade


def _proposal(downgrade: SeverityDowngrade) -> Proposal:
    return Proposal(
        what="downgrade",
        is_pending=downgrade.state == SeverityDowngrade.State.PENDING,
        state_label=downgrade.get_state_display(),
        proposed_by_id=downgrade.proposed_by_id,
        own_refusal=SECOND_PERSON_MUST_APPROVE_DOWNGRADE,
    )


def downgrade_review_refusal(*, downgrade: SeverityDowngrade, actor: User) -> str:
    """Why ``actor`` may not approve or reject ``downgrade``, or "" when they may (pages
    offer the buttons only where this is empty; the services enforce the same)."""
    return review_refusal(_proposal(downgrade), actor=actor)


def _pending_for_review(downgrade: SeverityDowngrade, actor: User) -> SeverityDowngrade:
    _require(can_approve_decisions(actor), "only a lead or an admin may review a downgrade")
    downgrade = (
        SeverityDowngrade.objects.select_for_update()
        .select_related("proposed_by")
        .get(pk=downgrade.pk)
    )
    refuse_review(_proposal(downgrade), actor=actor, field="downgrade")
    return downgrade


def _reviewed(downgrade: SeverityDowngrade, *, state: str, actor: User, comment: str) -> None:
    downgrade.state = state
    downgrade.reviewed_by = actor
    downgrade.reviewed_at = clock.now()
    downgrade.review_comment = comment
    downgrade.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_comment"])


@transaction.atomic
def approve_downgrade(
    *, downgrade: SeverityDowngrade, actor: User, comment: str = ""
) -> SeverityDowngrade:
    downgrade = _pending_for_review(downgrade, actor)
    comment = _text(comment, field="comment", max_length=REASON_MAX, required=False)
    escalation = Escalation.objects.select_for_update().get(pk=downgrade.escalation_id)
    _reviewed(downgrade, state=SeverityDowngrade.State.APPROVED, actor=actor, comment=comment)
    record_event(
        action=AuditAction.ESCALATION_DOWNGRADE_APPROVED,
        actor=actor,
        target=downgrade,
        escalation_id=escalation.pk,
        data={
            "from": f"SEV{downgrade.from_severity}",
            "to": f"SEV{downgrade.to_severity}",
            "proposed_by": downgrade.proposed_by.username,
            "comment": comment,
        },
    )
    apply_severity(
        escalation=escalation,
        severity=downgrade.to_severity,
        reason=downgrade.reason,
        actor=actor,
        set_by=downgrade.proposed_by,
        extra={"proposed_by": downgrade.proposed_by.username, "approved_by": actor.username},
    )
    return downgrade


@transaction.atomic
def reject_downgrade(
    *, downgrade: SeverityDowngrade, actor: User, comment: str
) -> SeverityDowngrade:
    downgrade = _pending_for_review(downgrade, actor)
    comment = _text(comment, field="comment", max_length=REASON_MAX, required=True)
    _reviewed(downgrade, state=SeverityDowngrade.State.REJECTED, actor=actor, comment=comment)
    record_event(
        action=AuditAction.ESCALATION_DOWNGRADE_REJECTED,
        actor=actor,
        target=downgrade,
        escalation_id=downgrade.escalation_id,
        data={"to": f"SEV{downgrade.to_severity}", "comment": comment},
    )
    return downgrade


def get_downgrade(*, escalation: Escalation, downgrade_id: int | str) -> SeverityDowngrade:
    found = (
        escalation.severity_downgrades.filter(pk=downgrade_id).first()
        if str(downgrade_id).isdigit()
        else None
    )
    if found is None:
        raise NotFound(
            f"no severity downgrade {downgrade_id} on {escalation.reference}",
            field="downgrade_id",
        )
    return found
