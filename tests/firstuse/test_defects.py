"""Regression tests for the defects a first user met (issue 12), one or more per defect,
each named after the defect's number in the issue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from watchfloor.escalations.services import StatutoryTriggerInput

pytestmark = pytest.mark.django_db


def _new_escalation_form(**overrides) -> dict:
    """The new-escalation form as a person fills it, rubric left "not assessed"."""
    data = {
        "type": "regulator_notice",
        "title": "Removal request under the Information Distribution Platform Act",
        "summary": "A person asks us to remove posts that name them.",
        "markets": ["JP"],
        "languages": "ja",
        "subjects": "",
        "source_kind": "regulator",
        "source_team": "",
        "source_detail": "",
        "statutory_rule": "",
        "statutory_received_at": "",
        "statutory_time_zone": "Asia/Tokyo",
        "statutory_due_at": "",
        "notice_reference": "",
        "policy": "",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- 1. statutory floor


def test_defect_01_statutory_trigger_raises_the_floor(make_escalation, frozen_clock):
    """A regulator notice with its statutory rule set and the rubric not assessed is no
    longer SEV4: the statutory trigger fires the floor by itself."""
    escalation = make_escalation(
        type_code="regulator_notice",
        markets=["JP"],
        languages=["ja"],
        rubric_answers={},
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="jp-idpa-removal-request", received_at=frozen_clock - timedelta(hours=1)
            )
        ],
    )
    assert escalation.severity == 2
    fired = [floor["code"] for floor in escalation.severity_explanation["floors"]]
    assert fired == ["statutory_clock"]
    assert "raises it to SEV2" in escalation.severity_explanation["summary"]


def test_defect_01_statutory_rule_own_floor_applies(make_escalation, frozen_clock):
    """India's 3-hour removal order carries its own floor (SEV1) on top of the SEV2 one."""
    escalation = make_escalation(
        type_code="government_legal_demand",
        markets=["IN"],
        languages=["hi"],
        rubric_answers={},
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="in-itrules-3-1-d", received_at=frozen_clock - timedelta(minutes=10)
            )
        ],
    )
    assert escalation.severity == 1
    floors = {floor["code"]: floor for floor in escalation.severity_explanation["floors"]}
    assert set(floors) == {"statutory_clock", "in-itrules-3-1-d"}
    assert floors["in-itrules-3-1-d"]["min_severity"] == 1
    assert "3 hour" in floors["in-itrules-3-1-d"]["reason"]
    acknowledge = escalation.clocks.get(kind="acknowledge")
    assert acknowledge.due_at - acknowledge.starts_at == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("type_code", "severity"),
    [("imminent_threat_to_life", 0), ("self_harm_imminent_risk", 1)],
)
def test_defect_01_floor_rules_do_not_hang_on_an_unrelated_answer(
    make_escalation, type_code, severity
):
    """Every floor rule was checked: a type that already says "imminent" fires its floor
    without the imminence answer (left "not assessed" these were SEV4)."""
    escalation = make_escalation(type_code=type_code, markets=["JP"], rubric_answers={})
    assert escalation.severity == severity


