"""Telling the lead through notify: when someone in an opted-in team passes the exposure
threshold, each lead of the team is emailed "X is stepping away for a break" — nothing
about what was seen — after commit, once per shift."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from tests.evidence.conftest import image_bytes
from tests.notify.conftest import DueTasks
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.evidence import services
from watchfloor.evidence.models import TeamCarePolicy
from watchfloor.notify.models import Notification, NotificationStatus

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def run_due(django_capture_on_commit_callbacks) -> DueTasks:
    return DueTasks(lambda: django_capture_on_commit_callbacks(execute=True))


@pytest.fixture
def lead_with_email(lead):
    lead.email = "lina.lead@watchfloor.test"
    lead.save(update_fields=["email"])
    return lead


@pytest.fixture
def sensitive_items(add_image):
    return [
        add_image(image_bytes(seed=n), category="self_harm", description=f"secret detail {n}")
        for n in range(4)
    ]


def _reveal_all(items, actor, captured) -> list[str]:
    nudges = []
    for item in items:
        with captured(execute=True):
            nudges.append(services.reveal_evidence(item=item, actor=actor).nudge)
    return nudges


def test_the_leads_are_emailed_once_with_no_content_details(
    analyst,
    lead_with_email,
    sensitive_items,
    settings,
    django_capture_on_commit_callbacks,
    run_due,
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 3
    TeamCarePolicy.objects.create(team=analyst.team, tell_lead=True)
    nudges = _reveal_all(sensitive_items, analyst, django_capture_on_commit_callbacks)
    assert "Your lead has been told" in nudges[2]
    notification = Notification.objects.get()
    assert notification.recipient == lead_with_email and notification.event == "exposure_break"
    run_due()
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [lead_with_email.email]
    assert sent.subject == f"{analyst.display_name} is stepping away for a break"
    text = sent.subject + sent.body
    for leak in ("self", "harm", "secret", "EV-", "sensitive items", "3", "WF-"):
        assert leak not in text.replace("sensitive material", "")
    told = AuditEvent.objects.get(action=AuditAction.EVIDENCE_LEAD_TOLD)
    assert told.data["leads"] == [lead_with_email.username]
    assert Notification.objects.get().status == NotificationStatus.DELIVERED


def test_nothing_is_sent_when_the_reveal_rolls_back_or_the_team_has_not_opted_in(
    analyst, lead_with_email, sensitive_items, settings, django_capture_on_commit_callbacks
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 3
    nudges = _reveal_all(sensitive_items, analyst, django_capture_on_commit_callbacks)
    assert "You've viewed 3" in nudges[2] and "lead" not in nudges[2]
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.EVIDENCE_LEAD_TOLD).exists()


def test_once_per_shift_then_again_in_the_next(
    analyst, lead_with_email, add_image, settings, django_capture_on_commit_callbacks
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 2
    TeamCarePolicy.objects.create(team=analyst.team, tell_lead=True)
    items = [add_image(image_bytes(seed=n), category="nudity") for n in range(6)]
    _reveal_all(items[:2], analyst, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 1
    # Below the threshold again (the window has passed), then over it within the shift.
    clock.advance(timedelta(hours=3))
    _reveal_all(items[2:4], analyst, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.EVIDENCE_EXPOSURE_NUDGED).count() == 2
    # A new shift: the lead is told again.
    clock.advance(settings.WATCHFLOOR_EXPOSURE_SHIFT)
    _reveal_all(items[4:], analyst, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 2


def test_a_lead_without_email_gets_a_failed_notification_saying_why(
    analyst, lead, sensitive_items, settings, django_capture_on_commit_callbacks
):
    settings.WATCHFLOOR_EXPOSURE_NUDGE_ITEMS = 3
    TeamCarePolicy.objects.create(team=analyst.team, tell_lead=True)
    _reveal_all(sensitive_items, analyst, django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert "no email address" in notification.last_error
