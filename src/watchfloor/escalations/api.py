"""The escalations API: thin handlers over ``selectors`` and ``services``.

Each handler finds the escalation with ``access_escalation`` (a missing escalation and one
the caller may not see give the same 404), calls one service or selector, and returns a
schema. Errors are raised as ``core.errors`` exceptions and rendered by ``watchfloor.api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from watchfloor.audit.selectors import log_position
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.escalations import decisions, filing, selectors, services, severity_changes
from watchfloor.escalations.catalog_schemas import CatalogOut
from watchfloor.escalations.input_schemas import (
    AccessIn,
    AssignIn,
    DecisionIn,
    EscalationIn,
    LinkIn,
    MergeIn,
    NoteIn,
    QueueQuery,
    ReviewIn,
    SeverityOverrideIn,
    SeverityPreviewIn,
    TransitionIn,
)
from watchfloor.escalations.schemas import (
    AssessmentOut,
    DecisionOut,
    EscalationDetailOut,
    EscalationPageOut,
    EscalationSummaryOut,
    NoteOut,
    TimelineEntryOut,
)
from watchfloor.people.auth import request_actor
from watchfloor.people.services import get_user_by_username
from watchfloor.web.api import READ_ERRORS, WRITE_ERRORS, Id

if TYPE_CHECKING:
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

router = Router(tags=["escalations"])

# Documented error bodies; every one is {"code", "message", "field"}.


def _access(
    request: HttpRequest, escalation_id: int, *, field: str = "escalation_id"
) -> Escalation:
    try:
        return selectors.access_escalation(
            actor=request_actor(request), escalation_id=escalation_id
        )
    except NotFound as exc:
        raise NotFound(exc.message, field=field) from exc


def _detail(escalation: Escalation, actor: User) -> EscalationDetailOut:
    version = log_position()  # before reading, so nothing read is newer than it
    loaded = selectors.escalation_detail(escalation)
    linked = list(selectors.linked_escalations(escalation=loaded, user=actor))
    detail = EscalationDetailOut.build(loaded, linked=linked, at=clock.now())
    detail.version = version
    return detail


# ---------------------------------------------------------------- reading


@router.get("/escalations", response={200: EscalationPageOut, **READ_ERRORS})
def list_escalations(request: HttpRequest, filters: Query[QueueQuery]):
    """The triage queue: most severe first, then the nearest deadline. Closed escalations
    are left out unless ``include_closed`` or a ``status`` filter asks for them."""
    actor, queue_filters = request_actor(request), filters.as_filters()
    # Counted first: how long the queue is decides how its page is best read.
    count, capped, walk = selectors.triage_queue_count(user=actor, filters=queue_filters)
    queue = selectors.triage_queue(user=actor, filters=queue_filters, walk=walk)
    page = queue[filters.offset : filters.offset + filters.limit]
    return EscalationPageOut(
        count=count, count_is_capped=capped, items=[EscalationSummaryOut.build(e) for e in page]
    )


@router.get("/escalations/{escalation_id}", response={200: EscalationDetailOut, **READ_ERRORS})
def get_escalation(request: HttpRequest, escalation_id: Path[Id]):
    """Everything about one escalation. Looking at a restricted one is recorded."""
    escalation = _access(request, escalation_id)
    services.record_restricted_view(
        escalation=escalation, actor=request_actor(request), channel="api"
    )
    return _detail(escalation, request_actor(request))


@router.get(
    "/escalations/{escalation_id}/timeline",
    response={200: list[TimelineEntryOut], **READ_ERRORS},
)
def get_timeline(request: HttpRequest, escalation_id: Path[Id]):
    """What happened, in order, from the audit log. Reading it is a look at the case, so
    for a restricted escalation it is recorded like the detail."""
    escalation = _access(request, escalation_id)
    services.record_restricted_view(
        escalation=escalation, actor=request_actor(request), channel="api"
    )
    return [
        TimelineEntryOut.build(entry)
        for entry in selectors.escalation_timeline(escalation, viewer=request_actor(request))
    ]


# ---------------------------------------------------------------- creating and working


@router.post("/escalations", response={201: EscalationDetailOut, **WRITE_ERRORS})
def create_escalation(request: HttpRequest, payload: EscalationIn):
    """File an escalation. Severity comes from the rubric answers; statutory clocks run
    from each notice's ``received_at``."""
    escalation = filing.create_escalation(
        actor=request_actor(request), details=payload.as_service_input()
    )
    return Status(201, _detail(escalation, request_actor(request)))


