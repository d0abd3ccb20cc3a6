"""What filing hands its ``created`` listeners (escalations.hooks.Filed): the markets and
clocks it has just written, so playbooks and paging need not read them back, and the
same as a read back would give."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from watchfloor.core import clock
from watchfloor.escalations.hooks import filed_with
from watchfloor.escalations.inputs import StatutoryTriggerInput
from watchfloor.escalations.models import Clock
from watchfloor.playbooks.selectors import current_facts

pytestmark = pytest.mark.django_db

# Reads of what filing has just written: the escalation's markets and its clocks.
READ_BACKS = ('"escalations_escalation_markets"."escalation_id" =', 'FROM "escalations_clock"')


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="one-market-sla-clocks"),
        pytest.param({"markets": ["TH", "PH", "JP"]}, id="markets-out-of-code-order"),
        pytest.param({"markets": []}, id="no-market"),
        pytest.param(
            {"type_code": "regulator_notice", "markets": ["AU"], "notice": "au-osa-removal-notice"},
            id="statutory-clock",
        ),
    ],
)
def test_the_listeners_get_what_a_read_back_would_give_without_reading_it(
    make_escalation, overrides
):
    overrides = dict(overrides)
    notice = overrides.pop("notice", None)
    if notice:
        received = clock.now() - timedelta(hours=3)
        overrides["statutory_triggers"] = [StatutoryTriggerInput(rule=notice, received_at=received)]
    with CaptureQueriesContext(connection) as filing:
        escalation = make_escalation(**overrides)

    filed = filed_with(escalation, "created")
    assert filed is not None
    read_back = current_facts(escalation)
    handed_over = current_facts(
        escalation, clocks=list(filed.clocks), markets=list(filed.market_codes)
    )
    assert handed_over == read_back
    assert read_back.has_statutory_clock == bool(notice)
    assert list(filed.market_codes) == list(escalation.markets.values_list("code", flat=True))
    stored = list(Clock.objects.filter(escalation=escalation))
    assert [(c.pk, c.kind, c.due_at, c.statutory_rule_id) for c in filed.clocks] == [
        (c.pk, c.kind, c.due_at, c.statutory_rule_id) for c in stored
    ]
    read_backs = [
        query["sql"]
        for query in filing.captured_queries
        if any(fragment in query["sql"] for fragment in READ_BACKS)
    ]
    assert read_backs == []


def test_only_the_created_event_gets_it(make_escalation):
    escalation = make_escalation()
    assert filed_with(escalation, "created") is not None
    for event in ("severity_changed", "reopened", "acknowledged", "closed", "merged"):
        assert filed_with(escalation, event) is None
