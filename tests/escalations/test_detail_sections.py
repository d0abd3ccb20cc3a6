"""The long escalation page: a nav of its sections at the top, each naming a section that
is on the page, and a timeline that folds notification delivery attempts into one line
unless asked for every one (?timeline=all)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
from watchfloor.escalations.timeline import (
    DELIVERY_ATTEMPT_WORDS,
    FOLDED_DELIVERIES,
    TimelineLine,
    fold_delivery_attempts,
)

pytestmark = pytest.mark.django_db

SECTIONS = ("overview", "clocks", "playbooks", "decisions", "partner-requests", "evidence")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def attempt(escalation, action: AuditAction, to: str, number: int) -> None:
    with transaction.atomic():
        record_event(
            action=action,
            actor=None,
            escalation_id=escalation.pk,
            data={"to": to, "attempt": number, "of": 3},
        )


@pytest.fixture
def paged(make_escalation):
    """An escalation whose pages were delivered, retried and given up on."""
    escalation = make_escalation(title="Paged about all night")
    attempt(escalation, AuditAction.NOTIFY_DELIVERY_RETRYING, "ops-webhook", 1)
    attempt(escalation, AuditAction.NOTIFY_DELIVERED, "ops-webhook", 2)
    attempt(escalation, AuditAction.NOTIFY_DELIVERED, "lead@example.org", 1)
    attempt(escalation, AuditAction.NOTIFY_DELIVERY_FAILED, "old-pager", 3)
    return escalation


def test_the_page_names_its_sections_at_the_top(paged, analyst):
    page = signed_in(analyst).get(f"/escalations/{paged.pk}/").content.decode()
    nav = re.search(r'<nav class="page-sections".*?</nav>', page, re.S)
    assert nav, "the section nav is on the page"
    targets = re.findall(r'href="#([\w-]+)"', nav.group(0))
    assert targets == [*SECTIONS, "timeline"]
    for target in targets:
        assert f'id="{target}"' in page, target
    # At the top: before the first section it names.
    assert page.index('class="page-sections"') < page.index('id="overview"')


def test_delivery_attempts_fold_into_one_line_by_default(paged, analyst):
    page = signed_in(analyst).get(f"/escalations/{paged.pk}/").content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "4 notification delivery attempts folded into one line" in timeline
    assert "4 notification delivery attempts" in timeline
    assert "2 delivered, 1 failed, retry scheduled, 1 failed, gave up" in timeline
    assert "to old-pager, attempt 3 of 3" not in timeline
    assert 'href="?timeline=all#timeline"' in timeline
    # The work is still there.
    assert "Escalation created" in timeline


def test_every_attempt_on_request(paged, analyst):
    client = signed_in(analyst)
    page = client.get(f"/escalations/{paged.pk}/", {"timeline": "all"}).content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "All 4 notification delivery attempts shown" in timeline
    assert "<strong>4 notification delivery attempts</strong>" not in timeline
    assert "to old-pager, attempt 3 of 3" in timeline
    assert "to lead@example.org, attempt 1 of 3" in timeline
    assert 'href="?timeline=work#timeline"' in timeline
    # Anything else is the default.
    page = client.get(f"/escalations/{paged.pk}/", {"timeline": "<b>"}).content.decode()
    assert "4 notification delivery attempts" in page


def test_nothing_to_fold_leaves_the_timeline_as_it_is(make_escalation, analyst):
    escalation = make_escalation(title="Quiet one")
    page = signed_in(analyst).get(f"/escalations/{escalation.pk}/").content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "delivery attempt" not in timeline
    assert "?timeline=all" not in timeline


# ---------------------------------------------------------------- the folding rule

START = datetime(2026, 11, 24, 0, 0)
ACTIONS = [*DELIVERY_ATTEMPT_WORDS, AuditAction.ESCALATION_NOTE_ADDED, "escalation.assigned"]


def line(n: int, action: str) -> TimelineLine:
    return TimelineLine(
        at=START + timedelta(minutes=n), actor="a", action=action, label="", summary="", body=""
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ACTIONS), max_size=30))
def test_folding_keeps_the_work_in_order_and_counts_every_attempt(actions):
    lines = [line(n, action) for n, action in enumerate(actions)]
    folded = fold_delivery_attempts(lines)
    work = [x for x in lines if x.action not in DELIVERY_ATTEMPT_WORDS]
    attempts = [x for x in lines if x.action in DELIVERY_ATTEMPT_WORDS]
    assert [x for x in folded if x.action != FOLDED_DELIVERIES] == work
    summaries = [x for x in folded if x.action == FOLDED_DELIVERIES]
    if not attempts:
        assert summaries == []
        return
    (summary,) = summaries
    assert summary.folded == len(attempts)
    assert summary.at == attempts[-1].at
    # In time order still.
    assert [x.at for x in folded] == sorted(x.at for x in folded)
