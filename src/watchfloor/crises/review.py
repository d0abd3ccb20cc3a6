"""The post-incident review, pre-filled from the record (its Markdown export is
:mod:`watchfloor.crises.review_markdown`).

What the record can say is computed each time, never typed in: the reconstructed
timeline (the crisis's events and its escalations'), the key moments and the time
between them, which statutory and response clocks were met or missed, the sitreps and
whether each went out on time, the level history and the decisions. The team adds what
went well, what did not, root causes as five-whys chains, contributing factors and
action items with owners and due dates.

Key moments, and where each comes from:

- *incident began*: as entered by the team, else when the earliest linked escalation
  opened (its earliest notice or filing);
- *detected*: when the first linked escalation was filed (else the declaration);
- *acknowledged* / *first action*: the first linked escalation's clock met;
- *contained*: as entered by the team, else the first stand-down;
- *declared*, *stood down*, *closed*: from the crisis itself.

Durations run from detection (time to detect runs from when the incident began). Only
the escalations the reader may see are counted, as everywhere else.

The signal volume curve is the containment figures (``crises.containment``) over the
crisis: new signals and watchlist matches per hour from six hours before the incident
began (or the declaration) until it closed (or now), at most the last
``VOLUME_MAX_HOURS``; readers who may not see signals get none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from watchfloor.crises import selectors
from watchfloor.crises.containment import HOUR, Containment, containment_figures, hour_floor
from watchfloor.crises.drafting import crisis_zone, format_moment
from watchfloor.crises.models import (
    ActionItem,
    Crisis,
    CrisisEscalation,
    CrisisNote,
    Level,
    Review,
    RoleAssignment,
    RootCause,
    Sitrep,
)
from watchfloor.crises.timeline import CrisisTimelineLine, crisis_timeline
from watchfloor.escalations.models import Clock, Decision
from watchfloor.escalations.timeline import CLOCK_STATE_LABELS
from watchfloor.web.countdown import describe_span

if TYPE_CHECKING:
    from watchfloor.people.models import User


@dataclass(frozen=True)
class KeyTime:
    code: str
    label: str
    at: datetime | None
    source: str


@dataclass(frozen=True)
class Span:
    code: str
    label: str
    start: str
    end: str
    value: timedelta | None
    running: bool = False

    @property
    def text(self) -> str:
        if self.value is None:
            return "—"
        if self.value < timedelta(0):
            return f"-{describe_span(-self.value)}"
        text = describe_span(self.value) if self.value >= timedelta(minutes=1) else "0 min"
        return f"{text} so far" if self.running else text


@dataclass(frozen=True)
class ClockOutcome:
    escalation: str
    label: str
    kind: str
    basis: str
    due_at: datetime
    met_at: datetime | None
    state: str

    @property
    def outcome(self) -> str:
        return {
            "met": "Met",
            "met_late": "Missed (met late)",
            "breached": "Missed (still open)",
            "running": "Running",
        }.get(self.state, CLOCK_STATE_LABELS.get(self.state, self.state))

    @property
    def is_missed(self) -> bool:
        return self.state in ("met_late", "breached")


@dataclass(frozen=True)
class LevelStep:
    at: datetime
    actor: str
    from_level: str
    to_level: str
    reason: str
    unmet: tuple[str, ...] = ()


@dataclass
class ReviewFacts:
    crisis: Crisis
    review: Review | None
    now: datetime
    zone: ZoneInfo
    key_times: list[KeyTime]
    spans: list[Span]
    statutory: list[ClockOutcome]
    response_clocks: list[ClockOutcome]
    sitreps: list[Sitrep]
    levels: list[LevelStep]
    decisions: list[Decision]
    war_room_decisions: list[CrisisNote]
    timeline: list[CrisisTimelineLine]
    links: list[CrisisEscalation]
    roles: list[RoleAssignment]
    root_causes: list[RootCause] = field(default_factory=list)
    action_items: list[ActionItem] = field(default_factory=list)
    # New signals and watchlist matches per hour over the crisis (None: not for this reader).
    volume: Containment | None = None

    def key_time(self, code: str) -> datetime | None:
        return next((k.at for k in self.key_times if k.code == code), None)

    def span(self, code: str) -> Span:
        return next(s for s in self.spans if s.code == code)

    @property
    def statutory_summary(self) -> str:
        return _summary(self.statutory)

    @property
    def response_summary(self) -> str:
        return _summary(self.response_clocks)

    @property
    def record_sitreps(self) -> list[Sitrep]:
        return [s for s in self.sitreps if s.was_due_at is not None]

    @property
    def late_sitreps(self) -> int:
        return sum(1 for s in self.sitreps if s.is_late)

    @property
    def open_action_items(self) -> int:
        return sum(1 for item in self.action_items if item.status == ActionItem.Status.OPEN)

    def when(self, moment: datetime | None) -> str:
        return format_moment(moment, self.zone) if moment else "—"


def _summary(outcomes: list[ClockOutcome]) -> str:
    if not outcomes:
        return "none"
    met = sum(1 for o in outcomes if o.state == "met")
    missed = sum(1 for o in outcomes if o.is_missed)
    running = sum(1 for o in outcomes if o.state == "running")
    return f"{met} met, {missed} missed, {running} running"


def _earliest(values) -> datetime | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


# The volume curve starts this long before the incident began, to show what it rose from.
VOLUME_LEAD = timedelta(hours=6)
VOLUME_MAX_HOURS = 14 * 24


def _volume(
    *, crisis: Crisis, viewer: User, escalation_ids: list[int], began: datetime, now: datetime
) -> Containment | None:
    end = crisis.closed_at or now
    start = min(began, crisis.declared_at) - VOLUME_LEAD
    # The figures run in whole hours up to the end of the hour holding ``end``.
    last_hour_ends = hour_floor(end) + HOUR
    hours = max(1, min(VOLUME_MAX_HOURS, -(-(last_hour_ends - start) // HOUR)))
    return containment_figures(
        crisis=crisis,
        viewer=viewer,
        escalation_ids=escalation_ids,
        now=end,
        window=hours * HOUR,
    )


def review_facts(*, crisis: Crisis, viewer: User, now: datetime) -> ReviewFacts:
    crisis = (
        Crisis.objects.select_related("declared_by", "declared_from")
        .prefetch_related("markets")
        .get(pk=crisis.pk)
    )
    review = Review.objects.filter(crisis=crisis).first()
    links = selectors.visible_links(crisis=crisis, viewer=viewer)
    escalations = [link.escalation for link in links]
    clocks = [c for e in escalations for c in e.clocks.all()]

    history = selectors.level_history(crisis)
    levels = [
        LevelStep(
            at=event.occurred_at,
            actor=event.actor_label or "system",
            from_level=str(event.data.get("from", "")),
            to_level=str(event.data.get("to", "")),
            reason=str(event.data.get("reason", "")),
            unmet=tuple(event.data.get("unmet") or ()),
        )
        for event in history
    ]
    first_stand_down = next((step.at for step in levels if step.to_level == Level.STAND_DOWN), None)

    opened = _earliest(e.opened_at for e in escalations)
    filed = _earliest(e.created_at for e in escalations)
    began = (
        (review.incident_started_at if review else None) or opened or filed or crisis.declared_at
    )
    began_source = (
        "entered by the team"
        if review and review.incident_started_at
        else "the earliest linked escalation opened"
        if opened
        else "the crisis was declared"
    )
    detected = filed or crisis.declared_at
    acknowledged = _earliest(c.met_at for c in clocks if c.kind == Clock.Kind.ACKNOWLEDGE)
    first_action = _earliest(c.met_at for c in clocks if c.kind == Clock.Kind.FIRST_ACTION)
    contained = (review.contained_at if review else None) or first_stand_down
    contained_source = (
        "entered by the team" if review and review.contained_at else "the first stand-down"
    )
    key_times = [
        KeyTime("began", "Incident began", began, began_source),
        KeyTime(
            "detected",
            "Detected",
            detected,
            "the first linked escalation was filed" if filed else "the crisis was declared",
        ),
        KeyTime("acknowledged", "First acknowledged", acknowledged, "first acknowledge clock met"),
        KeyTime("first_action", "First action", first_action, "first first-action clock met"),
        KeyTime("declared", "Crisis declared", crisis.declared_at, "the declaration"),
        KeyTime("contained", "Contained", contained, contained_source if contained else ""),
        KeyTime(
            "stood_down",
            "Stood down",
            crisis.stood_down_at or first_stand_down,
            "the level history",
        ),
        KeyTime("closed", "Closed", crisis.closed_at, "the level history"),
    ]

    def between(
        code: str, label: str, start: datetime | None, end: datetime | None, s: str, e: str
    ):
        return Span(code, label, s, e, end - start if start and end else None)

    spans = [
        between("detect", "Time to detect", began, detected, "incident began", "detected"),
        between(
            "acknowledge", "Time to acknowledge", detected, acknowledged, "detected", "acknowledged"
        ),
        between(
            "first_action",
            "Time to first action",
            detected,
            first_action,
            "detected",
            "first action",
        ),
        between("declare", "Time to declare", detected, crisis.declared_at, "detected", "declared"),
        between("contain", "Time to containment", detected, contained, "detected", "contained"),
        between(
            "stand_down",
            "Time to stand-down",
            crisis.declared_at,
            first_stand_down,
            "declared",
            "first stand-down",
        ),
        Span(
            "duration",
            "Crisis duration",
            "declared",
            "closed",
            (crisis.closed_at or now) - crisis.declared_at,
            running=crisis.closed_at is None,
        ),
    ]

    def outcome(clock: Clock, reference: str) -> ClockOutcome:
        return ClockOutcome(
            escalation=reference,
            label=clock.label,
            kind=clock.kind,
            basis=clock.basis,
            due_at=clock.due_at,
            met_at=clock.met_at,
            state=clock.state(now),
        )

    statutory = [
        outcome(c, e.reference)
        for e in escalations
        for c in e.clocks.all()
        if c.kind == Clock.Kind.STATUTORY
    ]
    response_clocks = [
        outcome(c, e.reference)
        for e in escalations
        for c in e.clocks.all()
        if c.kind != Clock.Kind.STATUTORY
    ]
    decisions = sorted(
        (d for e in escalations for d in e.decisions.all()), key=lambda d: (d.decided_at, d.pk)
    )
    ids = [e.pk for e in escalations]
    timeline = crisis_timeline(
        crisis_events=selectors.crisis_events(crisis),
        escalation_events=selectors.escalation_events(ids),
        visible_escalation_ids=ids,
        viewer=viewer,
        crisis_reference=crisis.reference,
        newest_first=False,
    )
    return ReviewFacts(
        crisis=crisis,
        review=review,
        now=now,
        zone=crisis_zone(crisis),
        key_times=key_times,
        spans=spans,
        statutory=statutory,
        response_clocks=response_clocks,
        sitreps=list(
            Sitrep.objects.filter(crisis=crisis).select_related("sent_by").order_by("sent_at", "pk")
        ),
        levels=levels,
        decisions=decisions,
        war_room_decisions=list(
            crisis.notes.filter(kind=CrisisNote.Kind.DECISION).select_related("author")
        ),
        timeline=timeline,
        links=links,
        roles=selectors.role_history(crisis),
        root_causes=list(review.root_causes.select_related("created_by")) if review else [],
        action_items=list(review.action_items.select_related("owner", "closed_by"))
        if review
        else [],
        volume=_volume(crisis=crisis, viewer=viewer, escalation_ids=ids, began=began, now=now),
    )