def test_defect_01_preview_counts_the_statutory_rule(analyst_client, api_as, analyst):
    page = analyst_client.post(
        reverse("escalation-preview"),
        _new_escalation_form(statutory_rule="jp-idpa-removal-request"),
    )
    assert page.status_code == 200
    assert "statutory_clock" in page.content.decode()
    assert "SEV2" in page.content.decode()

    response = api_as(analyst).post(
        "/severity/preview",
        {"type": "regulator_notice", "rubric_answers": {}, "statutory_rules": ["in-itrules-3-1-d"]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["severity"] == 1
    assert {f["code"] for f in response.json()["floors"]} == {"statutory_clock", "in-itrules-3-1-d"}


# ---------------------------------------------------------------- 2. one acknowledge

SEV2_ANSWERS = {
    "harm": "moderate",
    "imminence": "likely",
    "reach": "significant",
    "vulnerability": "some",
}


def _engagements(escalation):
    from watchfloor.notify.models import Engagement

    return list(Engagement.objects.filter(escalation=escalation).order_by("started_at", "pk"))


def _acknowledge_clock(escalation):
    return escalation.clocks.get(kind="acknowledge")


@pytest.mark.parametrize("how", ["status", "ownership", "decision"])
def test_defect_02_triaging_owning_or_acting_acknowledges_the_page(
    how, make_escalation, analyst, lead, frozen_clock
):
    from watchfloor.core import clock
    from watchfloor.escalations import services

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    assert escalation.severity == 2
    [engagement] = _engagements(escalation)
    assert engagement.status == "active"

    clock.advance(timedelta(minutes=12))
    if how == "status":
        services.transition_escalation(escalation=escalation, to_status="triaged", actor=analyst)
    elif how == "ownership":
        services.assign_escalation(escalation=escalation, owner=analyst, actor=analyst)
    else:
        services.record_decision(
            escalation=escalation,
            actor=analyst,
            policy_code="scams_fraud",
            action_code="remove_content",
            scope="The posts listed",
            rationale="Impersonates a charity.",
        )

    [engagement] = _engagements(escalation)
    assert engagement.status == "acknowledged"
    assert engagement.acknowledged_via == how
    assert engagement.acknowledged_by == analyst
    assert engagement.next_stage_at is None
    # One acknowledgement: the SLA clock of the same name is met at the same moment.
    assert _acknowledge_clock(escalation).met_at == frozen_clock + timedelta(minutes=12)


def test_defect_02_the_button_acknowledges_the_clock_too(make_escalation, analyst_client):
    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    response = analyst_client.post(reverse("notify-acknowledge", args=[escalation.pk]))
    assert response.status_code == 302
    assert _engagements(escalation)[0].status == "acknowledged"
    assert _acknowledge_clock(escalation).met_at is not None
    assert escalation.__class__.objects.get(pk=escalation.pk).next_due_label == "First action"


def test_defect_02_paging_stops_at_decided_and_stays_stopped(
    make_escalation, analyst, lead, frozen_clock
):
    from watchfloor.escalations import services

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    services.transition_escalation(escalation=escalation, to_status="investigating", actor=analyst)
    services.record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    # Raised after the decision: a graver rule pages again…
    services.override_severity(escalation=escalation, severity=0, reason="spreading", actor=lead)
    assert _engagements(escalation)[-1].status == "active"
    # …until the escalation is decided: then the pager stops, with the reason.
    services.transition_escalation(escalation=escalation, to_status="decided", actor=analyst)
    stopped = _engagements(escalation)[-1]
    assert stopped.status == "ended"
    assert stopped.end_reason == "the escalation was decided"
    assert not stopped.notifications.filter(status__in=["pending", "retrying"]).exists()
    # A decided escalation is not paged again, whatever its severity does.
    count = len(_engagements(escalation))
    services.override_severity(escalation=escalation, severity=1, reason="calmer", actor=lead)
    services.transition_escalation(escalation=escalation, to_status="actioned", actor=analyst)
    assert len(_engagements(escalation)) == count
    assert all(e.status != "active" for e in _engagements(escalation))


def test_defect_02_page_shows_the_pager_once_at_the_top(
    make_escalation, analyst, analyst_client, frozen_clock
):
    from watchfloor.escalations import services

    escalation = make_escalation(rubric_answers=SEV2_ANSWERS)
    url = reverse("escalation-detail", args=[escalation.pk])
    page = analyst_client.get(url).content.decode()
    assert page.lower().count("waiting for acknowledgement") == 1
    assert page.count(">Acknowledge</button>") == 1
    # At the top: before the clocks and the notifications history.
    assert page.index("waiting for acknowledgement") < page.index('id="clocks-heading"')
    assert page.index("waiting for acknowledgement") < page.index('id="notifications-heading"')

    services.transition_escalation(escalation=escalation, to_status="investigating", actor=analyst)
    services.record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    services.transition_escalation(escalation=escalation, to_status="decided", actor=analyst)
    services.transition_escalation(escalation=escalation, to_status="actioned", actor=analyst)
    page = analyst_client.get(url).content.decode()
    assert "waiting for acknowledgement" not in page.lower()
    assert "notified in" not in page
    assert ">Acknowledge</button>" not in page
    assert "Paging acknowledged" in page
    assert "by changing its status" in page