@router.post(
    "/escalations/{escalation_id}/transitions",
    response={200: EscalationDetailOut, **WRITE_ERRORS},
)
def transition_escalation(request: HttpRequest, escalation_id: Path[Id], payload: TransitionIn):
    """Move the escalation along its lifecycle; an impossible move is a 409 that lists the
    possible ones."""
    escalation = services.transition_escalation(
        escalation=_access(request, escalation_id),
        to_status=payload.to_status,
        reason=payload.reason,
        actor=request_actor(request),
    )
    return _detail(escalation, request_actor(request))


@router.post(
    "/escalations/{escalation_id}/assign", response={200: EscalationDetailOut, **WRITE_ERRORS}
)
def assign_escalation(request: HttpRequest, escalation_id: Path[Id], payload: AssignIn):
    """Give the escalation an owner, or take it away with ``null``."""
    escalation = _access(request, escalation_id)
    owner = None
    if payload.owner is not None:
        try:
            owner = get_user_by_username(payload.owner)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="owner") from exc
    escalation = services.assign_escalation(
        escalation=escalation,
        owner=owner,
        actor=request_actor(request),
        read_version=payload.read_version,
    )
    return _detail(escalation, request_actor(request))


@router.post("/escalations/{escalation_id}/notes", response={201: NoteOut, **WRITE_ERRORS})
def add_note(request: HttpRequest, escalation_id: Path[Id], payload: NoteIn):
    """Add a note to the timeline. Partner teams may answer on what is shared with them."""
    note = services.add_note(
        escalation=_access(request, escalation_id), body=payload.body, actor=request_actor(request)
    )
    return Status(201, NoteOut.build(note))


@router.post(
    "/escalations/{escalation_id}/links", response={201: EscalationDetailOut, **WRITE_ERRORS}
)
def link_escalations(request: HttpRequest, escalation_id: Path[Id], payload: LinkIn):
    """Relate two escalations (both must be visible to you)."""
    escalation = _access(request, escalation_id)
    services.link_escalations(
        escalation=escalation,
        other=_access(request, payload.other_id, field="other_id"),
        reason=payload.reason,
        actor=request_actor(request),
    )
    return Status(201, _detail(escalation, request_actor(request)))


@router.post(
    "/escalations/{escalation_id}/merge", response={200: EscalationDetailOut, **WRITE_ERRORS}
)
def merge_escalation(request: HttpRequest, escalation_id: Path[Id], payload: MergeIn):
    """Close this escalation as a duplicate of ``into_id``, which inherits its statutory
    clocks. Returns the closed duplicate."""
    duplicate = services.merge_escalation(
        duplicate=_access(request, escalation_id),
        into=_access(request, payload.into_id, field="into_id"),
        reason=payload.reason,
        actor=request_actor(request),
    )
    return _detail(duplicate, request_actor(request))


@router.post(
    "/escalations/{escalation_id}/severity-override",
    response={200: EscalationDetailOut, 202: EscalationDetailOut, **WRITE_ERRORS},
)
def override_severity(request: HttpRequest, escalation_id: Path[Id], payload: SeverityOverrideIn):
    """Set the severity by hand, with a reason (leads and admins). SLA clocks follow.

    Lowering a SEV0 or SEV1 is a proposal: the answer is 202 with the severity unchanged
    and the proposal pending in ``severity_downgrades`` until a second lead or admin
    approves it (``…/severity-downgrades/{id}/approve``)."""
    actor = request_actor(request)
    escalation = services.override_severity(
        escalation=_access(request, escalation_id),
        severity=payload.severity,
        reason=payload.reason,
        actor=actor,
    )
    if escalation.severity != payload.severity:
        return Status(202, _detail(escalation, actor))
    return _detail(escalation, actor)


@router.post(
    "/escalations/{escalation_id}/severity-downgrades/{downgrade_id}/approve",
    response={200: EscalationDetailOut, **WRITE_ERRORS},
)
def approve_downgrade(
    request: HttpRequest, escalation_id: Path[Id], downgrade_id: Path[Id], payload: ReviewIn
):
    """Approve a proposed downgrade of a SEV0/SEV1; whoever proposed it may not."""
    escalation = _access(request, escalation_id)
    severity_changes.approve_downgrade(
        downgrade=severity_changes.get_downgrade(escalation=escalation, downgrade_id=downgrade_id),
        comment=payload.comment,
        actor=request_actor(request),
    )
    return _detail(escalation, request_actor(request))


