"""Sitrep pages: composing and sending a sitrep from its draft, and reading a sent one in
the version the reader may read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound, PermissionDenied, WatchfloorError
from watchfloor.core.validation import require
from watchfloor.crises import selectors, services
from watchfloor.crises.config import crisis_config
from watchfloor.crises.drafting import default_sitrep_language, draft_sitrep
from watchfloor.crises.forms import SitrepForm
from watchfloor.crises.permissions import may_read_sitrep, may_work_crisis
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.web.views import shows_domain_errors


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
