"""Sitrep reminders: the worker tells the incident commander, once per due time, when the
sitrep of record is due within ``sitreps.due_soon`` (15 minutes by default) or overdue.

Time moves on the injected clock; the notification worker's loop runs whatever is due.
"""

from __future__ import annotations

import pytest
from django.core import mail

from tests.notify.conftest import DueTasks
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.bootstrap.scheduler import housekeeping_sweep
from watchfloor.core import clock
from watchfloor.crises import selectors, services
from watchfloor.crises.describe import describe_crisis_event
from watchfloor.crises.models import Crisis, SitrepReminder
from watchfloor.crises.tasks import send_sitrep_reminders
from watchfloor.notify.models import AttemptOutcome, Notification, NotificationStatus

pytestmark = pytest.mark.usefixtures("frozen_clock")

# Declared at 00:30 UTC at incident level: the first sitrep is due four hours later.
FIRST_DUE = "2026-11-24T04:30:00+00:00"


def _person(username: str, zone: str = "Asia/Tokyo"):
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    return create_user(
        username=username,
        password="correct-horse-battery",
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
        time_zone=zone,
        email=f"{username}@watchfloor.test",
        first_name=username.split(".")[0].title(),
    )


@pytest.fixture
def commander(catalog):
    return _person("kenji.commander")


@pytest.fixture
def successor(catalog):
    return _person("sara.successor", zone="Europe/London")


@pytest.fixture
def run_due(django_capture_on_commit_callbacks) -> DueTasks:
    return DueTasks(lambda: django_capture_on_commit_callbacks(execute=True))


@pytest.fixture
def sweep(django_capture_on_commit_callbacks, run_due):
    """One housekeeping pass for reminders, then the worker delivers what it queued."""

    def run() -> str:
        with django_capture_on_commit_callbacks(execute=True):
            result = send_sitrep_reminders.call()
        run_due()
        return result

    return run


@pytest.fixture
def incident(declare, commander):
    crisis = declare(commander=commander)
    assert crisis.next_sitrep_due_at.isoformat() == FIRST_DUE
    return crisis


def _at(hours: int, minutes: int) -> None:
    """Move the clock to hh:mm UTC on the test day."""
    target = clock.now().replace(hour=hours, minute=minutes)
    clock.advance(target - clock.now())


def _reminders(crisis: Crisis) -> list[SitrepReminder]:
    return list(SitrepReminder.objects.filter(crisis=crisis).order_by("due_at"))


def test_the_commander_is_reminded_once_when_the_lead_time_begins(incident, commander, sweep):
    _at(4, 14)
    assert sweep() == "0 sitrep reminders"
    assert mail.outbox == []

    _at(4, 15)
    assert sweep() == "1 sitrep reminder"
    [message] = mail.outbox
    assert message.to == [commander.email]
    assert message.subject == f"Sitrep due: {incident.reference} · Osaka attack video"
    assert "owes its next Leadership sitrep by Tue 24 Nov 2026 13:30 JST" in message.body
    assert "That is in 15 min." in message.body
    assert f"/crises/{incident.pk}/sitreps/new?audience=leadership" in message.body

    # Later sweeps, before and after the due time, remind nobody again for it.
    for hours, minutes in ((4, 20), (4, 29), (4, 45)):
        _at(hours, minutes)
        assert sweep() == "0 sitrep reminders"
    assert len(mail.outbox) == 1
    [reminder] = _reminders(incident)
    assert reminder.recipient == commander and reminder.was_overdue is False
    assert reminder.notification.status == NotificationStatus.DELIVERED

    # It is on the crisis's timeline, worded for people.
    [event] = AuditEvent.objects.filter(
        action=AuditAction.CRISIS_SITREP_REMINDED, data__crisis_id=incident.pk
    )
    assert event.actor is None
    assert describe_crisis_event(event.action, event.data) == (
        "kenji.commander: Leadership sitrep due 2026-11-24 04:30 UTC",
        "",
    )
    assert event in selectors.crisis_events(incident)


