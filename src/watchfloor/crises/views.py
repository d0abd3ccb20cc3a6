"""The crisis pages: the list, declaring, the war room (and the fragment it refreshes
itself from). The war room's actions are in ``war_room_views``, sitreps in
``sitrep_views``, handoffs in ``handoff_views``, the post-incident review in
``review_views``.

Each view finds the crisis through ``access_crisis`` first (a hidden crisis is as
missing as a missing one), then calls one service or selector, and renders or
redirects. Actions on the war room come back to it with the service's outcome, or show
it again with the input kept and the error at its field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, Concatenate

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.audit.selectors import log_position
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied, WatchfloorError
from watchfloor.core.shared_reads import shared_reads
from watchfloor.core.validation import require
from watchfloor.crises import containment, hooks, selectors, services
from watchfloor.crises.charts import containment_chart
from watchfloor.crises.config import crisis_config
from watchfloor.crises.drafting import crisis_zone
from watchfloor.crises.forms import (
    AccessForm,
    ClusterLinkForm,
    DeclareForm,
    DetailsForm,
    LevelForm,
    LinkForm,
    NoteForm,
    ReleaseRoleForm,
    RoleForm,
    UnlinkForm,
    WatchlistEntryForm,
    WatchlistRemoveForm,
)
from watchfloor.crises.models import Crisis, Level
from watchfloor.crises.permissions import (
    may_add_crisis_notes,
    may_command_crisis,
    may_work_crisis,
)
from watchfloor.crises.selectors import WarRoom
from watchfloor.crises.selectors import room as war_room_selectors
from watchfloor.crises.timeline import crisis_timeline
from watchfloor.escalations.models import Decision
from watchfloor.escalations.selectors import access_escalation
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import User
from watchfloor.people.services import get_user_named_in
from watchfloor.signals.permissions import can_see_signals
from watchfloor.web.forms import ServiceErrorForm, carry_read_version
from watchfloor.web.views import shows_domain_errors

# war_room_views.py still imports the old private name; it changes elsewhere at present,


# ---------------------------------------------------------------- list and declare


@login_required
@require_GET
@shows_domain_errors
def crisis_list(request: AuthenticatedRequest) -> HttpResponse:
    config = crisis_config()
    now = clock.now()
    crises = list(selectors.crisis_list(user=request.user))
    rows = [(crisis, selectors.sitrep_clock(crisis, now=now, config=config)) for crisis in crises]
    return render(
        request,
        "crises/list.html",
        {
            "active": [(c, s) for c, s in rows if c.is_active],
            "closed": [(c, s) for c, s in rows if not c.is_active],
            "now": now,
            "may_declare": may_work_crisis(request.user),
            "drills_link": hooks.drills_index_link(),
            **hooks.crisis_list_panels(viewer=request.user, now=now),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def crisis_declare(request: AuthenticatedRequest) -> HttpResponse:
    """Declare a crisis: from scratch, or from the escalation named by ``?escalation=``."""
    require(may_work_crisis(request.user), "your role cannot declare a crisis")
    source_id = request.POST.get("declared_from") or request.GET.get("escalation")
    origin = access_escalation(actor=request.user, escalation_id=source_id) if source_id else None
    initial: dict[str, Any] = {}
    if origin is not None:
        initial = {
            "title": origin.title,
            "summary": origin.summary,
            "markets": [m.code for m in origin.markets.all()],
            "languages": ", ".join(origin.languages or []),
            "is_restricted": origin.is_restricted,
            "access_list": [u.username for u in origin.access_list.all()],
        }
    form = DeclareForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        commander=request.user.username,
    )
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                others = [
                    access_escalation(actor=request.user, escalation_id=pk)
                    for pk in data["escalations"]
                ]
                crisis = services.declare_crisis(
                    actor=request.user,
                    title=data["title"],
                    level=data["level"],
                    summary=data["summary"],
                    markets=data["markets"],
                    languages=data["languages"],
                    commander=get_user_named_in(data["commander"], field="holder"),
                    declared_from=origin,
                    escalations=others,
                    reason=data["reason"],
                    is_restricted=data["is_restricted"],
                    access_usernames=data["access_list"],
                )
            except PermissionDenied:
                raise
            except WatchfloorError as error:
                if isinstance(error, NotFound) and error.field == "escalation_id":
                    error = InvalidInput(error.message, field="escalations")
                form.add_service_error(error)
                status = 400 if isinstance(error, NotFound) else error.http_status
            else:
                messages.success(
                    request,
                    f"{crisis.reference} declared at {Level(crisis.level).label}; "
                    "you are in the war room.",
                )
                return redirect("crisis-detail", crisis_id=crisis.pk)
    return render(request, "crises/declare.html", {"form": form, "origin": origin}, status=status)


# ---------------------------------------------------------------- the war room


@dataclass(frozen=True)
class LogEntry:
    """One line of the decision log: a war-room decision or an escalation's decision."""

    at: datetime
    source: str
    text: str
    by: str
    state: str = ""
    state_label: str = ""
    detail: str = ""
    escalation_id: int | None = None


