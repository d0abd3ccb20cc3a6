"""The partner-requests API: thin handlers over ``selectors`` and ``services``.

A partner's token sees only the requests to their team on escalations shared with it;
everyone else sees the requests on the escalations they may see. A request or an
escalation that is missing and one that is hidden give the same 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from watchfloor.coordination import selectors, services
from watchfloor.coordination.models import RequestStatus
from watchfloor.coordination.schemas import (
    AnswerIn,
    InboxQuery,
    PartnerRequestIn,
    PartnerRequestOut,
    PartnerRequestPageOut,
    WithdrawIn,
)
from watchfloor.core import clock
from watchfloor.escalations.selectors import access_escalation
from watchfloor.escalations.services import record_restricted_view
from watchfloor.people.auth import request_actor
from watchfloor.web.api import READ_ERRORS, WRITE_ERRORS, Id

if TYPE_CHECKING:
    from watchfloor.coordination.models import PartnerRequest

router = Router(tags=["partner requests"])


def _request(request: HttpRequest, request_id: int) -> PartnerRequest:
    return selectors.access_partner_request(actor=request_actor(request), request_id=request_id)


def _out(request: HttpRequest, request_id: int) -> PartnerRequestOut:
    return PartnerRequestOut.build(_request(request, request_id), now=clock.now())


@router.get("/partner-requests", response={200: PartnerRequestPageOut, **READ_ERRORS})
def list_partner_requests(request: HttpRequest, filters: Query[InboxQuery]):
    """Partner requests, open first and the nearest deadline first (so the overdue lead).
    A partner sees their own team's inbox."""
    now = clock.now()
    requests = selectors.inbox(user=request_actor(request), filters=filters.as_filters(), now=now)
    page = requests[filters.offset : filters.offset + filters.limit]
    return PartnerRequestPageOut(
        count=requests.count(),
        overdue=requests.filter(status=RequestStatus.OPEN, due_at__lt=now).count(),
        items=[PartnerRequestOut.build(item, now=now) for item in page],
    )


@router.get("/partner-requests/{request_id}", response={200: PartnerRequestOut, **READ_ERRORS})
def get_partner_request(request: HttpRequest, request_id: Path[Id]):
    """One request. Reading one about a restricted escalation is recorded like its detail."""
    found = _request(request, request_id)
    record_restricted_view(escalation=found.escalation, actor=request_actor(request), channel="api")
    return PartnerRequestOut.build(found, now=clock.now())


@router.post(
    "/escalations/{escalation_id}/partner-requests",
    response={201: PartnerRequestOut, **WRITE_ERRORS},
)
def send_partner_request(request: HttpRequest, escalation_id: Path[Id], payload: PartnerRequestIn):
    """Ask a partner team something about this escalation by a deadline (``due_at``, or
    ``due_within`` from now). The escalation is shared with the team for need to know."""
    escalation = access_escalation(actor=request_actor(request), escalation_id=escalation_id)
    sent = services.send_partner_request(
        escalation=escalation, actor=request_actor(request), **payload.service_arguments()
    )
    return Status(201, _out(request, sent.pk))


@router.post(
    "/partner-requests/{request_id}/answer", response={200: PartnerRequestOut, **WRITE_ERRORS}
)
def answer_partner_request(request: HttpRequest, request_id: Path[Id], payload: AnswerIn):
    """Answer for the team asked: approve, advise or decline, with text and attachments
    by reference. The answer goes on the escalation's timeline."""
    services.answer_partner_request(
        partner_request=_request(request, request_id),
        actor=request_actor(request),
        outcome=payload.outcome,
        answer=payload.answer,
        attachments=payload.attachments,
    )
    return _out(request, request_id)


@router.post(
    "/partner-requests/{request_id}/withdraw", response={200: PartnerRequestOut, **WRITE_ERRORS}
)
def withdraw_partner_request(request: HttpRequest, request_id: Path[Id], payload: WithdrawIn):
    services.withdraw_partner_request(
        partner_request=_request(request, request_id),
        actor=request_actor(request),
        reason=payload.reason,
    )
    return _out(request, request_id)
