"""Every change to partner requests is one named action here: checked, written and
audited (with the escalation's id, so it reads on the escalation's timeline) in one
transaction. Views and the API find the escalation with ``access_escalation`` and the
request with ``selectors.access_partner_request`` first, then call these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.coordination.models import (
    TRANSITIONS,
    USUAL_TEAM,
    AnswerOutcome,
    PartnerRequest,
    RequestKind,
    RequestStatus,
)
from watchfloor.coordination.permissions import may_answer, may_ask_partners, may_withdraw
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.core.validation import clean_text as _text
from watchfloor.core.validation import require
from watchfloor.escalations.models import Escalation, Status
from watchfloor.people.models import Team
from watchfloor.people.oncall import on_call_now

if TYPE_CHECKING:
    from watchfloor.people.models import User

QUESTION_MAX = 5_000
CONTEXT_MAX = 20_000
ANSWER_MAX = 20_000
REASON_MAX = 5_000
ATTACHMENTS_MAX = 20
REFERENCE_MAX = 2_000
# A request is for something needed soon; a quarter away is a typing mistake.
DUE_MAX_AHEAD = timedelta(days=90)
DEFAULT_CHASE_INTERVAL = timedelta(hours=4)
# A document id in a document system: a prefix in capitals, a hyphen, then the id.
_DOCUMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,15}-[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
DOCUMENT_ID_EXAMPLE = "LEGAL-2026-0142"


# ---------------------------------------------------------------- who may do what


# ---------------------------------------------------------------- values


def resolve_due_at(
    *, now: datetime, due_at: datetime | None = None, due_within: timedelta | None = None
) -> datetime:
    """The deadline as a UTC instant: a time given with its zone, or a span from ``now``.

    A span is real elapsed time (added in UTC), so "within 24 hours" is 24 hours even
    across a daylight-saving change in the team's zone.
    """
    if (due_at is None) == (due_within is None):
        raise InvalidInput(
            "give the due time either as a time (due_at) or as a span from now (due_within)",
            field="due_at",
        )
    if due_within is not None:
        if due_within <= timedelta(0):
            raise InvalidInput("due_within must be a positive span, e.g. PT4H", field="due_within")
        if due_within > DUE_MAX_AHEAD:
            raise InvalidInput(
                f"due_within may be at most {DUE_MAX_AHEAD.days} days", field="due_within"
            )
        return now.astimezone(UTC) + due_within
    assert due_at is not None
    if due_at.tzinfo is None or due_at.utcoffset() is None:
        raise InvalidInput(
            "the due time must carry its zone or offset, e.g. 2026-11-26T18:00:00+09:00",
            field="due_at",
        )
    due = due_at.astimezone(UTC)
    if due <= now:
        raise InvalidInput(
            "the due time has already passed; give a time in the future", field="due_at"
        )
    if due - now > DUE_MAX_AHEAD:
        raise InvalidInput(
            f"the due time is more than {DUE_MAX_AHEAD.days} days away; check the date",
            field="due_at",
        )
    return due


def clean_attachments(references: list[str] | None) -> list[dict[str, str]]:
    """Attachments by reference: http(s) URLs or document ids, never files.

    A URL must be absolute, http or https, with a host and without a user name or
    password in it (it is shown to everyone who can see the request).
    """
    items = list(references or [])
    if len(items) > ATTACHMENTS_MAX:
        raise InvalidInput(f"at most {ATTACHMENTS_MAX} attachments", field="attachments")
    clean: list[dict[str, str]] = []
    for index, raw in enumerate(items):
        field = f"attachments[{index}]"
        value = (raw or "").strip()
        if not value:
            raise InvalidInput("an attachment reference is empty", field=field)
        if len(value) > REFERENCE_MAX:
            raise InvalidInput(
                f"the reference is {len(value)} characters long; the limit is {REFERENCE_MAX}",
                field=field,
            )
        item = _attachment(value, field=field)
        if item not in clean:
            clean.append(item)
    return clean


def _attachment(value: str, *, field: str) -> dict[str, str]:
    if _DOCUMENT_ID.match(value):
        return {"kind": "document", "reference": value}
    if re.search(r"\s", value):
        raise InvalidInput(f"'{value}' contains spaces; a URL or document id has none", field=field)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            f"'{value}' is neither an http(s) URL nor a document id such as {DOCUMENT_ID_EXAMPLE}",
            field=field,
        )
    if not parts.hostname:
        raise InvalidInput(f"'{value}' has no host name", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "the URL carries a user name or password; share a link without credentials",
            field=field,
        )
    return {"kind": "url", "reference": value}


def _partner_team(code: str) -> Team:
    team = Team.objects.filter(code=(code or "").strip(), kind=Team.Kind.PARTNER).first()
    if team is None:
        known = ", ".join(
            Team.objects.filter(kind=Team.Kind.PARTNER).values_list("code", flat=True)
        )
        raise InvalidInput(f"unknown partner team '{code}'; ask one of {known}", field="team")
    return team


def _kind(value: str) -> str:
    if value not in RequestKind.values:
        raise InvalidInput(
            f"unknown request kind '{value}'; use one of {', '.join(RequestKind.values)}",
            field="kind",
        )
    return value


def _move(partner_request: PartnerRequest, to_status: str) -> None:
    if to_status not in TRANSITIONS[partner_request.status]:
        raise Conflict(
            f"{partner_request.reference} is {partner_request.get_status_display().lower()}; "
            "it can no longer change",
            field="status",
        )
    partner_request.status = to_status


def _facts(partner_request: PartnerRequest) -> dict[str, Any]:
    """What every event about a request carries, so the timeline reads without a lookup."""
    return {
        "request": partner_request.pk,
        "reference": partner_request.reference,
        "team": partner_request.team.code,
        "team_name": partner_request.team.name,
        "kind": partner_request.kind,
        "kind_label": RequestKind(partner_request.kind).label,
        "due_at": partner_request.due_at,
    }


# ---------------------------------------------------------------- asking


@transaction.atomic
def share_escalation_with_team(
    *,
    escalation: Escalation,
    team: Team,
    actor: User,
    partner_request: PartnerRequest | None = None,
) -> bool:
    """Add ``team`` to those the escalation is shared with (need to know); True when it
    was not shared before. Restricted escalations stay restricted: sharing never adds
    anyone to an access list."""
    if escalation.shared_with_teams.filter(pk=team.pk).exists():
        return False
    before = sorted(escalation.shared_with_teams.values_list("code", flat=True))
    escalation.shared_with_teams.add(team)
    # Who may see it changed: an access form read before this is now stale.
    Escalation.objects.filter(pk=escalation.pk).update(
        updated_at=clock.now(), access_version=F("access_version") + 1
    )
    record_event(
        action=AuditAction.PARTNER_REQUEST_SHARED,
        actor=actor,
        target=escalation,
        escalation_id=escalation.pk,
        data={
            "team": team.code,
            "team_name": team.name,
            "request": partner_request.pk if partner_request else None,
            "before": before,
            "after": sorted([*before, team.code]),
        },
    )
    return True


@transaction.atomic
def send_partner_request(
    *,
    escalation: Escalation,
    actor: User,
    team_code: str,
    kind: str,
    question: str,
    due_at: datetime | None = None,
    due_within: timedelta | None = None,
    context: str = "",
) -> PartnerRequest:
    """Ask a partner team something specific about ``escalation`` by a deadline. Without
    ``team_code``, the team usually asked for ``kind`` (``models.USUAL_TEAM``).

    The escalation is shared with the team (audited) so its members can read it; a
    restricted escalation must already list a member of the team on its access list,
    because sharing does not widen a restricted escalation's access list.
    """
    require(may_ask_partners(actor), "your role cannot ask partner teams")
    # Locked, so a concurrent change of who may see it queues behind this one.
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.merged_into_id is not None:
        raise Conflict(
            f"{escalation.reference} was merged into WF-{escalation.merged_into_id}; ask there",
            field="escalation",
        )
    if escalation.status == Status.CLOSED:
        raise Conflict(
            f"{escalation.reference} is closed; reopen it to ask a partner", field="escalation"
        )
    kind = _kind(kind)
    # Without a team, the one usually asked for this kind (Legal for a legal review).
    team = _partner_team(team_code or USUAL_TEAM[RequestKind(kind)])
    question = _text(question, field="question", max_length=QUESTION_MAX, required=True)
    context = _text(context, field="context", max_length=CONTEXT_MAX, required=False)
    now = clock.now()
    due = resolve_due_at(now=now, due_at=due_at, due_within=due_within)
    if (
        escalation.is_restricted
        and not escalation.access_list.filter(team=team, is_active=True).exists()
    ):
        raise Conflict(
            f"{escalation.reference} is restricted and nobody in {team.name} is on its access "
            f"list, so they could not read the request; a lead can add the {team.name} "
            "person who should answer under 'Who can see it' first",
            field="team",
        )
    partner_request = PartnerRequest.objects.create(
        escalation=escalation,
        team=team,
        kind=kind,
        question=question,
        context=context,
        due_at=due,
        requested_by=actor,
        requested_at=now,
    )
    shared = share_escalation_with_team(
        escalation=escalation, team=team, actor=actor, partner_request=partner_request
    )
    if shared:
        partner_request.shared_escalation = True
        partner_request.save(update_fields=["shared_escalation"])
    record_event(
        action=AuditAction.PARTNER_REQUEST_SENT,
        actor=actor,
        target=partner_request,
        escalation_id=escalation.pk,
        data={
            **_facts(partner_request),
            "question": question,
            "context": context,
            "shared_escalation": shared,
        },
    )
    return partner_request


# ---------------------------------------------------------------- answering


@transaction.atomic
def answer_partner_request(
    *,
    partner_request: PartnerRequest,
    actor: User,
    outcome: str,
    answer: str = "",
    attachments: list[str] | None = None,
) -> PartnerRequest:
    """The team's answer: approve, advise or decline, with text (required to advise or
    decline) and attachments by reference. It lands on the escalation's timeline."""
    partner_request = (
        PartnerRequest.objects.select_for_update(of=("self",))
        .select_related("team", "escalation")
        .get(pk=partner_request.pk)
    )
    require(
        may_answer(actor, partner_request),
        f"only members of {partner_request.team.name} may answer this request",
    )
    if outcome not in AnswerOutcome.values:
        raise InvalidInput(
            f"unknown outcome '{outcome}'; use one of {', '.join(AnswerOutcome.values)}",
            field="outcome",
        )
    answer = _text(
        answer, field="answer", max_length=ANSWER_MAX, required=outcome != AnswerOutcome.APPROVE
    )
    items = clean_attachments(attachments)
    _move(partner_request, RequestStatus.ANSWERED)
    now = clock.now()
    partner_request.outcome = outcome
    partner_request.answer = answer
    partner_request.attachments = items
    partner_request.answered_by = actor
    partner_request.answered_at = now
    partner_request.save(
        update_fields=["status", "outcome", "answer", "attachments", "answered_by", "answered_at"]
    )
    Escalation.objects.filter(pk=partner_request.escalation_id).update(updated_at=now)
    record_event(
        action=AuditAction.PARTNER_REQUEST_ANSWERED,
        actor=actor,
        target=partner_request,
        escalation_id=partner_request.escalation_id,
        data={
            **_facts(partner_request),
            "outcome": outcome,
            "outcome_label": AnswerOutcome(outcome).label,
            "answer": answer,
            "attachments": items,
            "late": now > partner_request.due_at,
        },
    )
    return partner_request


