"""What the escalations API accepts: queue queries and the body of every write.

Input schemas check what can be checked without the database (types, enumerations,
lengths, time zones) so the services receive well-formed values; anything that needs the
catalog (does this escalation type, market or rubric answer exist?) is the services' job.
They carry the services' limits, so an over-long field is refused before it is read.
What the API returns is :mod:`watchfloor.escalations.schemas`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

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
from watchfloor.web.api import MAX_OFFSET, Code, Id, Input, Moment, SeverityLevel, Username, text

Title = Annotated[str, text(TITLE_MAX, min_length=1)]


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
