"""No lost updates on an escalation: edits carry the version they were read at, and an
escalation holds at most one final decision.

The version is the audit log's position when the page or API response was read
(``audit.selectors.log_position``): an edit is refused when what it changes was changed
after it, with what changed, so two tabs cannot silently overwrite each other. A later
decision replaces the final one only by naming it (``supersedes``); the replaced one is
kept, marked superseded, and the database holds one final decision per escalation.
"""

from __future__ import annotations

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import refuse_if_changed_since
from watchfloor.audit.services import record_event
from watchfloor.core.errors import Conflict
from watchfloor.escalations.models import Decision, Escalation
from watchfloor.people.models import User

DECISION_CHANGES = (
    AuditAction.DECISION_RECORDED,
    AuditAction.DECISION_APPROVED,
    AuditAction.DECISION_SUPERSEDED,
)


def lock(escalation: Escalation) -> None:
    """Hold the escalation's row until the edit commits, so two edits check in turn."""
    Escalation.objects.select_for_update().filter(pk=escalation.pk).values_list("pk").first()


def _owner_change(event: AuditEvent) -> str:
    return f"owner set to {event.data.get('to') or 'nobody'}"


def _decision_change(event: AuditEvent) -> str:
    what = event.data.get("action", "")
    if event.action == AuditAction.DECISION_APPROVED:
        return f"decision #{event.object_id} approved"
    if event.action == AuditAction.DECISION_SUPERSEDED:
        return f"decision #{event.object_id} superseded by #{event.data.get('by')}"
    return f"decision #{event.object_id} recorded: {str(what).replace('_', ' ')}"


def refuse_stale_owner(escalation: Escalation, read_version: int | None) -> None:
    refuse_if_changed_since(
        read_version=read_version,
        subject=f"{escalation.reference}'s owner",
        actions=(AuditAction.ESCALATION_ASSIGNED,),
        describe=_owner_change,
        escalation_id=escalation.pk,
    )


def refuse_stale_decision(escalation: Escalation, read_version: int | None) -> None:
    refuse_if_changed_since(
        read_version=read_version,
        subject=f"{escalation.reference}'s decisions",
        actions=DECISION_CHANGES,
        describe=_decision_change,
        escalation_id=escalation.pk,
    )


def _describe(decision: Decision) -> str:
    return (
        f"#{decision.pk} ({decision.action.label}, by {decision.decided_by.username} "
        f"{decision.decided_at:%Y-%m-%d %H:%M} UTC)"
    )


def final_decision_id(escalation: Escalation) -> int | None:
    """The id of the escalation's final decision: what a scripted later decision (a
    drill's, the demo's) names to replace it."""
    return (
        escalation.decisions.filter(state=Decision.State.FINAL).values_list("pk", flat=True).first()
    )


def decision_to_replace(
    escalation: Escalation, supersedes: int | None, *, exclude: int | None = None
) -> Decision | None:
    """The final decision a new one replaces: the one it names, which must be the final
    one. Refused when there is a final decision it does not name, or it names another."""
    finals = escalation.decisions.filter(state=Decision.State.FINAL)
    if exclude is not None:
        finals = finals.exclude(pk=exclude)
    final = finals.select_related("action", "decided_by").first()
    if final is not None and supersedes != final.pk:
        raise Conflict(
            f"{escalation.reference} already has a final decision {_describe(final)}. A "
            f"decision can replace it only by saying it supersedes #{final.pk}",
            field="supersedes",
        )
    if final is None and supersedes is not None:
        raise Conflict(
            f"decision #{supersedes} is not the final decision of {escalation.reference}; "
            "there is nothing for this one to supersede",
            field="supersedes",
        )
    return final


def retire(decision: Decision) -> None:
    """Mark the final ``decision`` superseded, before its successor becomes final (the
    database allows one final decision per escalation); then :func:`record_superseded`."""
    decision.state = Decision.State.SUPERSEDED
    decision.save(update_fields=["state"])


def record_superseded(*, old: Decision, new: Decision, actor: User) -> None:
    record_event(
        action=AuditAction.DECISION_SUPERSEDED,
        actor=actor,
        target=old,
        escalation_id=old.escalation_id,
        data={"by": new.pk, "action": old.action.code},
    )