@transaction.atomic
def withdraw_partner_request(
    *, partner_request: PartnerRequest, actor: User, reason: str
) -> PartnerRequest:
    """No longer needed: the team stops being asked (the escalation stays shared)."""
    require(may_withdraw(actor), "your role cannot withdraw partner requests")
    partner_request = (
        PartnerRequest.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=partner_request.pk)
    )
    reason = _text(reason, field="reason", max_length=REASON_MAX, required=True)
    _move(partner_request, RequestStatus.WITHDRAWN)
    partner_request.withdrawn_by = actor
    partner_request.withdrawn_at = clock.now()
    partner_request.withdraw_reason = reason
    partner_request.save(
        update_fields=["status", "withdrawn_by", "withdrawn_at", "withdraw_reason"]
    )
    record_event(
        action=AuditAction.PARTNER_REQUEST_WITHDRAWN,
        actor=actor,
        target=partner_request,
        escalation_id=partner_request.escalation_id,
        data={**_facts(partner_request), "reason": reason},
    )
    return partner_request


# ---------------------------------------------------------------- chasing


@dataclass(frozen=True)
class Chase:
    """One chase of an overdue request: who to remind (the team's people on call for the
    escalation's market), for the notification worker to send."""

    partner_request: PartnerRequest
    number: int
    overdue_by: timedelta
    on_call: list[User]