def decision_log(room: WarRoom) -> list[LogEntry]:
    entries = [
        LogEntry(
            at=note.created_at,
            source=room.crisis.reference,
            text=note.body,
            by=note.author.display_name,
        )
        for note in room.crisis_decisions
    ]
    entries += [
        LogEntry(
            at=decision.decided_at,
            source=f"WF-{decision.escalation_id}",
            text=f"{decision.action.label}"
            + (f" in {', '.join(decision.countries)}" if decision.countries else "")
            + f" under {decision.policy_version.policy.name} v{decision.policy_version.version}",
            by=decision.decided_by.display_name,
            state=decision.state,
            state_label=Decision.State(decision.state).label,
            detail=decision.rationale,
            escalation_id=decision.escalation_id,
        )
        for decision in room.escalation_decisions()
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)[
        : war_room_selectors.DECISION_LOG_LIMIT
    ]


def _live_context(
    request: AuthenticatedRequest, crisis: Crisis, *, with_criteria: bool
) -> dict[str, Any]:
    now = clock.now()
    room = selectors.war_room(
        crisis=crisis, viewer=request.user, now=now, with_criteria=with_criteria
    )
    watched = containment.war_room_signals(
        crisis=room.crisis,
        viewer=request.user,
        escalation_ids=[link.escalation_id for link in room.links],
        now=now,
    )
    return {
        "watched": watched,
        "containment_chart": containment_chart(
            watched.containment.hours, zone=timezone.get_current_timezone_name()
        )
        if watched.containment
        else "",
        "may_watch": _watches(request.user, room),
        "crisis": room.crisis,
        "room": room,
        "now": now,
        "market_zone": crisis_zone(room.crisis).key,
        "timeline": crisis_timeline(
            crisis_events=room.events,
            escalation_events=room.decision_events,
            visible_escalation_ids=room.visible_escalation_ids,
            viewer=request.user,
            crisis_reference=room.crisis.reference,
        )[: war_room_selectors.TIMELINE_LIMIT],
        "timeline_limit": war_room_selectors.TIMELINE_LIMIT,
        "decision_log": decision_log(room),
        "decision_count": room.crisis_decision_count
        + sum(len(link.escalation.decisions.all()) for link in room.links),
        "may_command": may_command_crisis(request.user, room.crisis, current=room.current),
        "may_work": may_work_crisis(request.user),
        "may_unlink": room.crisis.is_active and may_work_crisis(request.user),
        "pinned_ids": {note.pk for note in room.pinned},
        "live_url": reverse("crisis-live", args=[room.crisis.pk]),
    }


@dataclass(frozen=True)
class ActionForm:
    build: Callable[[WarRoom, Any, User], ServiceErrorForm]
    allowed: Callable[[User, WarRoom], bool]
    refusal: str


def _commands(user: User, room: WarRoom) -> bool:
    return room.crisis.is_active and may_command_crisis(user, room.crisis, current=room.current)


def _works(user: User, room: WarRoom) -> bool:
    return room.crisis.is_active and may_work_crisis(user)


def _watches(user: User, room: WarRoom) -> bool:
    return _works(user, room) and can_see_signals(user)


ACTION_FORMS: dict[str, ActionForm] = {
    "note": ActionForm(
        lambda room, data, user: NoteForm(data, prefix="note", may_work=may_work_crisis(user)),
        lambda user, room: room.crisis.is_active and may_add_crisis_notes(user),
        "your role cannot add to the war room",
    ),
    "level": ActionForm(
        lambda room, data, user: LevelForm(
            data, prefix="level", current=room.crisis.level, criteria=room.criteria
        ),
        _commands,
        "only the incident commander, the deputy, a lead or an admin may change the level",
    ),
    "role": ActionForm(
        lambda room, data, user: RoleForm(
            data, prefix="role", slots=room.slots, version=room.crisis.access_version
        ),
        _commands,
        "only the incident commander, the deputy, a lead or an admin may hand roles over",
    ),
    "release": ActionForm(
        lambda room, data, user: ReleaseRoleForm(
            data, prefix="release", slots=room.slots, version=room.crisis.access_version
        ),
        _commands,
        "only the incident commander, the deputy, a lead or an admin may change roles",
    ),
    "link": ActionForm(
        lambda room, data, user: LinkForm(data, prefix="link"),
        _works,
        "your role cannot link escalations to a crisis",
    ),
    "cluster": ActionForm(
        lambda room, data, user: ClusterLinkForm(data, prefix="cluster"),
        _watches,
        "your role cannot link signals clusters to a crisis",
    ),
    "watch": ActionForm(
        lambda room, data, user: WatchlistEntryForm(data, prefix="watch"),
        _watches,
        "your role cannot change a crisis's watchlist",
    ),
    "details": ActionForm(
        lambda room, data, user: DetailsForm(
            data,
            prefix="details",
            initial={
                "title": room.crisis.title,
                "summary": room.crisis.summary,
                "markets": [m.code for m in room.crisis.markets.all()],
                "languages": ", ".join(room.crisis.languages or []),
            },
        ),
        _commands,
        "only the commander, the deputy or a lead may change this",
    ),
    "access": ActionForm(
        lambda room, data, user: AccessForm(
            data,
            prefix="access",
            version=room.crisis.access_version,
            is_restricted=room.crisis.is_restricted,
            access_list=[u.username for u in room.crisis.access_list.all()],
        ),
        _commands,
        "only the incident commander, the deputy, a lead or an admin may change who can see this",
    ),
}