def test_sending_the_sitrep_starts_the_next_reminder(incident, commander, analyst, sweep):
    _at(4, 20)
    sweep()
    _at(4, 25)
    services.send_sitrep(
        crisis=incident,
        audience="leadership",
        language="en",
        subject="Sitrep 1",
        body="Contained on two platforms.",
        actor=analyst,
    )
    _at(4, 26)
    assert sweep() == "0 sitrep reminders"

    _at(8, 9)
    assert sweep() == "0 sitrep reminders"
    _at(8, 10)  # fifteen minutes before 08:25
    assert sweep() == "1 sitrep reminder"

    assert [r.due_at.strftime("%H:%M") for r in _reminders(incident)] == ["04:30", "08:25"]
    assert [m.to for m in mail.outbox] == [[commander.email], [commander.email]]


def test_a_sitrep_already_overdue_gets_an_overdue_reminder(incident, commander, sweep):
    _at(5, 0)  # the worker was down through the lead time

    assert sweep() == "1 sitrep reminder"

    [message] = mail.outbox
    assert message.subject.startswith(f"Sitrep overdue: {incident.reference}")
    assert "the Leadership sitrep was due at Tue 24 Nov 2026 13:30 JST." in message.body
    assert "It is overdue by 30 min." in message.body
    [reminder] = _reminders(incident)
    assert reminder.was_overdue is True
    [event] = AuditEvent.objects.filter(action=AuditAction.CRISIS_SITREP_REMINDED)
    summary, _ = describe_crisis_event(event.action, event.data)
    assert summary == "kenji.commander: Leadership sitrep overdue since 2026-11-24 04:30 UTC"


def test_a_closed_crisis_is_never_reminded(incident, commander, sweep):
    services.change_level(
        crisis=incident, to_level="stand_down", actor=commander, reason="Contained"
    )
    services.change_level(crisis=incident, to_level="closed", actor=commander, reason="Over")

    for hours in (4, 12, 23):
        _at(hours, 59)
        assert sweep() == "0 sitrep reminders"
    assert mail.outbox == [] and _reminders(incident) == []


def test_a_drill_is_reminded_on_the_record_and_delivers_nothing(incident, commander, sweep):
    Crisis.objects.filter(pk=incident.pk).update(is_drill=True)
    _at(4, 15)

    assert sweep() == "1 sitrep reminder"

    assert mail.outbox == []
    [reminder] = _reminders(incident)
    assert reminder.is_suppressed is True and reminder.recipient == commander
    notification = Notification.objects.get(pk=reminder.notification_id)
    assert notification.status == NotificationStatus.SUPPRESSED
    assert notification.subject.startswith("[DRILL] Sitrep due")
    assert "THIS IS A DRILL" in notification.body
    [attempt] = notification.attempts.all()
    assert attempt.outcome == AttemptOutcome.DELIVERY_SUPPRESSED
    [event] = AuditEvent.objects.filter(action=AuditAction.CRISIS_SITREP_REMINDED)
    assert event.data["suppressed"] is True
    assert describe_crisis_event(event.action, event.data)[0].endswith("drill, not delivered")
    # Once is once for a drill too.
    _at(4, 20)
    assert sweep() == "0 sitrep reminders"


def test_after_a_handover_the_new_commander_is_reminded(incident, commander, successor, sweep):
    _at(3, 0)
    services.hand_over_role(
        crisis=incident,
        role="incident_commander",
        to_user=successor,
        actor=commander,
        note="EMEA takes over",
    )
    _at(4, 15)

    sweep()

    [message] = mail.outbox
    assert message.to == [successor.email]
    # In the new commander's own time zone.
    assert "by Tue 24 Nov 2026 04:30 GMT" in message.body
    assert _reminders(incident)[0].recipient == successor


def test_the_housekeeping_sweep_sends_the_reminders(
    incident, commander, django_capture_on_commit_callbacks, run_due
):
    _at(4, 15)

    with django_capture_on_commit_callbacks(execute=True):
        result = housekeeping_sweep.call()
    run_due()

    assert result.endswith("; 1 sitrep reminder")
    assert [m.to for m in mail.outbox] == [[commander.email]]


def test_reminding_twice_for_the_same_due_time_is_refused_by_the_database(incident, commander):
    from django.db import IntegrityError, transaction

    SitrepReminder.objects.create(
        crisis=incident, due_at=incident.next_sitrep_due_at, created_at=clock.now()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SitrepReminder.objects.create(
            crisis=incident, due_at=incident.next_sitrep_due_at, created_at=clock.now()
        )