@router.post(
    "/escalations/{escalation_id}/severity-downgrades/{downgrade_id}/reject",
    response={200: EscalationDetailOut, **WRITE_ERRORS},
)
def reject_downgrade(
    request: HttpRequest, escalation_id: Path[Id], downgrade_id: Path[Id], payload: ReviewIn
):
    """Reject a proposed downgrade, with a comment; the severity stays as it is."""
    escalation = _access(request, escalation_id)
    severity_changes.reject_downgrade(
        downgrade=severity_changes.get_downgrade(escalation=escalation, downgrade_id=downgrade_id),
        comment=payload.comment,
        actor=request_actor(request),
    )
    return _detail(escalation, request_actor(request))


@router.put(
    "/escalations/{escalation_id}/access", response={200: EscalationDetailOut, **WRITE_ERRORS}
)
def set_access(request: HttpRequest, escalation_id: Path[Id], payload: AccessIn):
    """Who may see the escalation: the restriction, its access list and the partner teams
    it is shared with (leads and admins). Send the ``access_version`` you read as
    ``expected_version``: if the access changed since, the answer is 409 (code ``stale``)
    and nothing changes."""
    escalation = services.set_access(
        escalation=_access(request, escalation_id),
        expected_version=payload.expected_version,
        is_restricted=payload.is_restricted,
        access_usernames=payload.access_list,
        shared_with_team_codes=payload.shared_with_teams,
        actor=request_actor(request),
    )
    return _detail(escalation, request_actor(request))


# ---------------------------------------------------------------- decisions


@router.post("/escalations/{escalation_id}/decisions", response={201: DecisionOut, **WRITE_ERRORS})
def record_decision(request: HttpRequest, escalation_id: Path[Id], payload: DecisionIn):
    """Record what was decided, under which policy version and why. High-visibility
    escalations, and those that were SEV0/SEV1 at any time in the two-person window
    (7 days by default), need a second person's approval."""
    decision = decisions.record_decision(
        escalation=_access(request, escalation_id),
        policy_code=payload.policy,
        policy_version=payload.policy_version,
        action_code=payload.action,
        countries=payload.countries,
        scope=payload.scope,
        rationale=payload.rationale,
        supersedes=payload.supersedes,
        read_version=payload.read_version,
        actor=request_actor(request),
    )
    return Status(201, DecisionOut.build(decision))


@router.post(
    "/escalations/{escalation_id}/decisions/{decision_id}/approve",
    response={200: DecisionOut, **WRITE_ERRORS},
)
def approve_decision(
    request: HttpRequest, escalation_id: Path[Id], decision_id: Path[Id], payload: ReviewIn
):
    """Approve a pending decision; whoever recorded it may not."""
    decision = decisions.get_decision(
        escalation=_access(request, escalation_id), decision_id=decision_id
    )
    decision = decisions.approve_decision(
        decision=decision, comment=payload.comment, actor=request_actor(request)
    )
    return DecisionOut.build(decision)


@router.post(
    "/escalations/{escalation_id}/decisions/{decision_id}/send-back",
    response={200: DecisionOut, **WRITE_ERRORS},
)
def send_back_decision(
    request: HttpRequest, escalation_id: Path[Id], decision_id: Path[Id], payload: ReviewIn
):
    """Return a pending decision to its author with a comment saying what to change."""
    decision = decisions.get_decision(
        escalation=_access(request, escalation_id), decision_id=decision_id
    )
    decision = decisions.send_back_decision(
        decision=decision, comment=payload.comment, actor=request_actor(request)
    )
    return DecisionOut.build(decision)


# ---------------------------------------------------------------- severity


@router.post("/severity/preview", response={200: AssessmentOut, **READ_ERRORS}, tags=["severity"])
def preview_severity(request: HttpRequest, payload: SeverityPreviewIn):
    """What severity these answers would give, explained, without saving anything."""
    assessment = filing.preview_severity(
        type_code=payload.type,
        rubric_answers=payload.rubric_answers,
        statutory_rule_codes=payload.statutory_rules,
    )
    return AssessmentOut.build(assessment)


# ---------------------------------------------------------------- the catalog


@router.get("/catalog", response={200: CatalogOut, **READ_ERRORS}, tags=["catalog"])
def get_catalog(request: HttpRequest):
    """The catalog in force: escalation types, rubric factors and severities with their SLA
    targets, policies and versions, enforcement actions, teams, markets and statutory
    rules. Every code a request may use is listed here."""
    version = active_catalog_version()
    return CatalogOut.build(version, catalog_for(version))
