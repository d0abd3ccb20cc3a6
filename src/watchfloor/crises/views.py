"""The crisis pages: the list, declaring, the war room (and the fragment it refreshes
itself from), sitreps, handoffs and the post-incident review.

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
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchfloor.audit.selectors import log_position
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied, WatchfloorError
from watchfloor.core.roles import is_admin
from watchfloor.core.validation import require
from watchfloor.crises import containment, hooks, selectors, services, watchlists
from watchfloor.crises.charts import containment_chart
from watchfloor.crises.config import crisis_config
from watchfloor.crises.drafting import crisis_zone, default_sitrep_language, draft_sitrep
from watchfloor.crises.forms import (
    AccessForm,
    AcknowledgeForm,
    ActionItemForm,
    ActionItemStatusForm,
    ClusterLinkForm,
    DeclareForm,
    DetailsForm,
    HandoffForm,
    LevelForm,
    LinkForm,
    NoteForm,
    ReleaseRoleForm,
    ReviewForm,
    RoleForm,
    RootCauseForm,
    SitrepForm,
    UnlinkForm,
    WatchlistEntryForm,
    WatchlistRemoveForm,
)
from watchfloor.crises.handoffs import build_packet, packet_for_reader
from watchfloor.crises.models import ActionItem, Crisis, CrisisNote, Level
from watchfloor.crises.permissions import (
    may_add_crisis_notes,
    may_command_crisis,
    may_read_sitrep,
    may_work_crisis,
)
from watchfloor.crises.review import review_facts, review_markdown
from watchfloor.crises.selectors import WarRoom
from watchfloor.crises.timeline import crisis_timeline
from watchfloor.escalations.models import Decision
from watchfloor.escalations.selectors import access_escalation
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import User
from watchfloor.people.services import get_user_by_username
from watchfloor.signals.selectors import access_cluster, can_see_signals
from watchfloor.web.forms import ServiceErrorForm, carry_read_version
from watchfloor.web.views import shows_domain_errors


def _user(username: str, *, field: str) -> User:
    try:
        return get_user_by_username(username)
    except NotFound as error:
        raise InvalidInput(error.message, field=field) from error


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
                    commander=_user(data["commander"], field="holder"),
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
    return sorted(entries, key=lambda e: e.at, reverse=True)[: selectors.DECISION_LOG_LIMIT]


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
        )[: selectors.TIMELINE_LIMIT],
        "timeline_limit": selectors.TIMELINE_LIMIT,
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


Perform = Callable[[HttpRequest, Crisis, dict[str, Any], forms.Form], str]


def crisis_action(form_name: str) -> Callable[[Perform], Callable[..., HttpResponse]]:
    """A POST that runs one service on a visible crisis, from the war room."""

    def decorate(perform: Perform) -> Callable[..., HttpResponse]:
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
                messages.error(request, "; ".join(" ".join(e) for e in form.errors.values()))
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


@crisis_action("note")
def crisis_note(request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form) -> str:
    note = services.add_crisis_note(
        crisis=crisis,
        body=data["body"],
        actor=request.user,
        kind=data.get("kind") or CrisisNote.Kind.NOTE,
        pinned=bool(data.get("pinned")),
    )
    if note.is_pinned:
        return "Pinned as a key fact."
    return (
        "Decision recorded." if note.kind == CrisisNote.Kind.DECISION else "Added to the timeline."
    )


@crisis_action("pin")
def crisis_pin(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form, note_id: int
) -> str:
    note = selectors.get_note(crisis=crisis, note_id=note_id)
    services.set_fact_pinned(note=note, pinned=data["pinned"], actor=request.user)
    return "Pinned as a key fact." if data["pinned"] else "Unpinned."


@crisis_action("level")
def crisis_level(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    crisis = services.change_level(
        crisis=crisis,
        to_level=data["to_level"],
        actor=request.user,
        reason=data["reason"],
        confirmed_criteria=data.get("confirmed_criteria") or (),
    )
    return f"{crisis.reference} is now at {Level(crisis.level).label}."


@crisis_action("role")
def crisis_role(request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form) -> str:
    role, market = form.role_and_market()  # type: ignore[attr-defined]
    holder = _user(data["holder"], field="holder") if data["holder"] else None
    assignment = services.hand_over_role(
        crisis=crisis,
        role=role,
        to_user=holder,
        actor=request.user,
        note=data["note"],
        market=market,
        expected_version=data["expected_version"],
    )
    return f"{assignment.role_label}: {assignment.holder.display_name}."


@crisis_action("release")
def crisis_role_release(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    role, market = form.role_and_market()  # type: ignore[attr-defined]
    assignment = services.release_role(
        crisis=crisis,
        role=role,
        actor=request.user,
        note=data["note"],
        market=market,
        expected_version=data["expected_version"],
    )
    return f"{assignment.role_label} is open."


@crisis_action("link")
def crisis_link(request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form) -> str:
    escalation = access_escalation(actor=request.user, escalation_id=data["escalation"])
    services.link_escalation(
        crisis=crisis, escalation=escalation, actor=request.user, reason=data["reason"]
    )
    return f"{escalation.reference} is part of {crisis.reference}."


@crisis_action("unlink")
def crisis_unlink(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form, escalation_id: int
) -> str:
    escalation = access_escalation(actor=request.user, escalation_id=escalation_id)
    services.unlink_escalation(
        crisis=crisis, escalation=escalation, actor=request.user, reason=data["reason"]
    )
    return f"{escalation.reference} is no longer part of {crisis.reference}."


@crisis_action("cluster")
def crisis_cluster_link(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    cluster = access_cluster(actor=request.user, cluster_id=data["cluster"])
    containment.link_cluster(
        crisis=crisis, cluster=cluster, actor=request.user, reason=data["reason"]
    )
    return f"C-{cluster.pk} is part of {crisis.reference}."


@crisis_action("cluster-unlink")
def crisis_cluster_unlink(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form, cluster_id: int
) -> str:
    cluster = access_cluster(actor=request.user, cluster_id=cluster_id)
    containment.unlink_cluster(
        crisis=crisis, cluster=cluster, actor=request.user, reason=data["reason"]
    )
    return f"C-{cluster.pk} is no longer linked to {crisis.reference}."


@crisis_action("watch")
def crisis_watch(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    entry = watchlists.add_watchlist_entry(
        crisis=crisis,
        kind=data["kind"],
        value=data["value"],
        actor=request.user,
        language=data["language"],
        note=data["note"],
        variants=data["variants"],
    )
    return f"{crisis.reference} now watches for {entry.get_kind_display().lower()} '{entry.value}'."


@crisis_action("unwatch")
def crisis_unwatch(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form, entry_id: int
) -> str:
    entry = watchlists.get_watchlist_entry(crisis=crisis, entry_id=entry_id)
    watchlists.remove_watchlist_entry(entry=entry, actor=request.user, reason=data["reason"])
    return f"'{entry.value}' is no longer watched for."


@crisis_action("details")
def crisis_details(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    services.update_crisis(
        crisis=crisis,
        actor=request.user,
        title=data["title"],
        summary=data["summary"],
        markets=data["markets"],
        languages=data["languages"],
        read_version=data["read_version"],
    )
    return "Details saved."


@crisis_action("access")
def crisis_access(
    request: AuthenticatedRequest, crisis: Crisis, data: dict, form: forms.Form
) -> str:
    services.set_crisis_access(
        crisis=crisis,
        actor=request.user,
        is_restricted=data["is_restricted"],
        access_usernames=data["access_list"],
        expected_version=data["expected_version"],
    )
    return "Access updated."


# ---------------------------------------------------------------- sitreps


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def crisis_sitrep(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    """Draft a sitrep for an audience and language (GET), edit it, and record it as sent
    (POST). Changing the audience or language in the form drafts afresh."""
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    require(may_work_crisis(request.user), "your role cannot send sitreps")
    config = crisis_config()
    now = clock.now()
    source = request.POST if request.method == "POST" else request.GET
    audience = source.get("audience") or config.settings.sitreps.audiences[0].code
    audience_spec = config.settings.audience(audience)
    language = source.get("language") or (
        default_sitrep_language(
            crisis=crisis, audience=audience_spec, template=config.template(audience).spec
        )
        if audience_spec is not None
        else "en"
    )
    status = 200
    try:
        draft = draft_sitrep(
            crisis=crisis,
            audience=audience,
            language=language,
            viewer=request.user,
            now=now,
            config=config,
        )
    except InvalidInput as error:
        if config.settings.audience(audience) is None:
            raise NotFound(error.message, field="audience") from error
        language = "en"
        draft = draft_sitrep(
            crisis=crisis,
            audience=audience,
            language=language,
            viewer=request.user,
            now=now,
            config=config,
        )
        messages.error(request, error.message)
    sending = request.method == "POST" and "send" in request.POST
    form = SitrepForm(
        request.POST if sending else None,
        initial={
            "audience": audience,
            "language": draft.language,
            "subject": draft.subject,
            "body": draft.body,
        },
        config=config,
        languages=draft.languages,
        sections=draft.sections,
    )
    if sending:
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                sitrep = services.send_sitrep(
                    crisis=crisis,
                    audience=data["audience"],
                    language=data["language"],
                    subject=data["subject"],
                    body=data["body"],
                    sections=form.sections(),
                    actor=request.user,
                )
            except PermissionDenied:
                raise
            except WatchfloorError as error:
                form.add_service_error(error)
                status = error.http_status
            else:
                messages.success(
                    request,
                    f"{draft.audience.name} sitrep {sitrep.number} ({sitrep.language}) recorded "
                    "as sent.",
                )
                return redirect(reverse("crisis-detail", args=[crisis.pk]) + "#live-status")
    return render(
        request,
        "crises/sitrep.html",
        {
            "crisis": crisis,
            "draft": draft,
            "form": form,
            "now": now,
            "audiences": config.settings.sitreps.audiences,
            "clock_state": selectors.sitrep_clock(crisis, now=now, config=config),
            "previous": list(selectors.sitreps_of(crisis).filter(audience=audience)[:5]),
        },
        status=status,
    )


@login_required
@require_GET
@shows_domain_errors
def sitrep_detail(request: AuthenticatedRequest, crisis_id: int, sitrep_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    sitrep = selectors.get_sitrep(crisis=crisis, sitrep_id=sitrep_id)
    audience = crisis_config().settings.audience(sitrep.audience)
    detail = audience.detail if audience else "full"
    if not may_read_sitrep(request.user, detail=detail):
        raise NotFound(f"no sitrep {sitrep_id} on {crisis.reference}", field="sitrep_id")
    reading = selectors.sitrep_for_reader(sitrep=sitrep, viewer=request.user)
    return render(
        request,
        "crises/sitrep_detail.html",
        {"crisis": crisis, "sitrep": sitrep, "sections": reading.sections, "audience": audience},
    )


# ---------------------------------------------------------------- handoffs


@login_required
@require_http_methods(["GET", "POST"])
@shows_domain_errors
def crisis_handoff(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    """The handoff in play: its packet as the record shows it now, the outgoing
    commander's confirmation, and the incoming commander's acknowledgement."""
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    config = crisis_config()
    now = clock.now()
    recorded = list(
        crisis.handoffs.select_related("outgoing_commander", "incoming_commander").order_by(
            "-handoff_at"
        )
    )
    in_play = selectors.handoff_in_play(crisis, now, config=config, recorded=recorded)
    commander = selectors.commander_of(crisis)
    confirmed = next((h for h in recorded if in_play and h.handoff_at == in_play.at), None)
    is_outgoing = commander is not None and (
        commander.pk == request.user.pk or is_admin(request.user)
    )
    form = None
    status = 200
    if in_play is not None and confirmed is None and is_outgoing:
        form = HandoffForm(
            request.POST if request.method == "POST" else None,
            initial={"handoff_at": in_play.at, "incoming": ""},
        )
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("only the outgoing incident commander confirms the handoff")
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                handoff = services.confirm_handoff(
                    crisis=crisis,
                    actor=request.user,
                    incoming_commander=_user(data["incoming"], field="holder"),
                    risks=data["risks"],
                    handoff_at=data["handoff_at"],
                )
            except PermissionDenied:
                raise
            except WatchfloorError as error:
                form.add_service_error(error)
                status = error.http_status
            else:
                messages.success(
                    request,
                    f"Handoff confirmed; {handoff.incoming_commander.display_name} acknowledges it "
                    "to take command.",
                )
                return redirect("crisis-handoff", crisis_id=crisis.pk)
    packet = None
    if in_play is not None:
        # The confirmed packet holds what the outgoing commander saw: each reader is shown
        # the parts about escalations they may see (the live one is theirs already).
        packet = packet_for_reader(
            confirmed.packet
            if confirmed is not None
            else build_packet(
                crisis=crisis,
                handoff=in_play,
                viewer=request.user,
                now=now,
                config=config,
                outgoing=commander,
                incoming=None,
            ),
            visible_escalation_ids=selectors.visible_escalation_ids(
                crisis=crisis, viewer=request.user
            ),
        )
    return render(
        request,
        "crises/handoff.html",
        {
            "crisis": crisis,
            "in_play": in_play,
            "packet": packet,
            "confirmed": confirmed,
            "commander": commander,
            "form": form,
            "ack_form": AcknowledgeForm(prefix="ack")
            if confirmed is not None
            and confirmed.status == "confirmed"
            and confirmed.incoming_commander_id == request.user.pk
            else None,
            "recorded": selectors.handoff_history(recorded, config=config),
            "now": now,
        },
        status=status,
    )


@login_required
@require_POST
@shows_domain_errors
def handoff_acknowledge(
    request: AuthenticatedRequest, crisis_id: int, handoff_id: int
) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    handoff = selectors.get_handoff(crisis=crisis, handoff_id=handoff_id)
    form = AcknowledgeForm(request.POST, prefix="ack")
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.acknowledge_handoff(handoff=handoff, actor=request.user, note=note)
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, "Handoff acknowledged: you are the incident commander.")
    return redirect("crisis-handoff", crisis_id=crisis.pk)


# ---------------------------------------------------------------- post-incident review


REVIEW_FORMS: dict[str, Callable[[HttpRequest, Any, Any], ServiceErrorForm]] = {
    "review": lambda request, review, data: ReviewForm(
        data,
        prefix="review",
        viewer_time_zone=request.user.time_zone,
        initial={
            "summary": review.summary if review else "",
            "went_well": review.went_well if review else "",
            "went_badly": review.went_badly if review else "",
            "contributing_factors": review.contributing_factors if review else "",
        },
    ),
    "cause": lambda request, review, data: RootCauseForm(data, prefix="cause"),
    "item": lambda request, review, data: ActionItemForm(data, prefix="item"),
}


def _render_review(
    request: AuthenticatedRequest,
    crisis: Crisis,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    facts = review_facts(crisis=crisis, viewer=request.user, now=clock.now())
    editable = may_work_crisis(request.user) and facts.crisis.level in (
        Level.STAND_DOWN,
        Level.CLOSED,
    )
    review_forms = {}
    if editable:
        review_forms = {
            name: bound[1] if bound and bound[0] == name else build(request, facts.review, None)
            for name, build in REVIEW_FORMS.items()
        }
    return render(
        request,
        "crises/review.html",
        {
            "crisis": facts.crisis,
            "facts": facts,
            "volume_chart": containment_chart(
                facts.volume.hours, zone=timezone.get_current_timezone_name()
            )
            if facts.volume and facts.volume.signals_in_window + facts.volume.matches_in_window
            else "",
            "review": facts.review,
            "forms": review_forms,
            "editable": editable,
            "may_update_items": may_work_crisis(request.user),
            "item_statuses": ActionItem.Status.choices,
            "bound_form": bound[0] if bound else "",
            "now": facts.now,
        },
        status=status,
    )


@login_required
@require_GET
@shows_domain_errors
def crisis_review(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    services.record_restricted_view(crisis=crisis, actor=request.user, channel="review")
    return _render_review(request, crisis)


@login_required
@require_GET
@shows_domain_errors
def crisis_review_markdown(request: AuthenticatedRequest, crisis_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    facts = review_facts(crisis=crisis, viewer=request.user, now=clock.now())
    services.record_review_export(crisis=crisis, actor=request.user, format="markdown")
    response = HttpResponse(review_markdown(facts), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{crisis.reference}-review.md"'
    return response


@login_required
@require_POST
@shows_domain_errors
def crisis_review_update(request: AuthenticatedRequest, crisis_id: int, part: str) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    require(may_work_crisis(request.user), "your role cannot write the post-incident review")
    if part not in REVIEW_FORMS:
        raise NotFound(f"no part '{part}' in a review", field="part")
    review = crisis.review if hasattr(crisis, "review") else None
    form = REVIEW_FORMS[part](request, review, request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            if part == "review":
                services.update_review(
                    crisis=crisis,
                    actor=request.user,
                    summary=data["summary"],
                    went_well=data["went_well"],
                    went_badly=data["went_badly"],
                    contributing_factors=data["contributing_factors"],
                    incident_started_at=data.get("incident_started_at"),
                    contained_at=data.get("contained_at"),
                )
                outcome = "Review saved."
            elif part == "cause":
                services.add_root_cause(
                    crisis=crisis,
                    actor=request.user,
                    problem=data["problem"],
                    whys=form.whys(),  # type: ignore[attr-defined]
                    root_cause=data["root_cause"],
                )
                outcome = "Root cause recorded."
            else:
                services.add_action_item(
                    crisis=crisis,
                    actor=request.user,
                    title=data["title"],
                    owner=_user(data["owner"], field="owner"),
                    due_on=data["due_on"],
                )
                outcome = "Action item added."
        except PermissionDenied:
            raise
        except WatchfloorError as error:
            form.add_service_error(error)
            status = error.http_status
        else:
            messages.success(request, outcome)
            return redirect(reverse("crisis-review", args=[crisis.pk]) + f"#review-{part}")
    return _render_review(request, crisis, bound=(part, form), status=status)


@login_required
@require_POST
@shows_domain_errors
def action_item_status(request: AuthenticatedRequest, crisis_id: int, item_id: int) -> HttpResponse:
    crisis = selectors.access_crisis(actor=request.user, crisis_id=crisis_id)
    item = ActionItem.objects.filter(review__crisis=crisis, pk=item_id).first()
    if item is None:
        raise NotFound(f"no action item {item_id} in {crisis.reference}'s review", field="item_id")
    form = ActionItemStatusForm(request.POST, prefix=f"item-{item.pk}")
    if not form.is_valid():
        messages.error(request, "Choose a status.")
    else:
        try:
            services.change_action_item(
                item=item,
                actor=request.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except WatchfloorError as error:
            if error.http_status in (403, 404):
                raise
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"'{item.title}': {ActionItem.Status(form.cleaned_data['status']).label.lower()}.",
            )
    return redirect(reverse("crisis-review", args=[crisis.pk]) + "#review-items")
