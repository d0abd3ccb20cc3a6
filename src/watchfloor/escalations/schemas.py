"""The shapes the escalations API accepts and returns.

Input schemas check what can be checked without the database (types, enumerations,
lengths, time zones) so the services receive well-formed values; anything that needs the
catalog (does this escalation type, market or rubric answer exist?) is the services' job.
Output schemas are built explicitly from models by their ``build`` constructors, so what
a response costs in queries is visible in one place. Schemas never live on models.

The catalog's shapes (``GET /catalog``) are in ``catalog_schemas``. What stays is one
concept, an escalation as the API takes and gives it; its inputs and outputs share the
service limits and the nested shapes (subjects, triggers, decisions, clocks), so they
read best together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from watchfloor.core import clock as core_clock
from watchfloor.escalations.inputs import EscalationInput, StatutoryTriggerInput, SubjectInput
from watchfloor.escalations.models import SourceKind, Status, Subject
from watchfloor.escalations.selectors import QueueFilters
from watchfloor.escalations.services import (
    NOTE_MAX,
    REASON_MAX,
    SUBJECTS_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
)
from watchfloor.web.api import (
    MAX_OFFSET,
    Code,
    Id,
    Input,
    Moment,
    PersonOut,
    SeverityLevel,
    Username,
    UtcTime,
    text,
)

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

Title = Annotated[str, text(TITLE_MAX, min_length=1)]


# ---------------------------------------------------------------- inputs


class QueueQuery(Schema):
    """Filters of the triage queue; ``status`` and ``severity`` may repeat."""

    status: list[Status] = Field(default_factory=list, max_length=len(Status.values))
    severity: list[SeverityLevel] = Field(default_factory=list, max_length=10)
    market: Code = ""
    policy: Code = ""
    mine: bool = False
    owner: Username = ""
    q: Annotated[str, text(200)] = Field(
        "", description="words in the title, summary, subjects, notice numbers or notes"
    )
    include_closed: bool = False
    drills: Literal["hide", "include", "only"] = Field(
        "hide", description="escalations opened by crisis drills: hidden, included or only them"
    )
    sort: Literal["severity", "deadline"] = Field(
        "severity",
        description="severity: most severe first, then the nearest deadline; "
        "deadline: the nearest deadline first, then the most severe",
    )
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def as_filters(self) -> QueueFilters:
        return QueueFilters(
            statuses=tuple(self.status),
            severities=tuple(self.severity),
            market=self.market.strip().upper(),
            policy=self.policy.strip(),
            mine=self.mine,
            owner_username=self.owner.strip(),
            text=self.q.strip(),
            include_closed=self.include_closed,
            drills=self.drills,
            sort=self.sort,
        )


class SubjectIn(Input):
    kind: Subject.Kind
    reference: Annotated[str, text(2000, min_length=1)]
    note: Annotated[str, text(500)] = ""


class StatutoryTriggerIn(Input):
    rule: Code = Field(description="the statutory rule's code, from GET /catalog")
    received_at: Moment = Field(description="when the notice arrived (RFC 3339, with offset)")
    due_at: Moment | None = Field(
        None, description="the deadline the notice states, where the rule lets it set one"
    )
    notice_reference: Annotated[str, text(200)] = ""
    confirm_old_receipt: bool = Field(
        False,
        description="true to confirm a receipt time further in the past than Watchfloor "
        "accepts unconfirmed (30 days by default); without it such a time is refused with "
        "the code confirm_old_receipt",
    )

    def as_service_input(self) -> StatutoryTriggerInput:
        return StatutoryTriggerInput(
            rule=self.rule,
            received_at=self.received_at,
            due_at=self.due_at,
            notice_reference=self.notice_reference,
            confirm_old_receipt=self.confirm_old_receipt,
        )


class EscalationIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "regulator_notice",
                    "title": "eSafety removal notice: attack video reposts",
                    "summary": "Removal notice for 12 reposts of the attack video.",
                    "markets": ["AU"],
                    "languages": ["en"],
                    "subjects": [{"kind": "url", "reference": "https://example.com/p/123"}],
                    "source_kind": "regulator",
                    "rubric_answers": {"harm": "severe", "legal_exposure": "statutory_notice"},
                    "statutory_triggers": [
                        {
                            "rule": "au-osa-removal-notice",
                            "received_at": "2026-11-24T09:00:00+11:00",
                            "notice_reference": "RN-2026-0412",
                        }
                    ],
                    "shared_with_teams": ["legal"],
                }
            ]
        },
    )

    type: Code = Field(description="an escalation type code, from GET /catalog")
    title: Title
    summary: Annotated[str, text(SUMMARY_MAX)] = ""
    markets: list[Code] = Field(default_factory=list, max_length=100)
    languages: list[Annotated[str, text(35)]] = Field(default_factory=list, max_length=30)
    subjects: list[SubjectIn] = Field(default_factory=list, max_length=SUBJECTS_MAX)
    source_kind: SourceKind = SourceKind.INTERNAL
    source_team: Code | None = None
    source_detail: Annotated[str, text(500)] = ""
    rubric_answers: dict[Code, Code | None] = Field(
        default_factory=dict, max_length=50, description="rubric factor code → answer value"
    )
    statutory_triggers: list[StatutoryTriggerIn] = Field(default_factory=list, max_length=20)
    policy: Code | None = None
    is_high_visibility: bool = False
    is_restricted: bool = False
    access_list: list[Username] = Field(default_factory=list, max_length=200)
    shared_with_teams: list[Code] = Field(default_factory=list, max_length=20)

    def as_service_input(self) -> EscalationInput:
        """What ``filing.create_escalation`` takes."""
        return EscalationInput(
            type_code=self.type,
            title=self.title,
            summary=self.summary,
            markets=self.markets,
            languages=self.languages,
            subjects=[SubjectInput(s.kind, s.reference, s.note) for s in self.subjects],
            source_kind=self.source_kind,
            source_team_code=self.source_team or "",
            source_detail=self.source_detail,
            rubric_answers=self.rubric_answers,
            statutory_triggers=[t.as_service_input() for t in self.statutory_triggers],
            policy_code=self.policy or "",
            is_high_visibility=self.is_high_visibility,
            is_restricted=self.is_restricted,
            access_usernames=self.access_list,
            shared_with_team_codes=self.shared_with_teams,
        )


class TransitionIn(Input):
    to_status: Status
    reason: Annotated[str, text(REASON_MAX)] = ""


class AssignIn(Input):
    owner: Username | None = Field(description="a username, or null to unassign")
    read_version: int | None = Field(
        None,
        ge=0,
        description="the `version` of the escalation you read; the change is refused (409, "
        "code `stale`) when what it changes was changed after it",
    )


class NoteIn(Input):
    body: Annotated[str, text(NOTE_MAX, min_length=1)]


class LinkIn(Input):
    other_id: Id
    reason: Annotated[str, text(500)] = ""


class MergeIn(Input):
    into_id: Id
    reason: Annotated[str, text(REASON_MAX)] = ""


class SeverityOverrideIn(Input):
    severity: SeverityLevel
    reason: Annotated[str, text(REASON_MAX, min_length=1)]


class DecisionIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "policy": "scams_fraud",
                    "action": "withhold_in_countries",
                    "countries": ["PH"],
                    "scope": "The 14 posts listed in the subjects",
                    "rationale": "Impersonates a registered charity to collect donations.",
                }
            ]
        },
    )

    policy: Code
    policy_version: Code = Field("", description="empty for the version in force today")
    action: Code = Field(description="an enforcement action code, from GET /catalog")
    countries: list[Code] = Field(default_factory=list, max_length=250)
    scope: Annotated[str, text(REASON_MAX, min_length=1)]
    rationale: Annotated[str, text(NOTE_MAX, min_length=1)]
    supersedes: Id | None = Field(
        None,
        description="the id of the final decision this one replaces; required when the "
        "escalation has one (it has at most one final decision)",
    )
    read_version: int | None = Field(
        None,
        ge=0,
        description="the `version` of the escalation you read; the change is refused (409, "
        "code `stale`) when what it changes was changed after it",
    )


class ReviewIn(Input):
    comment: Annotated[str, text(REASON_MAX)] = ""


class AccessIn(Input):
    expected_version: int = Field(
        ge=1,
        description="the access_version you read (GET the escalation); a change made since "
        "then gives 409 with code 'stale', so a revocation is never silently undone",
    )
    is_restricted: bool
    access_list: list[Username] = Field(default_factory=list, max_length=200)
    shared_with_teams: list[Code] = Field(default_factory=list, max_length=20)


class SeverityPreviewIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "violent_attack_content", "rubric_answers": {"imminence": "ongoing"}}
            ]
        },
    )

    type: Code
    rubric_answers: dict[Code, Code | None] = Field(default_factory=dict, max_length=50)
    statutory_rules: list[Code] = Field(
        default_factory=list,
        max_length=20,
        description="statutory rules the escalation would carry; each raises the severity",
    )


# ---------------------------------------------------------------- outputs


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
