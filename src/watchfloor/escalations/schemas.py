"""What the escalations API returns, each shape built explicitly from models.

Output schemas are built from models by their ``build`` constructors, so what a
response costs in queries is visible in one place; a linked or merged escalation shows
only when the reader may see it. Schemas never live on models.
What the API accepts is :mod:`watchfloor.escalations.input_schemas`; the catalog's
shapes (``GET /catalog``) are in ``catalog_schemas``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ninja import Schema
from pydantic import Field

from watchfloor.core import clock as core_clock
from watchfloor.escalations.models import SourceKind, Status
from watchfloor.web.api import PersonOut, UtcTime

if TYPE_CHECKING:
    from watchfloor.escalations.models import (
        Clock,
        Decision,
        Escalation,
        Note,
        SeverityDowngrade,
    )
    from watchfloor.escalations.selectors import TimelineEntry
    from watchfloor.severity.rubric import Assessment


class EscalationTypeRefOut(Schema):
    code: str
    name: str


class EscalationSummaryOut(Schema):
    """One row of the queue: what the next action and the next deadline are."""

    id: int
    reference: str = Field(description='"WF-" and the id')
    title: str
    type: EscalationTypeRefOut
    status: Status
    severity: int
    severity_name: str
    markets: list[str]
    languages: list[str]
    policy: str | None
    owner: PersonOut | None
    is_restricted: bool
    is_high_visibility: bool
    next_due_at: UtcTime | None
    next_due_label: str
    opened_at: UtcTime
    created_at: UtcTime
    updated_at: UtcTime
    closed_at: UtcTime | None

    @classmethod
    def fields_from(cls, escalation: Escalation) -> dict[str, Any]:
        """Reads only the relations ``selectors.triage_queue`` loads (type, owner, policy,
        markets), so a page of the queue costs the same number of queries at any size."""
        return {
            "id": escalation.pk,
            "reference": escalation.reference,
            "title": escalation.title,
            "type": EscalationTypeRefOut(code=escalation.type.code, name=escalation.type.name),
            "status": escalation.status,
            "severity": escalation.severity,
            "severity_name": escalation.severity_name,
            "markets": [market.code for market in escalation.markets.all()],
            "languages": list(escalation.languages or []),
            "policy": escalation.policy.code if escalation.policy else None,
            "owner": PersonOut.build(escalation.owner),
            "is_restricted": escalation.is_restricted,
            "is_high_visibility": escalation.is_high_visibility,
            "next_due_at": escalation.next_due_at,
            "next_due_label": escalation.next_due_label,
            "opened_at": escalation.opened_at,
            "created_at": escalation.created_at,
            "updated_at": escalation.updated_at,
            "closed_at": escalation.closed_at,
        }

    @classmethod
    def build(cls, escalation: Escalation) -> EscalationSummaryOut:
        return cls(**cls.fields_from(escalation))


class EscalationPageOut(Schema):
    count: int = Field(
        description="escalations matching the filters that you may see, counted up to "
        "10,000 (see count_is_capped)"
    )
    count_is_capped: bool = Field(
        False, description="true when more than `count` match: narrow the filters for the figure"
    )
    items: list[EscalationSummaryOut]


class ContributionOut(Schema):
    factor: str
    label: str
    answer: str
    answer_label: str
    answered: bool = Field(description="false when the factor was left at its mildest answer")
    points: int
    weight: int
    contribution: int


class FloorOut(Schema):
    code: str
    reason: str
    min_severity: int


class AssessmentOut(Schema):
    """The rubric's verdict, factor by factor."""

    severity: int
    severity_name: str
    band_severity: int = Field(description="the severity the score alone falls in")
    score: int
    max_score: int
    rubric_version: str
    contributions: list[ContributionOut]
    floors: list[FloorOut] = Field(description="floor rules that fired")
    summary: str

    @classmethod
    def from_stored(cls, explanation: dict[str, Any]) -> AssessmentOut:
        return cls(severity_name=f"SEV{explanation['severity']}", **explanation)

    @classmethod
    def build(cls, assessment: Assessment) -> AssessmentOut:
        return cls.from_stored(assessment.as_dict())


class ClockOut(Schema):
    kind: str
    label: str
    starts_at: UtcTime
    due_at: UtcTime
    met_at: UtcTime | None
    state: str = Field(description="running, breached, met or met_late")
    basis: str = Field(description="where the deadline comes from")
    rule: str | None = Field(description="the statutory rule, for statutory clocks")
    notice_reference: str

    @classmethod
    def build(cls, clock: Clock, *, at: datetime) -> ClockOut:
        return cls(
            kind=clock.kind,
            label=clock.label,
            starts_at=clock.starts_at,
            due_at=clock.due_at,
            met_at=clock.met_at,
            state=clock.state(at),
            basis=clock.basis,
            rule=clock.statutory_rule.code if clock.statutory_rule else None,
            notice_reference=clock.notice_reference,
        )


class SubjectOut(Schema):
    kind: str
    reference: str
    note: str


class DecisionOut(Schema):
    id: int
    state: str = Field(description="pending_approval, final, sent_back or superseded")
    supersedes: int | None = Field(description="the final decision this one replaces")
    policy: str
    policy_version: str
    action: str
    action_label: str
    countries: list[str]
    scope: str
    rationale: str
    decided_by: PersonOut
    decided_at: UtcTime
    reviewed_by: PersonOut | None
    reviewed_at: UtcTime | None
    review_comment: str

    @classmethod
    def build(cls, decision: Decision) -> DecisionOut:
        return cls(
            id=decision.pk,
            state=decision.state,
            policy=decision.policy_version.policy.code,
            policy_version=decision.policy_version.version,
            action=decision.action.code,
            action_label=decision.action.label,
            countries=list(decision.countries or []),
            scope=decision.scope,
            rationale=decision.rationale,
            decided_by=PersonOut.build(decision.decided_by),
            decided_at=decision.decided_at,
            reviewed_by=PersonOut.build(decision.reviewed_by),
            reviewed_at=decision.reviewed_at,
            review_comment=decision.review_comment,
            supersedes=decision.supersedes_id,
        )


