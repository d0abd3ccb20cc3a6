"""Evidence pages and files: thin over the selectors and services.

Unrevealed items are only ever sent blurred (and in grayscale, by default) from the
server: the clear display copy leaves only through a reveal's signed, short-lived URL.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from PIL import ImageFilter, ImageOps

from watchfloor.core import clock
from watchfloor.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    WatchfloorError,
)
from watchfloor.core.roles import can_override_severity, is_admin
from watchfloor.evidence import (
    exposure,
    hooks,
    media,
    packages,
    permissions,
    selectors,
    services,
    store,
)
from watchfloor.evidence.custody import custody_log
from watchfloor.evidence.forms import CarePolicyForm, TrainingForm
from watchfloor.evidence.models import Kind, Reveal
from watchfloor.evidence.targets import access_target, target_of, target_page_url
from watchfloor.evidence.uploads import REFUSED_ATTRIBUTE
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import Team
from watchfloor.people.selectors import get_team
from watchfloor.signals.auto_escalation import RULES_ACCOUNT
from watchfloor.web.views import shows_domain_errors

PRIVATE = "private, no-store"


@login_required
@require_POST
@shows_domain_errors
def evidence_upload(request: AuthenticatedRequest, target: str, target_id: int) -> HttpResponse:
    """A file added to an escalation, a cluster or a crisis, from its page's panel."""
    of = access_target(actor=request.user, kind=target, target_id=target_id)
    upload = request.FILES.get("file")
    try:
        refused = getattr(request, REFUSED_ATTRIBUTE, "")
        if refused or upload is None:
            raise InvalidInput(refused or "choose a file to add", field="file")
        item = services.add_evidence_file(
            **{of.kind: of.obj},
            actor=request.user,
            chunks=upload.chunks(media.CHUNK_BYTES),
            name=upload.name or "",
            declared_type=upload.content_type,
            category=request.POST.get("category"),
            description=request.POST.get("description", ""),
        )
    except (InvalidInput, PermissionDenied) as error:
        messages.error(request, f"Evidence not added: {error.message}")
    else:
        messages.success(request, f"{item.reference} added (SHA-256 {item.sha256[:16]}…).")
    return redirect(of.page_url)


@login_required
@require_GET
@shows_domain_errors
def evidence_list(request: AuthenticatedRequest, target: str, target_id: int) -> HttpResponse:
    """Every item of an escalation, a cluster or a crisis, a page at a time, newest first."""
    of = access_target(actor=request.user, kind=target, target_id=target_id)
    items = selectors.evidence_list(viewer=request.user, of=of)
    page = Paginator(items, selectors.LIST_PAGE_ITEMS).get_page(request.GET.get("page"))
    preference = services.preference_of(request.user)
    return render(
        request,
        "evidence/list.html",
        {
            "of": of,
            "page": page,
            "preference": preference,
            "rows": selectors.panel_rows(page, of=of, preference=preference),
        },
    )