def _render_war_room(
    request: AuthenticatedRequest,
    crisis: Crisis,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    version = log_position()  # before reading, so nothing shown is newer than it
    context = _live_context(request, crisis, with_criteria=True)
    room: WarRoom = context["room"]
    # Two forms list every person (hand a role over, who can see it): read once.
    with shared_reads():
        action_forms = {
            name: bound[1] if bound and bound[0] == name else action.build(room, None, user)
            for name, action in ACTION_FORMS.items()
            if action.allowed(user, room)
        }
    carry_read_version(action_forms, version)
    context.update(
        {
            "forms": action_forms,
            "bound_form": bound[0] if bound else "",
            "audiences": room.config.settings.sitreps.audiences,
            "drill_links": hooks.drill_links(room.crisis),
            **hooks.war_room_panels(crisis=room.crisis, viewer=user, now=clock.now()),
        }
    )
    return render(request, "crises/war_room.html", context, status=status)


@login_required
@require_GET
@shows_domain_errors
def crisis_detail(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    services.record_restricted_view(crisis=crisis, actor=request.user, channel="web")
    return _render_war_room(request, crisis)


@login_required
@require_GET
@shows_domain_errors
def crisis_live(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    """The war room's live sections, for the page to swap in without a reload."""
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    response = render(
        request, "crises/_live.html", _live_context(request, crisis, with_criteria=False)
    )
    response["Cache-Control"] = "no-store"
    return response


Perform = Callable[Concatenate[AuthenticatedRequest, Crisis, dict[str, Any], forms.Form, ...], str]


def crisis_action(form_name: str) -> Callable[[Perform], Callable[..., HttpResponseBase]]:
    """A POST that runs one service on a visible crisis, from the war room."""

    def decorate(perform: Perform) -> Callable[..., HttpResponseBase]:
        @login_required
        @require_POST
        @shows_domain_errors
        @wraps(perform)
        def view(request: AuthenticatedRequest, crisis_id: int, **kwargs: Any) -> HttpResponse:
            crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
            action = ACTION_FORMS.get(form_name)
            room = selectors.war_room(
                crisis=crisis,
                viewer=request.user,
                now=clock.now(),
                with_criteria=form_name == "level",
            )
            if action is not None:
                require(action.allowed(request.user, room), action.refusal)
                form = action.build(room, request.POST, request.user)
            else:
                form = _EXTRA_FORMS[form_name](request.POST)
            status = 400
            if form.is_valid():
                try:
                    outcome = perform(request, crisis, form.cleaned_data, form, **kwargs)
                except WatchfloorError as error:
                    if (
                        isinstance(error, PermissionDenied)
                        and form.form_field_for(error.field) is None
                    ):
                        raise
                    if isinstance(error, NotFound) and error.field in ("crisis_id", "note_id"):
                        raise
                    if action is None:  # a button in a list: say what went wrong above it
                        messages.error(request, error.message)
                        return redirect(_back(crisis, form_name))
                    form.add_service_error(error)
                    status = 400 if isinstance(error, NotFound) else error.http_status
                else:
                    messages.success(request, outcome)
                    return redirect(_back(crisis, form_name))
            elif action is None:
                messages.error(
                    request, "; ".join(" ".join(map(str, e)) for e in form.errors.values())
                )
                return redirect(_back(crisis, form_name))
            return _render_war_room(request, crisis, bound=(form_name, form), status=status)

        return view

    return decorate


def _back(crisis: Crisis, form_name: str) -> str:
    return reverse("crisis-detail", args=[crisis.pk]) + f"#{_ANCHORS.get(form_name, 'live-status')}"


_EXTRA_FORMS: dict[str, Callable[[Any], ServiceErrorForm]] = {
    "unlink": lambda data: UnlinkForm(data, prefix="unlink"),
    "pin": lambda data: _PinForm(data),
    "cluster-unlink": lambda data: UnlinkForm(data, prefix="cluster-unlink"),
    "unwatch": lambda data: WatchlistRemoveForm(data, prefix="unwatch"),
}
_ANCHORS = {
    "note": "live-timeline",
    "level": "live-status",
    "role": "live-roles",
    "release": "live-roles",
    "link": "live-escalations",
    "unlink": "live-escalations",
    "pin": "live-facts",
    "cluster": "live-clusters",
    "cluster-unlink": "live-clusters",
    "watch": "live-watchlist",
    "unwatch": "live-watchlist",
}


class _PinForm(ServiceErrorForm):
    pinned = forms.TypedChoiceField(
        choices=[("1", "pin"), ("0", "unpin")], coerce=lambda v: v == "1"
    )
