"""Sitrep reminders: the incident commander is told when the sitrep of record falls due.

:func:`remind_commanders` runs from the worker's housekeeping sweep (``crises.tasks``). For
each active crisis whose next sitrep is due within ``sitreps.due_soon`` or overdue
(``selectors.sitrep_reminders``), it emails the current incident commander once for that
due time. A :class:`~watchfloor.crises.models.SitrepReminder` row per (crisis, due time),
unique in the database, is what makes it once: sending the sitrep moves the due time on,
and the next reminder is for the new one.

The message is an ordinary notification (``notify.models.Notification``) delivered by the
notification worker, with its attempts, retries and audit events. A drill crisis's
reminder is recorded and marked suppressed, so the worker records it and delivers nothing,
as the notification engine does for every drill.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.urls import reverse

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.crises import permissions, selectors
from watchfloor.crises.config import CrisisConfig, crisis_config
from watchfloor.crises.models import Crisis, Level, SitrepReminder
from watchfloor.notify import conf, content
from watchfloor.notify.direct import email_person
from watchfloor.notify.models import Notification
from watchfloor.severity.rubric import describe_duration

if TYPE_CHECKING:
    from watchfloor.people.models import User

REMINDER_EVENT = "sitrep_due"


def remind_commanders(*, now: datetime, config: CrisisConfig | None = None) -> list[SitrepReminder]:
    """Remind the commander of every crisis whose sitrep is due soon or overdue and who has
    not been reminded for that due time yet; returns the reminders made now. Safe to run as
    often as the scheduler likes, and from several workers."""
    config = config or crisis_config()
    made = []
    for due in selectors.sitrep_reminders(now=now, config=config):
        reminder = _remind(crisis=due.crisis, due_at=due.clock.due_at, now=now, config=config)
        if reminder is not None:
            made.append(reminder)
    return made


@transaction.atomic
def _remind(
    *, crisis: Crisis, due_at: datetime | None, now: datetime, config: CrisisConfig
) -> SitrepReminder | None:
    crisis = Crisis.objects.select_for_update().get(pk=crisis.pk)
    # Read again under the lock: a sitrep sent meanwhile has moved the due time on, and a
    # crisis closed meanwhile owes none.
    if due_at is None or not crisis.is_active or crisis.next_sitrep_due_at != due_at:
        return None
    if SitrepReminder.objects.filter(crisis=crisis, due_at=due_at).exists():
        return None
    commander = selectors.commander_of(crisis)
    if commander is not None and not permissions.may_see(commander, crisis):
        commander = None
    overdue = now > due_at
    suppressed = crisis.is_drill or conf.suppress_all_delivery()
    audience = config.settings.audience(config.settings.cadence_audiences[0])
    audience_name = audience.name if audience else "sitrep of record"
    notification = (
        _notification(
            crisis=crisis,
            commander=commander,
            due_at=due_at,
            now=now,
            overdue=overdue,
            suppressed=suppressed,
            audience_code=audience.code if audience else "",
            audience_name=audience_name,
        )
        if commander is not None
        else None
    )
    try:
        with transaction.atomic():
            reminder = SitrepReminder.objects.create(
                crisis=crisis,
                due_at=due_at,
                recipient=commander,
                notification=notification,
                was_overdue=overdue,
                is_suppressed=suppressed,
                created_at=now,
            )
    except IntegrityError:  # another worker reminded for this due time first
        transaction.set_rollback(True)
        return None
    record_event(
        action=AuditAction.CRISIS_SITREP_REMINDED,
        actor=None,
        target=reminder,
        data={
            "crisis_id": crisis.pk,
            "crisis": crisis.reference,
            "reminder_id": reminder.pk,
            "due_at": due_at,
            "overdue": overdue,
            "audience_name": audience_name,
            "to": commander.username if commander else None,
            "notification": notification.pk if notification else None,
            "suppressed": suppressed,
            "drill": crisis.is_drill,
        },
    )
    return reminder


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone or "UTC")
    except (ValueError, OSError):
        return ZoneInfo("UTC")


def _minutes(delta: timedelta) -> str:
    return describe_duration(timedelta(minutes=max(1, round(delta.total_seconds() / 60))))


def _notification(
    *,
    crisis: Crisis,
    commander: User,
    due_at: datetime,
    now: datetime,
    overdue: bool,
    suppressed: bool,
    audience_code: str,
    audience_name: str,
) -> Notification:
    """The email to the commander, as the notification worker delivers every email."""
    subject, body = render_reminder(
        crisis=crisis,
        due_at=due_at,
        now=now,
        overdue=overdue,
        zone=_zone(commander),
        audience_code=audience_code,
        audience_name=audience_name,
    )
    return email_person(
        recipient=commander,
        subject=subject,
        body=body,
        event=REMINDER_EVENT,
        reason=f"incident commander of {crisis.reference}",
        now=now,
        suppressed=suppressed,
    )


def render_reminder(
    *,
    crisis: Crisis,
    due_at: datetime,
    now: datetime,
    overdue: bool,
    zone: ZoneInfo,
    audience_code: str,
    audience_name: str,
) -> tuple[str, str]:
    drill = crisis.is_drill
    state = "overdue" if overdue else "due"
    title = " ".join(crisis.title.split())
    subject = f"{'[DRILL] ' if drill else ''}Sitrep {state}: {crisis.reference} · {title}"
    lines: list[str] = []
    if drill:
        lines += ["THIS IS A DRILL. Nothing real is happening; practise as if it were.", ""]
    where = f"{crisis.reference} ({Level(crisis.level).label})"
    due = content.format_time(due_at, zone)
    if overdue:
        lines.append(f"{where}: the {audience_name} sitrep was due at {due}.")
        lines.append(f"It is overdue by {_minutes(now - due_at)}.")
    else:
        lines.append(f"{where} owes its next {audience_name} sitrep by {due}.")
        lines.append(f"That is in {_minutes(due_at - now)}.")
    lines += ["", title, "", f"Why you: you are the incident commander of {crisis.reference}.", ""]
    path = reverse("crisis-sitrep", args=[crisis.pk])
    if audience_code:
        path += f"?audience={audience_code}"
    lines += ["Draft and send it:", content.absolute_url(path), ""]
    lines.append(f"Times are in your time zone ({zone.key}).")
    return subject[: content.SUBJECT_MAX], "\n".join(lines) + "\n"