@login_required
@require_GET
@shows_domain_errors
def evidence_preview(request: AuthenticatedRequest, evidence_id: int) -> HttpResponse:
    """The thumbnail as the viewer's preferences blur it; never the clear picture."""
    item = selectors.access_evidence(actor=request.user, evidence_id=evidence_id)
    if item.is_prohibited:
        raise PermissionDenied(services.PROHIBITED_REFUSAL)
    if not item.thumbnail_file or item.purged_at is not None:
        raise NotFound(item.preview_note or "no preview for this item")
    preference = services.preference_of(request.user)
    with store.open_stored(item.thumbnail_file) as stream:
        image = media.open_image_checked(stream)
    if preference.grayscale:
        image = ImageOps.grayscale(image)
    # Never less than a light blur: the clear picture is what a reveal is for.
    image = image.filter(ImageFilter.GaussianBlur(max(preference.blur_radius, 4)))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=70)
    response = HttpResponse(out.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = PRIVATE
    return response


@login_required
@require_POST
@shows_domain_errors
def package_download(request: AuthenticatedRequest, package_id: int) -> HttpResponse:
    """A package made again from its manifest and the originals, for someone allowed to
    have it (audited; a POST: each download is an export on the items' custody logs)."""
    package = selectors.access_package(actor=request.user, package_id=package_id)
    if selectors.manifest_hides_escalations(package=package, viewer=request.user):
        raise PermissionDenied(f"{package.reference}: {selectors.MANIFEST_HIDES_ESCALATIONS}")
    try:
        content = packages.download_package(package=package, actor=request.user)
    except Conflict as error:
        # No longer reproducible (purged files, a changed file): say so where it is listed.
        messages.error(request, error.message)
        if package.partner_request is not None:
            return redirect(
                reverse("partner-request", args=[package.partner_request.pk])
                + f"#package-{package.pk}"
            )
        if package.escalation_id is not None:
            return redirect("escalation-detail", escalation_id=package.escalation_id)
        return redirect("crisis-detail", crisis_id=package.crisis_id)
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{package.file_name}"'
    response["Cache-Control"] = PRIVATE
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
@shows_domain_errors
def evidence_reveal(request: AuthenticatedRequest, evidence_id: int) -> HttpResponse:
    item = selectors.access_evidence(actor=request.user, evidence_id=evidence_id)
    try:
        outcome = services.reveal_evidence(item=item, actor=request.user)
    except PermissionDenied as error:
        messages.error(request, f"Not revealed: {error.message}")
        return redirect(target_page_url(item))
    if outcome.nudge:
        messages.warning(request, outcome.nudge)
    elif outcome.advice:
        messages.info(request, outcome.advice)
    return redirect("evidence-detail", evidence_id=item.pk)


@login_required
@require_GET
@shows_domain_errors
def evidence_detail(request: AuthenticatedRequest, evidence_id: int) -> HttpResponse:
    item = selectors.access_evidence(actor=request.user, evidence_id=evidence_id)
    services.record_item_viewed(item=item, actor=request.user)
    now = clock.now()
    active = (
        Reveal.objects.filter(item=item, person=request.user, ends_at__gt=now)
        .order_by("-ends_at")
        .first()
    )
    return render(
        request,
        "evidence/detail.html",
        {
            "item": item,
            "of": target_of(item),
            "refusal": services.reveal_refusal(item=item, viewer=request.user),
            "reveal": active,
            "reveal_url": (
                reverse("evidence-revealed", args=[selectors.reveal_token(active)])
                if active
                else ""
            ),
            "custody": custody_log(item),
            "item_links": hooks.item_links(item=item, viewer=request.user),
            "may_lift_hold": can_override_severity(request.user),
            "is_image": item.kind == Kind.IMAGE,
            "is_video": item.kind == Kind.VIDEO,
        },
    )


@require_GET
@shows_domain_errors
def evidence_revealed(request: AuthenticatedRequest, token: str) -> HttpResponseBase:
    """The display copy (metadata stripped) while the reveal lasts: the signed URL a reveal
    returns. Signed in, only the person who revealed may use it."""
    reveal = selectors.reveal_for_token(token=token, now=clock.now())
    if request.user.is_authenticated and request.user.pk != reveal.person_id:
        raise NotFound("this reveal link is not yours")
    # Still visible to the person who revealed it (access may have changed since).
    item = selectors.access_evidence(actor=reveal.person, evidence_id=reveal.item_id)
    refusal = services.reveal_refusal(item=item, viewer=reveal.person)
    if refusal:
        raise PermissionDenied(refusal)
    name = item.display_file or item.original_file
    response = FileResponse(
        store.open_stored(name),
        content_type="image/jpeg"
        if item.display_file and item.kind == Kind.IMAGE
        else item.content_type,
    )
    response["Cache-Control"] = PRIVATE
    response["X-Content-Type-Options"] = "nosniff"
    if item.kind in (Kind.HTML, Kind.PDF, Kind.AUDIO):
        # Captured pages and documents never run in Watchfloor's origin.
        response["Content-Security-Policy"] = "sandbox"
        response["Content-Disposition"] = "attachment"
    # A streamed file; shows_domain_errors hands any response through unchanged.
    return response


@login_required
@require_POST
@shows_domain_errors
def evidence_hold(request: AuthenticatedRequest, evidence_id: int) -> HttpResponse:
    item = selectors.access_evidence(actor=request.user, evidence_id=evidence_id)
    action = (
        services.place_legal_hold if request.POST.get("hold") == "on" else services.lift_legal_hold
    )
    try:
        version = int(request.POST.get("version", "0"))
        action(
            item=item, actor=request.user, reason=request.POST.get("reason", ""), version=version
        )
    except ValueError:
        messages.error(request, "version must be a whole number")
    except WatchfloorError as error:
        messages.error(request, error.message)
    return redirect("evidence-detail", evidence_id=item.pk)


@login_required
@shows_domain_errors
def my_exposure(request: AuthenticatedRequest) -> HttpResponse:
    """The person's own exposure and viewing preferences: nobody else sees this page."""
    if request.method == "POST":
        try:
            services.change_preferences(
                person=request.user,
                actor=request.user,
                blur_radius=int(request.POST.get("blur_radius", "12")),
                grayscale=request.POST.get("grayscale") == "on",
                always_ask=request.POST.get("always_ask") == "on",
                reveal_seconds=int(request.POST.get("reveal_seconds", "30")),
                version=int(request.POST.get("version", "1")),
            )
        except ValueError:
            messages.error(request, "blur, reveal seconds and version must be whole numbers")
        except WatchfloorError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Viewing preferences saved.")
        return redirect("evidence-exposure")
    return render(
        request,
        "evidence/exposure.html",
        {
            "exposure": exposure.exposure_of(person=request.user, now=clock.now()),
            "preference": services.preference_of(request.user),
        },
    )


def _exposure_team(request: AuthenticatedRequest, code: str | None) -> Team:
    """The team a lead (their own) or an admin (any, by ``?team=code``) looks after;
    everyone else is refused, as on every lead page."""
    if code and is_admin(request.user):
        return get_team(code)
    if not permissions.may_see_team_exposure(request.user) or request.user.team is None:
        raise PermissionDenied("team exposure is for leads of a team")
    return request.user.team


def _form_errors(form: TrainingForm | CarePolicyForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _back_to_team(team: Team) -> HttpResponse:
    return redirect(reverse("evidence-team-exposure") + f"?team={team.code}")


@login_required
@require_GET
@shows_domain_errors
def team_exposure(request: AuthenticatedRequest) -> HttpResponse:
    """A lead's view of their team: totals and who is over the threshold, never a ranking;
    who has had graphic-content training (a lead or admin records it here), and the team's
    care policy (an admin sets it here)."""
    team = _exposure_team(request, request.GET.get("team"))
    # People, not the rules' service account (nobody signs in as it or reveals anything).
    members = team.members.filter(is_active=True).exclude(username=RULES_ACCOUNT)
    people = sorted(members, key=lambda p: p.display_name.casefold())
    policy = services.care_policy_of(team)
    now = clock.now()
    return render(
        request,
        "evidence/team_exposure.html",
        {
            "team": team,
            "team_exposure": exposure.team_exposure(people=people, now=now),
            "on_duty": exposure.graphic_content_duty_now(team=team, at=now),
            "training": selectors.training_rows(people=people, viewer=request.user),
            "policy": policy,
            "care_form": (
                CarePolicyForm(version=policy.version, initial={"tell_lead": policy.tell_lead})
                if is_admin(request.user)
                else None
            ),
        },
    )


def _team_form(
    request: AuthenticatedRequest,
    form_class: type[TrainingForm | CarePolicyForm],
    act: Callable[[Team, dict[str, Any]], str],
) -> HttpResponse:
    """A POST from the team exposure page: check the form, ``act`` (a service call that
    returns what to tell the person), and show its outcome, or a stale edit, on the page."""
    team = _exposure_team(request, request.POST.get("team"))
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back_to_team(team)
    try:
        messages.success(request, act(team, form.cleaned_data))
    except Conflict as error:
        messages.error(request, error.message)
    return _back_to_team(team)


@login_required
@require_POST
@shows_domain_errors
def team_training(request: AuthenticatedRequest) -> HttpResponse:
    """Record (or remove) a team member's graphic-content training."""

    def act(team: Team, data: dict[str, Any]) -> str:
        person = team.members.filter(username=data["person"]).first()
        if person is None:
            raise NotFound(f"nobody called {data['person']!r} in {team.name}")
        services.set_graphic_content_training(
            person=person,
            trained=data["trained"],
            actor=request.user,
            expected_version=data["expected_version"],
        )
        done = "recorded" if data["trained"] else "removed"
        return f"Graphic-content training of {person.display_name} {done}."

    return _team_form(request, TrainingForm, act)


@login_required
@require_POST
@shows_domain_errors
def team_care(request: AuthenticatedRequest) -> HttpResponse:
    """An admin turns "tell the lead" on or off for the team."""

    def act(team: Team, data: dict[str, Any]) -> str:
        policy = services.set_team_care_policy(
            team=team,
            tell_lead=data["tell_lead"],
            actor=request.user,
            expected_version=data["expected_version"],
        )
        state = "told" if policy.tell_lead else "no longer told"
        return f"{team.name}: the lead is {state} when someone needs a break."

    return _team_form(request, CarePolicyForm, act)
