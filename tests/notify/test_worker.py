"""The real worker: `watchfloor worker` (the database worker of django-tasks) and the
background thread the demo starts, against committed rows as in production."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django_tasks.signals import task_finished

from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.bootstrap.worker import start_background_worker
from watchfloor.notify.models import Notification, NotificationStatus
from watchfloor.notify.services import notify_escalation_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def filed(catalog, team, make_escalation, analyst):
    def file():
        escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[0])
        notify_escalation_event(escalation=escalation, event="created", actor=analyst)
        return escalation

    return file


def test_the_worker_command_delivers_what_is_due_and_reports_recovery(filed):
    escalation = filed()
    out = StringIO()
    call_command("worker", "--batch", stdout=out)
    assert "worker starting: 0 interrupted deliveries resumed" in out.getvalue()
    delivered = Notification.objects.get(escalation=escalation, recipient__username="mei.lead")
    assert delivered.status == NotificationStatus.DELIVERED
    assert [m.to for m in mail.outbox] == [["mei.lead@watchfloor.test"]]


def test_the_demo_worker_thread_delivers_in_the_background(filed):
    delivered = threading.Event()

    def after_each_task(**kwargs) -> None:
        # In the worker's thread, when a task has run: has it delivered the page?
        if Notification.objects.filter(
            recipient__username="mei.lead", status=NotificationStatus.DELIVERED
        ).exists():
            delivered.set()

    task_finished.connect(after_each_task, weak=False)
    background = start_background_worker(interval=0.05)
    try:
        escalation = filed()
        notification = Notification.objects.get(
            escalation=escalation, recipient__username="mei.lead"
        )
        delivered.wait(timeout=15)
        notification.refresh_from_db()
        assert notification.status == NotificationStatus.DELIVERED
    finally:
        background.stop()
        task_finished.disconnect(after_each_task)
    assert not background.thread.is_alive()
