"""The crises API: thin handlers over ``selectors`` and ``services``, mounted at /crises.

Each handler finds the crisis with ``access_crisis`` (a missing crisis and one the caller
may not see give the same 404), any escalation it names with ``access_escalation``, calls
one service or selector, and returns a schema. Every write is a crisis service, which
checks the caller's role and writes the audit event; looking at a restricted crisis is
recorded as the war room records it. Errors are ``core.errors`` exceptions, rendered by
``watchfloor.api``.

The schemas are in ``crises.schemas``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied
from watchfloor.crises import selectors, services
from watchfloor.crises.config import crisis_config
from watchfloor.crises.drafting import draft_sitrep
from watchfloor.crises.input_schemas import (
    CrisisLinkIn,
    CrisisNoteIn,
    CrisisQuery,
    DeclareIn,
    DraftQuery,
    LevelIn,
    PinIn,
    RoleIn,
    SitrepIn,
    TimelineQuery,
    UnlinkIn,
)
from watchfloor.crises.permissions import may_work_crisis
from watchfloor.crises.schemas import (
    CrisisDetailOut,
    CrisisNoteOut,
    CrisisPageOut,
    CrisisSummaryOut,
    RoleAssignmentOut,
    SitrepDraftOut,
    SitrepOut,
    TimelineLineOut,
    TimelinePageOut,
)
from watchfloor.crises.timeline import crisis_timeline
from watchfloor.escalations.selectors import access_escalation
from watchfloor.people.auth import request_actor
from watchfloor.people.services import get_user_named_in
from watchfloor.web.api import (
    READ_ERRORS,
    WRITE_ERRORS,
    Id,
)

if TYPE_CHECKING:
    from watchfloor.crises.models import Crisis
    from watchfloor.escalations.models import Escalation
    from watchfloor.people.models import User

router = Router(tags=["crises"])


def _access(request: HttpRequest, crisis_id: int) -> Crisis:
    return selectors.access_crisis(actor=request_actor(request), crisis_id=crisis_id)


def _escalation(request: HttpRequest, escalation_id: int, *, field: str) -> Escalation:
    try:
        return access_escalation(actor=request_actor(request), escalation_id=escalation_id)
    except NotFound as exc:
        raise NotFound(exc.message, field=field) from exc


def _require_work(actor: User, message: str) -> None:
    if not may_work_crisis(actor):
        raise PermissionDenied(message)


# ---------------------------------------------------------------- outputs


def _detail(crisis: Crisis, viewer: User) -> CrisisDetailOut:
    room = selectors.war_room(crisis=crisis, viewer=viewer, now=clock.now(), with_criteria=True)
    return CrisisDetailOut.build_from(room)


# ---------------------------------------------------------------- reading


@router.get("", response={200: CrisisPageOut, **READ_ERRORS})
def list_crises(request: HttpRequest, filters: Query[CrisisQuery]):
    """Crises you may see: active ones first, the most urgent level first, then the nearest
    sitrep; closed ones after. Counts include only what you may see."""
    now, config = clock.now(), crisis_config()
    crises = selectors.filtered_crisis_list(
        user=request_actor(request), filters=filters.as_filters()
    )
    page = crises[filters.offset : filters.offset + filters.limit]
    return CrisisPageOut(
        count=crises.count(),
        items=[CrisisSummaryOut.build(crisis, now=now, config=config) for crisis in page],
    )


@router.get("/{crisis_id}", response={200: CrisisDetailOut, **READ_ERRORS})
def get_crisis(request: HttpRequest, crisis_id: Path[Id]):
    """The war room: level, roles and holders, linked escalations, next deadlines, the next
    sitrep and the stand-down criteria. Looking at a restricted crisis is recorded."""
    crisis = _access(request, crisis_id)
    services.record_restricted_view(crisis=crisis, actor=request_actor(request), channel="api")
    return _detail(crisis, request_actor(request))


@router.get("/{crisis_id}/timeline", response={200: TimelinePageOut, **READ_ERRORS})
def get_timeline(request: HttpRequest, crisis_id: Path[Id], page: Query[TimelineQuery]):
    """The crisis's events, entries and its visible escalations' decisions, in log order
    (oldest first unless ``newest_first``). Recorded like the detail for a restricted one."""
    actor = request_actor(request)
    crisis = _access(request, crisis_id)
    services.record_restricted_view(crisis=crisis, actor=actor, channel="api")
    visible = selectors.visible_escalation_ids(crisis=crisis, viewer=actor)
    lines = crisis_timeline(
        crisis_events=selectors.crisis_events(crisis),
        escalation_events=selectors.escalation_events(
            visible, actions=selectors.ESCALATION_DECISION_ACTIONS
        ),
        visible_escalation_ids=visible,
        viewer=actor,
        crisis_reference=crisis.reference,
        newest_first=page.newest_first,
    )
    return TimelinePageOut(
        count=len(lines),
        items=[
            TimelineLineOut.build(line) for line in lines[page.offset : page.offset + page.limit]
        ],
    )


@router.get("/{crisis_id}/sitreps/draft", response={200: SitrepDraftOut, **READ_ERRORS})
def get_sitrep_draft(request: HttpRequest, crisis_id: Path[Id], query: Query[DraftQuery]):
    """The pre-draft for an audience and language, from what changed since the last sitrep
    to that audience. Nothing is saved."""
    actor = request_actor(request)
    crisis = _access(request, crisis_id)
    _require_work(actor, "your role cannot send sitreps")
    services.record_restricted_view(crisis=crisis, actor=actor, channel="api")
    draft = draft_sitrep(
        crisis=crisis,
        audience=query.audience,
        language=query.language,
        viewer=actor,
        now=clock.now(),
    )
    return SitrepDraftOut.build(draft)


# ---------------------------------------------------------------- declaring and commanding


@router.post("", response={201: CrisisDetailOut, **WRITE_ERRORS})
def declare_crisis(request: HttpRequest, payload: DeclareIn):
    """Declare a crisis from an escalation (``declared_from``) or from scratch. The commander
    is you unless named; a restricted crisis keeps you and the commander on its access list."""
    actor = request_actor(request)
    _require_work(actor, "your role cannot declare a crisis")
    origin = (
        _escalation(request, payload.declared_from, field="declared_from")
        if payload.declared_from is not None
        else None
    )
    others = [
        _escalation(request, escalation_id, field=f"escalations.{index}")
        for index, escalation_id in enumerate(payload.escalations)
    ]
    commander = (
        get_user_named_in(payload.commander, field="commander") if payload.commander else None
    )
    try:
        crisis = services.declare_crisis(
            actor=actor,
            title=payload.title,
            level=payload.level,
            summary=payload.summary,
            markets=payload.markets,
            languages=payload.languages,
            commander=commander,
            declared_from=origin,
            escalations=others,
            reason=payload.reason,
            is_restricted=payload.is_restricted,
            access_usernames=payload.access_list,
        )
    except InvalidInput as exc:
        if exc.field != "holder":
            raise
        raise InvalidInput(exc.message, field="commander") from exc
    return Status(201, _detail(crisis, actor))


@router.post("/{crisis_id}/level", response={200: CrisisDetailOut, **WRITE_ERRORS})
def change_level(request: HttpRequest, crisis_id: Path[Id], payload: LevelIn):
    """Move the crisis along the level table, with a reason (commander, deputy, leads,
    admins). Standing down checks the stand-down criteria; closing needs a stand-down first."""
    crisis = services.change_level(
        crisis=_access(request, crisis_id),
        to_level=payload.to_level,
        reason=payload.reason,
        confirmed_criteria=payload.confirmed_criteria,
        actor=request_actor(request),
    )
    return _detail(crisis, request_actor(request))


@router.post("/{crisis_id}/roles", response={200: RoleAssignmentOut, **WRITE_ERRORS})
def hand_over_role(request: HttpRequest, crisis_id: Path[Id], payload: RoleIn):
    """Give a role to someone: an assignment when it is open, a handover when it is held
    (commander, deputy, leads, admins). The holder must be able to see the crisis. Send
    the crisis's ``access_version`` as ``expected_version``: if the roles or the access
    changed since you read them, the answer is 409 (code ``stale``) and nothing changes."""
    crisis = _access(request, crisis_id)
    assignment = services.hand_over_role(
        crisis=crisis,
        expected_version=payload.expected_version,
        role=payload.role,
        market=payload.market,
        to_user=get_user_named_in(payload.holder, field="holder"),
        note=payload.note,
        actor=request_actor(request),
    )
    return RoleAssignmentOut.build(assignment)


# ---------------------------------------------------------------- working the crisis


@router.post("/{crisis_id}/notes", response={201: CrisisNoteOut, **WRITE_ERRORS})
def add_note(request: HttpRequest, crisis_id: Path[Id], payload: CrisisNoteIn):
    """Add an entry to the war room's timeline: a note, or a decision of the war room;
    ``pinned`` makes it a key fact. Partners may add notes to crises they see."""
    note = services.add_crisis_note(
        crisis=_access(request, crisis_id),
        body=payload.body,
        kind=payload.kind,
        pinned=payload.pinned,
        actor=request_actor(request),
    )
    return Status(201, CrisisNoteOut.build(note))


@router.put("/{crisis_id}/notes/{note_id}/pin", response={200: CrisisNoteOut, **WRITE_ERRORS})
def pin_fact(request: HttpRequest, crisis_id: Path[Id], note_id: Path[Id], payload: PinIn):
    """Pin an entry as a key fact (it heads the war room and the sitreps), or unpin it."""
    note = selectors.get_note(crisis=_access(request, crisis_id), note_id=note_id)
    note = services.set_fact_pinned(note=note, pinned=payload.pinned, actor=request_actor(request))
    return CrisisNoteOut.build(note)


@router.post("/{crisis_id}/sitreps", response={201: SitrepOut, **WRITE_ERRORS})
def send_sitrep(request: HttpRequest, crisis_id: Path[Id], payload: SitrepIn):
    """Record a sitrep as sent to an audience, exactly as given; an omitted subject, body or
    list of sections is taken from the pre-draft. The shared text is read by everyone who
    may read the sitrep: a restricted escalation goes in a section of its own, read only
    by those who may see it (the draft's ``warnings`` say so). Sending the sitrep of
    record sets when the next is due."""
    actor = request_actor(request)
    crisis = _access(request, crisis_id)
    _require_work(actor, "your role cannot send sitreps")
    subject, body = payload.subject, payload.body
    sections = (
        [(section.escalation_id, section.body) for section in payload.sections]
        if payload.sections is not None
        else None
    )
    if subject is None or body is None or sections is None:
        draft = draft_sitrep(
            crisis=crisis,
            audience=payload.audience,
            language=payload.language,
            viewer=actor,
            now=clock.now(),
        )
        subject = draft.subject if subject is None else subject
        body = draft.body if body is None else body
        if sections is None:
            sections = [(section.escalation_id, section.body) for section in draft.sections]
    sitrep = services.send_sitrep(
        crisis=crisis,
        audience=payload.audience,
        language=payload.language,
        subject=subject,
        body=body,
        sections=sections,
        actor=actor,
    )
    return Status(201, SitrepOut.build(selectors.sitrep_for_reader(sitrep=sitrep, viewer=actor)))


@router.post("/{crisis_id}/escalations", response={201: CrisisDetailOut, **WRITE_ERRORS})
def link_escalation(request: HttpRequest, crisis_id: Path[Id], payload: CrisisLinkIn):
    """Make an escalation part of the crisis (you must be able to see both)."""
    crisis = _access(request, crisis_id)
    services.link_escalation(
        crisis=crisis,
        escalation=_escalation(request, payload.escalation_id, field="escalation_id"),
        reason=payload.reason,
        actor=request_actor(request),
    )
    return Status(201, _detail(crisis, request_actor(request)))


@router.post(
    "/{crisis_id}/escalations/{escalation_id}/unlink",
    response={200: CrisisDetailOut, **WRITE_ERRORS},
)
def unlink_escalation(
    request: HttpRequest, crisis_id: Path[Id], escalation_id: Path[Id], payload: UnlinkIn
):
    """Take an escalation out of the crisis, with a reason; the one it was declared from
    stays."""
    crisis = _access(request, crisis_id)
    services.unlink_escalation(
        crisis=crisis,
        escalation=_escalation(request, escalation_id, field="escalation_id"),
        reason=payload.reason,
        actor=request_actor(request),
    )
    return _detail(crisis, request_actor(request))
