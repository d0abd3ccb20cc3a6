"""A person's own profile page: their time zone and the languages they read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchfloor.core.errors import WatchfloorError
from watchfloor.people.forms import ProfileForm
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.profile import (
    COMMON_ZONES,
    catalog_languages,
    update_profile,
    zone_options,
)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    status = 200
    if request.method == "POST":
        form = ProfileForm(request.POST, version=user.profile_version)
        if form.is_valid():
            try:
                update_profile(
                    user=user,
                    time_zone=form.cleaned_data["time_zone"],
                    languages=form.cleaned_data["languages"],
                    actor=user,
                    expected_version=form.cleaned_data["expected_version"],
                )
            except WatchfloorError as error:
                form.add_service_error(error)
                status = error.http_status
            else:
                messages.success(request, "Profile saved: times are now shown in your zone.")
                return redirect("account-profile")
        else:
            status = 400
    else:
        form = ProfileForm(
            version=user.profile_version,
            initial={"time_zone": user.time_zone, "languages": ", ".join(user.languages or [])},
        )
    zones = zone_options()
    return render(
        request,
        "people/profile.html",
        {
            "form": form,
            "common_zones": zones[: len(COMMON_ZONES)],
            "other_zones": zones[len(COMMON_ZONES) :],
            "catalog_languages": catalog_languages(),
        },
        status=status,
    )
