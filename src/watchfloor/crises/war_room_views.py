"""The war room's actions: each a POST from the crisis page (a note, a pinned fact, the
level, a role, a linked escalation or cluster, the watchlist, the details, who may see
it) that runs one crisis service through views.crisis_action."""

from __future__ import annotations

from django import forms

from watchfloor.crises import containment, selectors, services, watchlists
from watchfloor.crises.forms import ReleaseRoleForm, RoleForm
from watchfloor.crises.models import Crisis, CrisisNote, Level
from watchfloor.crises.views import crisis_action
from watchfloor.escalations.selectors import access_escalation
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.services import get_user_named_in
from watchfloor.signals.selectors import access_cluster


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
    assert isinstance(form, RoleForm), "ACTION_FORMS['role'] is a RoleForm"
    role, market = form.role_and_market()
    holder = get_user_named_in(data["holder"], field="holder") if data["holder"] else None
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
    assert isinstance(form, ReleaseRoleForm), "ACTION_FORMS['release'] is a ReleaseRoleForm"
    role, market = form.role_and_market()
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
