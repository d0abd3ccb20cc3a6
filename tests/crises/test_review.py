"""The post-incident review: metrics computed from a known timeline, the team's part, action
items tracked to completion, and the Markdown export."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from tests.conftest import DEFAULT_NOW
from tests.crises.conftest import signed_in
from tests.escalations.conftest import SEVERITY_ANSWERS
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.crises import services
from watchfloor.crises.models import ActionItem, Level
from watchfloor.crises.review import review_facts
from watchfloor.crises.review_markdown import review_markdown
from watchfloor.escalations.decisions import approve_decision, record_decision
from watchfloor.escalations.inputs import StatutoryTriggerInput
from watchfloor.escalations.services import transition_escalation

pytestmark = pytest.mark.usefixtures("frozen_clock")
MINUTE = timedelta(minutes=1)


def at(minutes_after_midnight: int):
    """A time on the test day, in minutes after 00:00 UTC (DEFAULT_NOW is 00:30)."""
    return DEFAULT_NOW - 30 * MINUTE + minutes_after_midnight * MINUTE


def advance_to(minutes_after_midnight: int) -> None:
    clock.advance(at(minutes_after_midnight) - clock.now())


@pytest.fixture
def known_crisis(make_escalation, analyst, lead):
    """Two escalations and a crisis, on a timeline fixed to the minute:

    00:00 India government order received (3-hour clock)    00:30 filed as WF-1
    00:20 Malaysian user report received (1-hour clock)     00:35 filed as WF-2
    00:40 WF-1 triaged (acknowledged)                       01:00 crisis declared from WF-1
    01:30 decision on WF-1 (first action)                   02:00 WF-2 closed (its clock met late)
    02:30 WF-1 actioned (its clock met in time)             04:00 stood down    04:30 closed
    """
    order = make_escalation(
        title="Government order: attack footage",
        markets=["IN"],
        languages=["hi"],
        rubric_answers=SEVERITY_ANSWERS[2],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="in-itrules-3-1-d", received_at=at(0), notice_reference="GO-1"
            )
        ],
    )
    advance_to(35)
    report = make_escalation(
        title="User report: attack footage",
        markets=["MY"],
        rubric_answers=SEVERITY_ANSWERS[3],
        statutory_triggers=[StatutoryTriggerInput(rule="my-osa-ack", received_at=at(20))],
    )
    advance_to(40)
    transition_escalation(escalation=order, to_status="triaged", actor=analyst)
    advance_to(60)
    crisis = services.declare_crisis(
        actor=analyst,
        title="Attack footage across South and Southeast Asia",
        declared_from=order,
        escalations=[report],
    )
    advance_to(90)
    decision = record_decision(
        escalation=order,
        actor=analyst,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="The URLs in the order",
        rationale="Perpetrator footage; the order is lawful.",
    )
    # The 3-hour order is SEV1 (the rule's own floor), so a second person approves.
    approve_decision(decision=decision, actor=lead)
    advance_to(120)
    transition_escalation(
        escalation=report, to_status="closed", actor=analyst, reason="Handled under WF-1"
    )
    advance_to(150)
    for status in ("investigating", "decided", "actioned"):
        transition_escalation(escalation=order, to_status=status, actor=analyst)
    advance_to(240)
    services.change_level(
        crisis=crisis,
        to_level=Level.STAND_DOWN,
        actor=analyst,
        confirmed_criteria=["comms_agree", "regions_agree"],
    )
    advance_to(270)
    crisis = services.change_level(
        crisis=crisis, to_level=Level.CLOSED, actor=analyst, reason="Order complied with"
    )
    return crisis, order, report


def test_key_times_and_durations_from_a_known_timeline(known_crisis, analyst):
    crisis, order, report = known_crisis
    facts = review_facts(crisis=crisis, viewer=analyst, now=clock.now())
    assert {k.code: k.at for k in facts.key_times} == {
        "began": at(0),
        "detected": at(30),
        "acknowledged": at(40),
        "first_action": at(90),
        "declared": at(60),
        "contained": at(240),
        "stood_down": at(240),
        "closed": at(270),
    }
    assert {s.code: s.text for s in facts.spans} == {
        "detect": "30 min",
        "acknowledge": "10 min",
        "first_action": "1 h",
        "declare": "30 min",
        "contain": "3 h 30 min",
        "stand_down": "3 h",
        "duration": "3 h 30 min",
    }
    outcomes = {(o.escalation, o.label): o.outcome for o in facts.statutory}
    assert outcomes == {
        (order.reference, "India: remove or disable access within 3 hours"): "Met",
        (report.reference, "Malaysia: acknowledge the report within 1 hour"): "Missed (met late)",
    }
    assert facts.statutory_summary == "1 met, 1 missed, 0 running"
    assert [(s.from_level, s.to_level) for s in facts.levels] == [
        ("incident", "stand_down"),
        ("stand_down", "closed"),
    ]
    assert [d.escalation_id for d in facts.decisions] == [order.pk]


def test_the_team_can_correct_when_it_began_and_was_contained(known_crisis, analyst):
    crisis, *_ = known_crisis
    services.update_review(
        crisis=crisis,
        actor=analyst,
        incident_started_at=at(-15),
        contained_at=at(180),
        went_well="Legal turned the order around in an hour.",
    )
    facts = review_facts(crisis=crisis, viewer=analyst, now=clock.now())
    assert facts.span("detect").text == "45 min"
    assert facts.span("contain").text == "2 h 30 min"
    assert [k.source for k in facts.key_times if k.code in ("began", "contained")] == [
        "entered by the team",
        "entered by the team",
    ]
    with pytest.raises(InvalidInput):
        services.update_review(crisis=crisis, actor=analyst, contained_at=clock.now() + MINUTE)


def test_the_review_counts_only_what_the_reader_may_see(make_escalation, declare, analyst, lead):
    hidden = make_escalation(
        title="Restricted: victim identified",
        is_restricted=True,
        markets=["MY"],
        statutory_triggers=[StatutoryTriggerInput(rule="my-osa-ack", received_at=at(0))],
    )
    crisis = declare(escalations=[hidden])
    mine = review_facts(crisis=crisis, viewer=analyst, now=clock.now())
    theirs = review_facts(crisis=crisis, viewer=lead, now=clock.now())
    assert len(mine.statutory) == 1 and theirs.statutory == []
    assert hidden.reference not in review_markdown(theirs)
    assert "victim identified" not in review_markdown(theirs)


def test_the_teams_part_opens_at_stand_down(crisis, analyst):
    with pytest.raises(Conflict) as refused:
        services.update_review(crisis=crisis, actor=analyst, went_well="x")
    assert "opens when" in refused.value.message


def test_root_causes_and_action_items_to_completion(known_crisis, analyst, other_analyst):
    crisis, *_ = known_crisis
    cause = services.add_root_cause(
        crisis=crisis,
        actor=analyst,
        problem="The Malaysian acknowledgement was late",
        whys=["Nobody watched the MY queue at 08:00 MYT", "The rota had a gap", "", ""],
        root_cause="Rota gaps are not checked against statutory queues",
    )
    assert cause.whys == ["Nobody watched the MY queue at 08:00 MYT", "The rota had a gap"]
    with pytest.raises(InvalidInput) as refused:
        services.add_root_cause(
            crisis=crisis, actor=analyst, problem="x", whys=[""], root_cause="y"
        )
    assert refused.value.field == "whys[0]"
    with pytest.raises(InvalidInput):
        services.add_root_cause(
            crisis=crisis, actor=analyst, problem="x", whys=["w"] * 6, root_cause="y"
        )
    item = services.add_action_item(
        crisis=crisis,
        actor=analyst,
        title="Check rota gaps against statutory queues weekly",
        owner=other_analyst,
        due_on=date(2026, 12, 8),
    )
    with pytest.raises(InvalidInput) as refused:
        services.change_action_item(item=item, actor=analyst, status=ActionItem.Status.DROPPED)
    assert refused.value.field == "note"
    item = services.change_action_item(item=item, actor=other_analyst, status="done")
    assert item.closed_by == other_analyst and item.closed_at == clock.now()
    with pytest.raises(Conflict):
        services.change_action_item(item=item, actor=analyst, status="done")
    item = services.change_action_item(
        item=item, actor=analyst, status="open", note="not weekly yet"
    )
    assert item.closed_at is None
    changes = AuditEvent.objects.filter(action=AuditAction.CRISIS_ACTION_ITEM_CHANGED)
    assert [(e.data["from"], e.data["to"]) for e in changes] == [("open", "done"), ("done", "open")]


def test_the_markdown_export(known_crisis, analyst, other_analyst):
    crisis, order, report = known_crisis
    services.update_review(
        crisis=crisis,
        actor=analyst,
        summary="Footage of the attack spread | fast.",
        went_well="Legal turned the order around in an hour.",
        went_badly="The Malaysian acknowledgement was late.",
        contributing_factors="A rota gap at the MY morning handover.",
    )
    services.add_root_cause(
        crisis=crisis,
        actor=analyst,
        problem="Late acknowledgement",
        whys=["Nobody watched the queue", "The rota had a gap"],
        root_cause="Rota gaps are not checked",
    )
    services.add_action_item(
        crisis=crisis,
        actor=analyst,
        title="Check rota | gaps",
        owner=other_analyst,
        due_on=date(2026, 12, 8),
    )
    text = review_markdown(review_facts(crisis=crisis, viewer=analyst, now=clock.now()))
    assert text.startswith(f"# Post-incident review: {crisis.reference} Attack footage across")
    for expected in (
        "## Key times",
        "| Incident began | 2026-11-24 05:30 IST (00:00 UTC) | the earliest linked escalation",
        "| Time to containment | 3 h 30 min | detected → contained |",
        f"| {report.reference} | Malaysia: acknowledge the report within 1 hour |",
        "| Missed (met late) |",
        "Outcome: 1 met, 1 missed, 0 running.",
        "Footage of the attack spread | fast.",
        "### 1. Late acknowledgement",
        "1. Why? Nobody watched the queue\n2. Why? The rota had a gap",
        "**Root cause:** Rota gaps are not checked",
        "| Check rota \\| gaps | ben.analyst | 2026-12-08 | Open |",
        "Incident → Stand-down",
        f"· {order.reference} · **Decision recorded**",
        "**Crisis declared**",
    ):
        assert expected in text, expected


def test_the_export_is_served_and_audited(known_crisis, analyst):
    crisis, *_ = known_crisis
    response = signed_in(analyst).get(reverse("crisis-review-md", args=[crisis.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode().startswith("# Post-incident review")
    assert AuditEvent.objects.filter(
        action=AuditAction.CRISIS_REVIEW_EXPORTED, data__crisis_id=crisis.pk
    ).exists()
    page = signed_in(analyst).get(reverse("crisis-review", args=[crisis.pk]))
    html = page.content.decode()
    assert "Time to containment" in html and "3 h 30 min" in html
    assert "@media print" not in html  # print rules live in the stylesheet (CSP)
