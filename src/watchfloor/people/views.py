"""The on-call pages: who is on call (by team and market, with each person's local time),
a rotation's schedule with its overrides, and the rotation as an iCalendar file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, PermissionDenied, WatchfloorError
from watchfloor.core.validation import check_time_range
from watchfloor.people import permissions, rota_changes, selectors, services
from watchfloor.people.forms import CancelOverrideForm, OnCallFilterForm, OverrideForm
from watchfloor.people.http import AuthenticatedRequest
from watchfloor.people.models import Rotation, User
from watchfloor.people.oncall import on_call
from watchfloor.people.rota_calendar import DEFAULT_WEEKS_AHEAD, ExportWindow, rotation_calendar
from watchfloor.people.rotafile import weekday_names
from watchfloor.people.rotas import Segment, segments
from watchfloor.web.views import shows_domain_errors

SCHEDULE_DAYS = 7


@login_required
@require_GET
@shows_domain_errors
def oncall_board(request: AuthenticatedRequest) -> HttpResponse:
    """ "Who is on call for Legal in Japan right now?" — answered with each person's local
    time, the rotation that put them there, and why that rotation answered."""
    form = OnCallFilterForm(request.GET or None, viewer_time_zone=request.user.time_zone)
    data = {}
    if form.is_bound:
        form.is_valid()  # the valid fields apply even when another shows an error
        data = form.cleaned_data
    at = data.get("at") or clock.now()
    team_code = data.get("team") or None
    answers = on_call(team_code=team_code, market=data.get("market") or None, at=at)
    rotation_rows = list(selectors.rotations(team_codes=[team_code] if team_code else None))
    return render(
        request,
        "people/oncall.html",
        {
            "form": form,
            "answers": answers,
            "at": at,
            "is_now": "at" not in data or data.get("at") is None,
            "market": data.get("market") or "",
            "rotations": [RotationSummary.build(r) for r in rotation_rows],
        },
    )


@dataclass(frozen=True)
class ShiftSummary:
    label: str
    time_zone: str
    starts: str
    days: str
    members: list[User]


@dataclass(frozen=True)
class RotationSummary:
    rotation: Rotation
    shifts: list[ShiftSummary]

    @classmethod
    def build(cls, rotation: Rotation) -> RotationSummary:
        return cls(
            rotation=rotation,
            shifts=[
                ShiftSummary(
                    label=shift.label,
                    time_zone=shift.time_zone,
                    starts=shift.starts.strftime("%H:%M"),
                    days=weekday_names(shift.days),
                    members=[member.user for member in shift.members.all()],
                )
                for shift in rotation.shifts.all()
            ],
        )


def _rotation_page(
    request: AuthenticatedRequest, code: str, *, form: OverrideForm | None = None, status: int = 200
) -> HttpResponse:
    now = clock.now()
    # From a week back, so the watch on now shows when it really began.
    start, end = now - timedelta(days=7), now + timedelta(days=SCHEDULE_DAYS)
    rotation = selectors.get_rotation(code, window=(start, end))
    summary = RotationSummary.build(rotation)
    members = list(dict.fromkeys(user for shift in summary.shifts for user in shift.members))
    may_manage = permissions.may_manage_rotation(request.user, rotation)
    if may_manage and form is None:
        form = OverrideForm(
            prefix="override",
            rotation=rotation,
            members=members,
            viewer_time_zone=request.user.time_zone,
        )
    schedule: list[Segment[User]] = [
        segment
        for segment in segments(selectors.rotation_plan(rotation), start, end)
        if segment.ends_at > now - timedelta(hours=12)
    ]
    return render(
        request,
        "people/rotation.html",
        {
            "rotation": rotation,
            "summary": summary,
            "schedule": schedule,
            "now": now,
            "overrides": list(selectors.overrides_of(rotation, since=now)),
            "form": form if may_manage else None,
            "may_manage": may_manage,
            "schedule_days": SCHEDULE_DAYS,
        },
        status=status,
    )


@login_required
@require_GET
@shows_domain_errors
def rotation_detail(request: AuthenticatedRequest, code: str) -> HttpResponse:
    return _rotation_page(request, code)


@login_required
@require_POST
@shows_domain_errors
def rotation_override(request: AuthenticatedRequest, code: str) -> HttpResponse:
    rotation = selectors.get_rotation(code)
    if not permissions.may_manage_rotation(request.user, rotation):
        raise PermissionDenied(
            f"only a lead, an admin or a member of {rotation.team.name} may change who is on call"
        )
    members = list(
        dict.fromkeys(m.user for shift in rotation.shifts.all() for m in shift.members.all())
    )
    form = OverrideForm(
        request.POST,
        prefix="override",
        rotation=rotation,
        members=members,
        viewer_time_zone=request.user.time_zone,
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            rota_changes.create_rota_override(
                rotation=rotation,
                user=services.get_user_by_username(data["user"]),
                replaces=services.get_user_by_username(data["replaces"])
                if data["replaces"]
                else None,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data["reason"],
                actor=request.user,
            )
        except WatchfloorError as error:
            if error.http_status in (403, 404) and form.form_field_for(error.field) is None:
                raise
            form.add_service_error(error)
            return _rotation_page(request, code, form=form, status=error.http_status)
        messages.success(request, f"Override added to {rotation.name}.")
        return redirect("rotation", code=rotation.code)
    return _rotation_page(request, code, form=form, status=400)


@login_required
@require_POST
@shows_domain_errors
def rotation_override_cancel(
    request: AuthenticatedRequest, code: str, override_id: int
) -> HttpResponse:
    rotation = selectors.get_rotation(code)
    override = selectors.get_override(rotation=rotation, override_id=override_id)
    form = CancelOverrideForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        rota_changes.cancel_rota_override(override=override, actor=request.user, reason=reason)
    except WatchfloorError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, "Override cancelled.")
    return redirect("rotation", code=rotation.code)


def _export_window(request: AuthenticatedRequest, now: datetime) -> ExportWindow:
    weeks_text = request.GET.get("weeks", "")
    try:
        weeks = int(weeks_text) if weeks_text else DEFAULT_WEEKS_AHEAD
    except ValueError as exc:
        raise InvalidInput(f"weeks '{weeks_text}' is not a number", field="weeks") from exc
    start_text = request.GET.get("from", "")
    if not start_text:
        return ExportWindow.around(now, weeks=weeks)
    try:
        start = datetime.strptime(start_text, "%Y-%m-%d").replace(tzinfo=now.tzinfo)
    except ValueError as exc:
        raise InvalidInput(f"from '{start_text}' is not a date YYYY-MM-DD", field="from") from exc
    check_time_range(start, field="from", shown=start_text)
    return ExportWindow.starting(start, weeks=weeks)


@login_required
@require_GET
@shows_domain_errors
def rotation_ics(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """The rotation as iCalendar: a week back and eight ahead, or ``?from=YYYY-MM-DD&weeks=N``."""
    now = clock.now()
    try:
        window = _export_window(request, now)
    except InvalidInput as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    rotation = selectors.get_rotation(code, window=(window.starts_at, window.ends_at))
    content = rotation_calendar(
        rotation, plan=selectors.rotation_plan(rotation), window=window, generated_at=now
    )
    rota_changes.record_rota_export(
        rotation=rotation,
        actor=request.user,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        channel="web",
    )
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{rotation.code}.ics"'
    return response
