"""What the crises API returns: output schemas built from selectors' results by their
build constructors, so what a response costs in queries is visible in one place. A
summary and a detail share their fields through one builder (``_summary_fields``).
What the API accepts is :mod:`watchfloor.crises.input_schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ninja import Schema
from pydantic import Field

from watchfloor.crises import selectors
from watchfloor.crises.cadence import SitrepState
from watchfloor.crises.config import CrisisConfig
from watchfloor.crises.drafting import DraftSection, SitrepDraft
from watchfloor.crises.models import CrisisNote, Level, RoleKind
from watchfloor.crises.timeline import CrisisTimelineLine
from watchfloor.escalations.models import Status as EscalationStatus
from watchfloor.web.api import PersonOut, UtcTime

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis, CrisisEscalation, RoleAssignment, SitrepSection
    from watchfloor.crises.selectors import (
        CriterionResult,
        Deadline,
        RoleSlot,
        SitrepReading,
        WarRoom,
    )
    from watchfloor.people.models import User


class CrisisSummaryOut(Schema):
    """One row of the crises list. The escalation counts are of the escalations the
    caller may see."""

    id: int
    reference: str = Field(description='"CR-" and the id')
    title: str
    level: Level
    level_label: str
    is_active: bool
    is_restricted: bool
    is_drill: bool
    markets: list[str]
    languages: list[str]
    commander: PersonOut | None
    escalation_count: int
    open_escalation_count: int
    next_sitrep_due_at: UtcTime | None
    sitrep_state: SitrepState
    declared_at: UtcTime
    updated_at: UtcTime
    closed_at: UtcTime | None

    @classmethod
    def build(cls, crisis: Crisis, *, now: datetime, config: CrisisConfig) -> CrisisSummaryOut:
        """Reads only what ``selectors.crisis_list`` prefetches (markets, the visible links
        with their escalations, the current commander)."""
        # Set by the Prefetch(to_attr=...) of selectors.crisis_list, not model fields.
        commanders: list[RoleAssignment] = getattr(crisis, "current_commanders")  # noqa: B009
        links: list[CrisisEscalation] = getattr(crisis, "visible_links")  # noqa: B009
        return cls(
            **_summary_fields(
                crisis,
                commander=commanders[0].holder if commanders else None,
                escalation_count=len(links),
                open_escalation_count=sum(1 for link in links if link.escalation.is_open),
                sitrep_state=selectors.sitrep_clock(crisis, now=now, config=config).state,
            )
        )


def _summary_fields(
    crisis: Crisis,
    *,
    commander: User | None,
    escalation_count: int,
    open_escalation_count: int,
    sitrep_state: SitrepState,
) -> dict[str, Any]:
    """The fields of :class:`CrisisSummaryOut`, which a detail shares: the list and the
    war room count escalations and find the commander their own ways, and say so here."""
    return {
        "id": crisis.pk,
        "reference": crisis.reference,
        "title": crisis.title,
        "level": Level(crisis.level),
        "level_label": Level(crisis.level).label,
        "is_active": crisis.is_active,
        "is_restricted": crisis.is_restricted,
        "is_drill": crisis.is_drill,
        "markets": [market.code for market in crisis.markets.all()],
        "languages": list(crisis.languages or []),
        "commander": PersonOut.build(commander),
        "escalation_count": escalation_count,
        "open_escalation_count": open_escalation_count,
        "next_sitrep_due_at": crisis.next_sitrep_due_at,
        "sitrep_state": sitrep_state,
        "declared_at": crisis.declared_at,
        "updated_at": crisis.updated_at,
        "closed_at": crisis.closed_at,
    }


class CrisisPageOut(Schema):
    count: int = Field(description="all crises matching the filters that you may see")
    items: list[CrisisSummaryOut]


class RoleOut(Schema):
    role: RoleKind
    label: str
    market: str = Field(description="the market a regional lead covers; empty otherwise")
    holder: PersonOut | None = Field(description="null while the role is open")
    since: UtcTime | None
    note: str = Field(description="the handover note")

    @classmethod
    def build(cls, slot: RoleSlot) -> RoleOut:
        assignment = slot.assignment
        return cls(
            role=RoleKind(slot.role),
            label=slot.label,
            market=slot.market_code,
            holder=PersonOut.build(slot.holder),
            since=assignment.started_at if assignment else None,
            note=assignment.note if assignment else "",
        )


class RoleAssignmentOut(Schema):
    role: RoleKind
    label: str
    market: str
    holder: PersonOut
    since: UtcTime
    note: str

    @classmethod
    def build(cls, assignment: RoleAssignment) -> RoleAssignmentOut:
        return cls(
            role=RoleKind(assignment.role),
            label=assignment.role_label,
            market=assignment.market_code,
            holder=PersonOut.build(assignment.holder),
            since=assignment.started_at,
            note=assignment.note,
        )


class LinkedEscalationOut(Schema):
    id: int
    reference: str
    title: str
    status: EscalationStatus
    status_label: str
    is_open: bool
    severity: int
    severity_name: str
    next_due_at: UtcTime | None
    next_due_label: str
    is_origin: bool = Field(description="the crisis was declared from it")
    linked_at: UtcTime
    reason: str

    @classmethod
    def build(cls, link: CrisisEscalation) -> LinkedEscalationOut:
        escalation = link.escalation
        return cls(
            id=escalation.pk,
            reference=escalation.reference,
            title=escalation.title,
            status=EscalationStatus(escalation.status),
            status_label=EscalationStatus(escalation.status).label,
            is_open=escalation.is_open,
            severity=escalation.severity,
            severity_name=escalation.severity_name,
            next_due_at=escalation.next_due_at,
            next_due_label=escalation.next_due_label,
            is_origin=link.is_origin,
            linked_at=link.linked_at,
            reason=link.reason,
        )


class DeadlineOut(Schema):
    due_at: UtcTime
    kind: str = Field(description="sitrep, handoff, statutory, request or step")
    label: str
    source: str = Field(description="the crisis (CR-…) or the escalation (WF-…) it belongs to")
    escalation_id: int | None
    basis: str
    is_breached: bool

    @classmethod
    def build(cls, deadline: Deadline) -> DeadlineOut:
        return cls.model_validate(deadline, from_attributes=True)


class SitrepClockOut(Schema):
    due_at: UtcTime | None = Field(description="when the next sitrep of record is due")
    state: SitrepState
    state_label: str
    interval_minutes: int | None = Field(description="the cadence at the current level")


class CriterionOut(Schema):
    code: str
    label: str
    check: str
    met: bool | None = Field(description="null: a person confirms it when standing down")
    blockers: list[str] = Field(description="what holds it up, among what you may see")

    @classmethod
    def build(cls, result: CriterionResult) -> CriterionOut:
        return cls(
            code=result.criterion.code,
            label=result.criterion.label,
            check=result.criterion.check,
            met=result.met,
            blockers=[text for _, text in result.blockers],
        )


class CrisisNoteOut(Schema):
    id: int
    kind: CrisisNote.Kind
    body: str
    author: PersonOut
    created_at: UtcTime
    is_pinned: bool
    pinned_at: UtcTime | None
    pinned_by: PersonOut | None

    @classmethod
    def build(cls, note: CrisisNote) -> CrisisNoteOut:
        return cls(
            id=note.pk,
            kind=CrisisNote.Kind(note.kind),
            body=note.body,
            author=PersonOut.build(note.author),
            created_at=note.created_at,
            is_pinned=note.is_pinned,
            pinned_at=note.pinned_at,
            pinned_by=PersonOut.build(note.pinned_by),
        )


class CrisisDetailOut(CrisisSummaryOut):
    """Everything the war room shows about one crisis, as the caller may see it."""

    summary: str
    declared_by: PersonOut
    declared_from: str | None = Field(
        description="the escalation it was declared from, when you may see it"
    )
    level_changed_at: UtcTime
    stood_down_at: UtcTime | None
    access_version: int = Field(
        description="send it back as expected_version when you hand a role over"
    )
    roles: list[RoleOut] = Field(description="every role, held or open")
    escalations: list[LinkedEscalationOut] = Field(description="the linked escalations you see")
    deadlines: list[DeadlineOut] = Field(
        description="what falls due within the horizon, and everything breached"
    )
    sitrep: SitrepClockOut
    key_facts: list[CrisisNoteOut]
    stand_down_criteria: list[CriterionOut]

    @classmethod
    def build_from(cls, room: WarRoom) -> CrisisDetailOut:
        crisis = room.crisis
        interval = room.sitrep.interval
        return cls(
            **_summary_fields(
                crisis,
                commander=room.commander,
                escalation_count=len(room.links),
                open_escalation_count=room.open_escalations,
                sitrep_state=room.sitrep.state,
            ),
            summary=crisis.summary,
            declared_by=PersonOut.build(crisis.declared_by),
            declared_from=(
                f"WF-{crisis.declared_from_id}"
                if crisis.declared_from_id in room.visible_escalation_ids
                else None
            ),
            level_changed_at=crisis.level_changed_at,
            stood_down_at=crisis.stood_down_at,
            access_version=crisis.access_version,
            roles=[RoleOut.build(slot) for slot in room.slots],
            escalations=[LinkedEscalationOut.build(link) for link in room.links],
            deadlines=[DeadlineOut.build(deadline) for deadline in room.deadlines],
            sitrep=SitrepClockOut(
                due_at=room.sitrep.due_at,
                state=room.sitrep.state,
                state_label=room.sitrep.label,
                interval_minutes=int(interval.total_seconds() // 60) if interval else None,
            ),
            key_facts=[CrisisNoteOut.build(note) for note in room.pinned],
            stand_down_criteria=[CriterionOut.build(result) for result in room.criteria],
        )


class TimelineLineOut(Schema):
    at: UtcTime
    actor: str
    action: str = Field(description="the audit action, e.g. crisis.level_changed")
    label: str
    summary: str
    body: str
    source: str = Field(description="the crisis (CR-…) or one of its escalations (WF-…)")
    escalation_id: int | None
    note_id: int | None = Field(description="the war-room entry it records, which can be pinned")

    @classmethod
    def build(cls, line: CrisisTimelineLine) -> TimelineLineOut:
        return cls.model_validate(line, from_attributes=True)


class TimelinePageOut(Schema):
    count: int
    items: list[TimelineLineOut]


class SitrepSectionOut(Schema):
    escalation_id: int
    escalation: str = Field(description="its reference, WF-…")
    body: str

    @classmethod
    def build(cls, section: SitrepSection | DraftSection) -> SitrepSectionOut:
        if isinstance(section, DraftSection):
            return cls(
                escalation_id=section.escalation_id,
                escalation=section.reference,
                body=section.body,
            )
        return cls(
            escalation_id=section.escalation_id,
            escalation=section.escalation.reference,
            body=section.body,
        )


class SitrepOut(Schema):
    id: int
    audience: str
    number: int = Field(description="counted per audience")
    language: str
    subject: str
    body: str = Field(description="the shared text")
    sections: list[SitrepSectionOut] = Field(
        description="the sections on escalations you may see (there may be others)"
    )
    level: Level
    covers_from: UtcTime
    sent_at: UtcTime
    sent_by: PersonOut
    was_due_at: UtcTime | None = Field(description="for the sitrep of record: when it was due")
    is_late: bool
    next_sitrep_due_at: UtcTime | None

    @classmethod
    def build(cls, reading: SitrepReading) -> SitrepOut:
        sitrep = reading.sitrep
        return cls(
            id=sitrep.pk,
            sections=[SitrepSectionOut.build(section) for section in reading.sections],
            audience=sitrep.audience,
            number=sitrep.number,
            language=sitrep.language,
            subject=sitrep.subject,
            body=sitrep.body,
            level=Level(sitrep.level),
            covers_from=sitrep.covers_from,
            sent_at=sitrep.sent_at,
            sent_by=PersonOut.build(sitrep.sent_by),
            was_due_at=sitrep.was_due_at,
            is_late=sitrep.is_late,
            next_sitrep_due_at=sitrep.crisis.next_sitrep_due_at,
        )


class SitrepDraftOut(Schema):
    audience: str
    audience_name: str
    detail: str = Field(description="full, partner or public: how much the draft says")
    language: str
    languages: list[str] = Field(description="the languages this audience's template has")
    number: int = Field(description="the number it will have when sent")
    subject: str
    body: str = Field(description="the shared text, from what every reader may see")
    sections: list[SitrepSectionOut] = Field(
        description="one per restricted escalation you may see, for its readers only"
    )
    warnings: list[str] = Field(description="who will not read what, to know before sending")
    covers_from: UtcTime
    template_digest: str

    @classmethod
    def build(cls, draft: SitrepDraft) -> SitrepDraftOut:
        return cls(
            audience=draft.audience.code,
            audience_name=draft.audience.name,
            detail=draft.audience.detail,
            language=draft.language,
            languages=list(draft.languages),
            number=draft.number,
            subject=draft.subject,
            body=draft.body,
            sections=[SitrepSectionOut.build(section) for section in draft.sections],
            warnings=list(draft.warnings),
            covers_from=draft.covers_from,
            template_digest=draft.template_digest,
        )