def chase_interval() -> timedelta:
    """``WATCHFLOOR_PARTNER_REQUEST_CHASE_INTERVAL`` (a timedelta, or minutes), else 4 h."""
    configured = getattr(settings, "WATCHFLOOR_PARTNER_REQUEST_CHASE_INTERVAL", None)
    if configured is None:
        return DEFAULT_CHASE_INTERVAL
    if isinstance(configured, timedelta):
        return configured
    return timedelta(minutes=float(configured))


@transaction.atomic
def chase_overdue_requests(*, now: datetime, interval: timedelta | None = None) -> list[Chase]:
    """Record a chase of every open request past its due time on an open escalation still
    shared with the team asked, at most once per ``interval`` (default
    :func:`chase_interval`) per request. Safe to run as often as a scheduler likes, and
    from several workers: a request already chased within the interval is left alone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput("now must be timezone-aware", field="now")
    every = interval if interval is not None else chase_interval()
    if every <= timedelta(0):
        raise InvalidInput("the chase interval must be positive", field="interval")
    cutoff = now - every
    due = (
        # Lock the requests only: the joined market is nullable, and PostgreSQL cannot
        # lock the nullable side of an outer join.
        PartnerRequest.objects.select_for_update(of=("self",))
        .filter(status=RequestStatus.OPEN, due_at__lt=now, escalation__is_open=True)
        # Only while the team can still read the escalation (a lead may have unshared it).
        .filter(escalation__shared_with_teams=F("team"))
        .exclude(last_chased_at__gt=cutoff)
        .select_related("team", "escalation__primary_market")
        .order_by("due_at", "id")
    )
    chases = []
    for partner_request in due:
        previous = partner_request.last_chased_at
        # Conditional: a worker that got here first has moved last_chased_at already.
        updated = PartnerRequest.objects.filter(
            pk=partner_request.pk, last_chased_at=previous, status=RequestStatus.OPEN
        ).update(last_chased_at=now, chase_count=partner_request.chase_count + 1)
        if not updated:
            continue
        partner_request.last_chased_at = now
        partner_request.chase_count += 1
        market = partner_request.escalation.primary_market
        people = on_call_now(partner_request.team.code, market.code if market else None, now)
        overdue_by = now - partner_request.due_at
        record_event(
            action=AuditAction.PARTNER_REQUEST_CHASED,
            actor=None,
            target=partner_request,
            escalation_id=partner_request.escalation_id,
            data={
                **_facts(partner_request),
                "chase": partner_request.chase_count,
                "overdue_minutes": int(overdue_by.total_seconds() // 60),
                "on_call": [person.username for person in people],
            },
        )
        chases.append(Chase(partner_request, partner_request.chase_count, overdue_by, people))
    return chases
