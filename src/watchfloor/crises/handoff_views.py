"""Shift handoff pages: preparing and confirming a handoff of command, and the incoming
commander's acknowledgement."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from watchfloor.core import clock
from watchfloor.core.errors import PermissionDenied, WatchfloorError
from watchfloor.core.roles import is_admin
from watchfloor.crises import selectors, services
from watchfloor.crises.config import crisis_config
from watchfloor.crises.forms import AcknowledgeForm, HandoffForm
from watchfloor.crises.handoffs import build_packet, packet_for_reader
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.services import get_user_named_in
from watchfloor.web.views import shows_domain_errors


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
                    incoming_commander=get_user_named_in(data["incoming"], field="holder"),
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
