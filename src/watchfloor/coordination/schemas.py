"""The shapes the partner-requests API accepts and returns.

Inputs check what needs no database (types, enumerations, lengths, offsets); the
services check the rest (does the team exist, is the URL acceptable, is the request still
open). Outputs are built explicitly by their ``build`` constructors from rows the
selectors loaded, so a response's query cost is visible here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, Field

from watchfloor.coordination.models import (
    AnswerOutcome,
    PartnerRequest,
    RequestKind,
    RequestStatus,
)
from watchfloor.coordination.selectors import InboxFilters
from watchfloor.coordination.services import (
    ANSWER_MAX,
    ATTACHMENTS_MAX,
    CONTEXT_MAX,
    QUESTION_MAX,
    REASON_MAX,
    REFERENCE_MAX,
)
from watchfloor.severity.rubric import parse_iso_duration
from watchfloor.web.api import (
    MAX_OFFSET,
    Code,
    Id,
    Input,
    Moment,
    PersonOut,
    UtcTime,
    text,
)


def _span(value: str) -> str:
    try:
        parse_iso_duration(value)
    except (ValueError, OverflowError):
        raise ValueError(f"'{value}' is not an ISO 8601 duration such as PT4H or P1D") from None
    return value


Span = Annotated[str, Field(max_length=32), AfterValidator(_span)]


# ---------------------------------------------------------------- inputs


class PartnerRequestIn(Input):
    kind: RequestKind
    team: Code = Field(
        "", description="the partner team's code; empty for the team usually asked for kind"
    )
    question: Annotated[str, text(QUESTION_MAX, min_length=1)]
    context: Annotated[str, text(CONTEXT_MAX)] = Field(
        "", description="what the team needs to know beyond the escalation, which is shared with it"
    )
    due_at: Moment | None = Field(None, description="RFC 3339, with offset")
    due_within: Span | None = Field(None, description="or a span from now, e.g. PT4H")

    def service_arguments(self) -> dict[str, Any]:
        return {
            "team_code": self.team.strip(),
            "kind": self.kind,
            "question": self.question,
            "context": self.context,
            "due_at": self.due_at,
            "due_within": parse_iso_duration(self.due_within) if self.due_within else None,
        }


class AnswerIn(Input):
    outcome: AnswerOutcome
    answer: Annotated[str, text(ANSWER_MAX)] = Field(
        "", description="required to advise or decline"
    )
    attachments: list[Annotated[str, text(REFERENCE_MAX)]] = Field(
        default_factory=list,
        max_length=ATTACHMENTS_MAX,
        description="http(s) URLs or document ids such as LEGAL-2026-0142",
    )


class WithdrawIn(Input):
    reason: Annotated[str, text(REASON_MAX, min_length=1)]


class InboxQuery(Schema):
    """Filters of the requests list; ``status`` may repeat (default: open)."""

    status: list[RequestStatus] = Field(
        default_factory=lambda: [RequestStatus.OPEN], max_length=len(RequestStatus.values)
    )
    team: Code = ""
    kind: RequestKind | None = None
    escalation_id: Id | None = None
    overdue: bool = False
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def as_filters(self) -> InboxFilters:
        return InboxFilters(
            statuses=tuple(self.status),
            team=self.team.strip(),
            kind=self.kind or "",
            escalation_id=self.escalation_id,
            overdue_only=self.overdue,
        )


# ---------------------------------------------------------------- outputs


class AttachmentOut(Schema):
    kind: str = Field(description="url or document")
    reference: str


class EscalationRefOut(Schema):
    id: int
    reference: str
    title: str
    severity: int
    status: str


class PartnerRequestOut(Schema):
    id: int
    reference: str = Field(description='"PR-" and the id')
    escalation: EscalationRefOut
    team: str
    team_name: str
    kind: RequestKind
    kind_label: str
    question: str
    context: str
    status: RequestStatus
    due_at: UtcTime
    is_overdue: bool
    overdue_by_minutes: int | None
    shared_escalation: bool
    requested_by: PersonOut
    requested_at: UtcTime
    outcome: AnswerOutcome | None
    answer: str
    attachments: list[AttachmentOut]
    answered_by: PersonOut | None
    answered_at: UtcTime | None
    withdrawn_at: UtcTime | None
    withdraw_reason: str
    chase_count: int
    last_chased_at: UtcTime | None

    @classmethod
    def build(cls, item: PartnerRequest, *, now) -> PartnerRequestOut:
        overdue = item.is_open and item.due_at < now
        escalation = item.escalation
        return cls(
            id=item.pk,
            reference=item.reference,
            escalation=EscalationRefOut(
                id=escalation.pk,
                reference=escalation.reference,
                title=escalation.title,
                severity=escalation.severity,
                status=escalation.status,
            ),
            team=item.team.code,
            team_name=item.team.name,
            kind=RequestKind(item.kind),
            kind_label=RequestKind(item.kind).label,
            question=item.question,
            context=item.context,
            status=RequestStatus(item.status),
            due_at=item.due_at,
            is_overdue=overdue,
            overdue_by_minutes=int((now - item.due_at) / timedelta(minutes=1)) if overdue else None,
            shared_escalation=item.shared_escalation,
            requested_by=PersonOut.build(item.requested_by),
            requested_at=item.requested_at,
            outcome=AnswerOutcome(item.outcome) if item.outcome else None,
            answer=item.answer,
            attachments=[AttachmentOut(**attachment) for attachment in item.attachments],
            answered_by=PersonOut.build(item.answered_by),
            answered_at=item.answered_at,
            withdrawn_at=item.withdrawn_at,
            withdraw_reason=item.withdraw_reason,
            chase_count=item.chase_count,
            last_chased_at=item.last_chased_at,
        )


class PartnerRequestPageOut(Schema):
    count: int
    overdue: int = Field(description="how many of the matching requests are open and overdue")
    items: list[PartnerRequestOut]
