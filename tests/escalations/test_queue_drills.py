"""Drill escalations stay out of the queue of real work unless asked for, in the UI and
the API alike."""

from __future__ import annotations

import pytest

from watchfloor.escalations.selectors import QueueFilters, triage_queue

pytestmark = pytest.mark.django_db


def test_drills_are_hidden_by_default_and_can_be_included_or_isolated(analyst, make_escalation):
    real = make_escalation(title="Real scam wave")
    drill = make_escalation(title="[DRILL] Rehearsed scam wave", is_drill=True)

    def listed(**filters) -> set[int]:
        return set(
            triage_queue(user=analyst, filters=QueueFilters(**filters)).values_list("pk", flat=True)
        )

    assert listed() == {real.pk}
    assert listed(drills="include") == {real.pk, drill.pk}
    assert listed(drills="only") == {drill.pk}


def test_the_api_and_the_page_take_the_same_filter(analyst, make_escalation, client):
    make_escalation(title="Real scam wave")
    drill = make_escalation(title="[DRILL] Rehearsed scam wave", is_drill=True)
    client.force_login(analyst)
    api = client.get("/api/v1/escalations", {"drills": "only"}).json()
    assert [item["id"] for item in api["items"]] == [drill.pk]
    assert client.get("/api/v1/escalations", {"drills": "sometimes"}).status_code == 422
    page = client.get("/", {"drills": "only"}).content.decode()
    assert "Rehearsed scam wave" in page and "Real scam wave" not in page