class SeverityDowngradeOut(Schema):
    id: int
    state: str = Field(description="pending, approved, rejected or superseded")
    from_severity: int
    to_severity: int
    reason: str
    proposed_by: PersonOut
    proposed_at: UtcTime
    reviewed_by: PersonOut | None
    reviewed_at: UtcTime | None
    review_comment: str

    @classmethod
    def build(cls, downgrade: SeverityDowngrade) -> SeverityDowngradeOut:
        return cls(
            id=downgrade.pk,
            state=downgrade.state,
            from_severity=downgrade.from_severity,
            to_severity=downgrade.to_severity,
            reason=downgrade.reason,
            proposed_by=PersonOut.build(downgrade.proposed_by),
            proposed_at=downgrade.proposed_at,
            reviewed_by=PersonOut.build(downgrade.reviewed_by),
            reviewed_at=downgrade.reviewed_at,
            review_comment=downgrade.review_comment,
        )


class LinkedEscalationOut(Schema):
    id: int
    reference: str
    title: str
    type: EscalationTypeRefOut
    status: Status
    severity: int


class EscalationDetailOut(EscalationSummaryOut):
    summary: str
    source_kind: SourceKind
    source_team: str | None
    source_detail: str
    computed_severity: int = Field(description="what the rubric said, before any override")
    severity_explanation: AssessmentOut
    severity_override_reason: str
    severity_overridden_by: PersonOut | None
    rubric_answers: dict[str, str]
    catalog_version: str = Field(description="digest of the catalog the rubric came from")
    created_by: PersonOut | None
    access_version: int = Field(
        description="send it back as expected_version when you change the access"
    )
    access_list: list[str]
    shared_with_teams: list[str]
    severity_downgrades: list[SeverityDowngradeOut] = Field(
        description="proposals to lower a SEV0/SEV1; a pending one awaits a second person"
    )
    merged_into: int | None = Field(
        description="the escalation this one was merged into, when you may see it"
    )
    clocks: list[ClockOut]
    subjects: list[SubjectOut]
    decisions: list[DecisionOut]
    linked: list[LinkedEscalationOut] = Field(description="related escalations you may see")
    version: int = Field(0, description="the version read: send it as `read_version` with a change")

    @classmethod
    def build(
        cls,
        escalation: Escalation,
        *,
        linked: Sequence[Escalation] = (),
        at: datetime | None = None,
    ) -> EscalationDetailOut:
        """``escalation`` as loaded by ``selectors.escalation_detail``; ``linked`` already
        filtered to what the viewer may see, which also decides whether ``merged_into``
        (always linked by the merge) is shown. Its clocks are as of ``at`` (now unless
        given); without ``linked`` it names no other escalation."""
        at = core_clock.now() if at is None else at
        visible_ids = {other.pk for other in linked}
        return cls(
            **cls.fields_from(escalation),
            summary=escalation.summary,
            source_kind=SourceKind(escalation.source_kind),
            source_team=escalation.source_team.code if escalation.source_team else None,
            source_detail=escalation.source_detail,
            computed_severity=escalation.computed_severity,
            severity_explanation=AssessmentOut.from_stored(escalation.severity_explanation),
            severity_override_reason=escalation.severity_override_reason,
            severity_overridden_by=PersonOut.build(escalation.severity_overridden_by),
            rubric_answers=dict(escalation.rubric_answers or {}),
            catalog_version=escalation.catalog_version.digest,
            created_by=PersonOut.build(escalation.created_by),
            access_version=escalation.access_version,
            access_list=sorted(user.username for user in escalation.access_list.all()),
            shared_with_teams=sorted(team.code for team in escalation.shared_with_teams.all()),
            severity_downgrades=[
                SeverityDowngradeOut.build(d) for d in escalation.severity_downgrades.all()
            ],
            merged_into=(
                escalation.merged_into_id if escalation.merged_into_id in visible_ids else None
            ),
            clocks=[ClockOut.build(clock, at=at) for clock in escalation.clocks.all()],
            subjects=[
                SubjectOut(kind=s.kind, reference=s.reference, note=s.note)
                for s in escalation.subjects.all()
            ],
            decisions=[DecisionOut.build(decision) for decision in escalation.decisions.all()],
            linked=[
                LinkedEscalationOut(
                    id=other.pk,
                    reference=other.reference,
                    title=other.title,
                    type=EscalationTypeRefOut(code=other.type.code, name=other.type.name),
                    status=Status(other.status),
                    severity=other.severity,
                )
                for other in linked
            ],
        )


class TimelineEntryOut(Schema):
    at: UtcTime
    actor: str
    action: str = Field(description="the audit action, e.g. escalation.transitioned")
    label: str
    data: dict[str, Any]

    @classmethod
    def build(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            label=entry.label,
            data=entry.data,
        )


class NoteOut(Schema):
    id: int
    author: PersonOut
    body: str
    created_at: UtcTime

    @classmethod
    def build(cls, note: Note) -> NoteOut:
        return cls(
            id=note.pk,
            author=PersonOut.build(note.author),
            body=note.body,
            created_at=note.created_at,
        )
