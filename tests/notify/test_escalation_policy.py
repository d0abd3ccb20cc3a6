"""The escalation policy on the injected clock: who is told at once, who next when nobody
acknowledges, and what stops the chase."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.audit.selectors import verify_chain
from watchfloor.core import clock
from watchfloor.notify.acknowledgement import acknowledge_escalation
from watchfloor.notify.delivery import attempt_delivery, resume_overdue_work
from watchfloor.notify.models import (
    Engagement,
    EngagementStatus,
    Notification,
    NotificationStatus,
)
from watchfloor.notify.services import notify_escalation_event

pytestmark = pytest.mark.usefixtures("frozen_clock", "team")


def recipients_of(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


def test_sev0_pages_the_crisis_lead_at_once_then_the_regional_head_after_ten_minutes(
    escalate, run_due, team, war_room, receiver
):
    escalation = escalate(0)
    engagement = Engagement.objects.get(escalation=escalation)
    assert engagement.rule_code == "crisis"
    assert engagement.status == EngagementStatus.ACTIVE

    run_due()
    # Stage 1: the leads of site policy (no rota yet, so the team's leads) and the war room.
    assert recipients_of(mail.outbox) == ["mei.lead@watchfloor.test"]
    assert len(receiver.requests) == 1
    assert receiver.requests[0].json["escalation"]["reference"] == escalation.reference

    clock.advance(timedelta(minutes=9, seconds=59))
    run_due()
    assert recipients_of(mail.outbox) == ["mei.lead@watchfloor.test"], "too early for stage 2"

    clock.advance(timedelta(seconds=1))
    run_due()
    assert recipients_of(mail.outbox) == ["apac.head@watchfloor.test", "mei.lead@watchfloor.test"]
    engagement.refresh_from_db()
    assert engagement.current_stage == 1
    assert engagement.next_stage_at is None  # no stage after the last


def test_the_timer_is_a_task_row_with_run_after_so_it_survives_a_restart(escalate, run_due):
    escalation = escalate(0)
    engagement = Engagement.objects.get(escalation=escalation)
    timer = run_due.pending("reach_policy_stage").get()
    assert timer.run_after == engagement.started_at + timedelta(minutes=10)
    assert timer.args_kwargs == {"args": [engagement.pk, 1], "kwargs": {}}


def test_acknowledging_stops_the_chase_before_the_next_stage(escalate, run_due, analyst):
    escalation = escalate(0)
    run_due()
    clock.advance(timedelta(minutes=3))
    engagement = acknowledge_escalation(escalation=escalation, actor=analyst)
    assert engagement.status == EngagementStatus.ACKNOWLEDGED
    assert engagement.acknowledged_by == analyst and engagement.acknowledged_via == "ui"

    clock.advance(timedelta(minutes=30))
    assert run_due() == ["reach_policy_stage: nothing to do: acknowledged"]
    assert "apac.head@watchfloor.test" not in recipients_of(mail.outbox)
    event = AuditEvent.objects.get(action=AuditAction.NOTIFY_ACKNOWLEDGED)
    assert event.escalation_id == escalation.pk
    assert event.data["via"] == "ui" and event.data["minutes_after_start"] == 3.0


def test_closing_the_escalation_stops_the_policy_and_cancels_what_was_not_sent(
    escalate, run_due, analyst, committed
):
    from watchfloor.escalations.services import transition_escalation

    escalation = escalate(2)  # SEV2: on call now, the regional head in two hours
    with committed():
        transition_escalation(
            escalation=escalation, to_status="closed", actor=analyst, reason="duplicate report"
        )
        notify_escalation_event(escalation=escalation, event="closed", actor=None)
    engagement = Engagement.objects.get(escalation=escalation)
    assert engagement.status == EngagementStatus.ENDED
    assert engagement.end_reason == "the escalation was closed"
    # The stage-1 emails had not been sent yet: cancelled, with the reason.
    # (The filing analyst has no email address: that one failed at once, and says so.)
    cancelled = Notification.objects.filter(engagement=engagement).exclude(address="")
    assert {n.status for n in cancelled} == {NotificationStatus.CANCELLED}
    assert all("closed" in n.last_error for n in cancelled)
    clock.advance(timedelta(hours=3))
    run_due()
    assert mail.outbox == []


def test_raising_the_severity_replaces_the_running_rule(escalate, run_due, lead, committed):
    from watchfloor.escalations.services import override_severity

    escalation = escalate(2)
    run_due()
    with committed():
        escalation = override_severity(
            escalation=escalation, severity=0, actor=lead, reason="livestream confirmed"
        )
        notify_escalation_event(escalation=escalation, event="severity_changed", actor=lead)
    old, new = Engagement.objects.filter(escalation=escalation).order_by("started_at", "id")
    assert old.rule_code == "high" and old.status == EngagementStatus.ENDED
    assert old.end_reason == "severity changed from SEV2 to SEV0"
    assert new.rule_code == "crisis" and new.status == EngagementStatus.ACTIVE
    assert new.trigger == "severity_changed"


def test_the_same_rule_carries_on_when_severity_changes_within_it(escalate, committed):
    escalation = escalate(0)
    with committed():
        again = notify_escalation_event(escalation=escalation, event="severity_changed", actor=None)
    assert again == Engagement.objects.get(escalation=escalation)


def test_an_acknowledged_escalation_made_milder_is_not_chased_again(
    escalate, analyst, lead, admin_user, committed
):
    from watchfloor.escalations.models import Escalation
    from watchfloor.escalations.services import override_severity
    from watchfloor.escalations.severity_changes import approve_downgrade, pending_downgrade

    escalation = escalate(0)
    acknowledge_escalation(escalation=escalation, actor=analyst)
    with committed():
        # Lowering a SEV0 takes a second person: proposed by the lead, approved by an admin.
        override_severity(escalation=escalation, severity=2, actor=lead, reason="contained")
        approve_downgrade(downgrade=pending_downgrade(escalation), actor=admin_user)
        escalation = Escalation.objects.get(pk=escalation.pk)
        assert escalation.severity == 2
        assert (
            notify_escalation_event(escalation=escalation, event="severity_changed", actor=lead)
            is None
        )
    assert Engagement.objects.filter(escalation=escalation).count() == 1


def test_a_severity_without_a_rule_notifies_nobody(escalate, run_due):
    escalation = escalate(3)
    run_due()
    assert not Engagement.objects.filter(escalation=escalation).exists()
    assert mail.outbox == []


def test_filing_twice_does_not_start_a_second_chase(escalate, committed):
    escalation = escalate(0)
    with committed():
        notify_escalation_event(escalation=escalation, event="created", actor=None)
    assert Engagement.objects.filter(escalation=escalation).count() == 1


def test_an_unknown_event_is_refused_with_the_choices(escalate):
    from watchfloor.core.errors import InvalidInput

    escalation = escalate(3)
    with pytest.raises(InvalidInput, match="use one of created, severity_changed"):
        notify_escalation_event(escalation=escalation, event="deleted", actor=None)


def test_a_target_that_names_nobody_is_recorded_not_silently_dropped(escalate, write_policy):
    write_policy(
        """
        version: "t"
        rules:
          - code: crisis
            name: Crisis
            when: {severities: [SEV0]}
            stages:
              - notify:
                  - user: nobody.here
                  - channel: not-set-up
                  - on_call: legal
        """
    )
    escalation = escalate(0)
    problems = {
        n.target: n.last_error
        for n in Notification.objects.filter(escalation=escalation, status="failed")
    }
    assert problems == {
        "user: nobody.here": "no active user named 'nobody.here'",
        "channel: not-set-up": "no active channel 'not-set-up'; set it up in the admin",
        "on call: legal": "no on-call rota is available yet, and Legal has no active members",
    }
    stage = AuditEvent.objects.get(action=AuditAction.NOTIFY_STAGE_REACHED)
    assert {n["problem"] for n in stage.data["notifications"]} == set(problems.values())


def test_a_broken_policy_file_never_blocks_filing_and_says_why_on_the_timeline(
    escalate, write_policy
):
    write_policy("version: [not text\n")
    escalation = escalate(0)
    assert not Engagement.objects.filter(escalation=escalation).exists()
    event = AuditEvent.objects.get(action=AuditAction.NOTIFY_POLICY_UNAVAILABLE)
    assert event.escalation_id == escalation.pk
    assert event.data["problems"][0].startswith("escalation_policies.yaml:2: not valid YAML")


def test_on_call_comes_from_the_rota_with_the_escalations_market_and_the_time(
    escalate, run_due, rota, duty_analyst
):
    calls = rota([duty_analyst])
    escalation = escalate(2, markets=["JP"])
    assert calls == [("site_policy", "JP", clock.now())]
    notification = Notification.objects.get(escalation=escalation, stage=0)
    assert notification.recipient == duty_analyst
    assert notification.reason == "on call for Site Policy (Safety & Cybercrime) in JP"


def test_without_a_rota_every_member_is_told_and_the_reason_says_so(escalate):
    escalation = escalate(2)
    reasons = set(
        Notification.objects.filter(escalation=escalation, stage=0).values_list("reason", flat=True)
    )
    assert reasons == {
        "no on-call rota is available yet, so every active member of Site Policy "
        "(Safety & Cybercrime) is told"
    }


def test_nobody_on_call_falls_back_to_the_team_and_says_why(escalate, rota, duty_analyst):
    rota([])
    escalation = escalate(2, markets=["JP"])
    told = Notification.objects.get(escalation=escalation, stage=0, recipient=duty_analyst)
    assert told.reason == (
        "nobody is on call for Site Policy (Safety & Cybercrime) in JP, so every active "
        "member of Site Policy (Safety & Cybercrime) is told"
    )


def test_the_people_apps_rota_is_asked_when_it_exists(escalate, monkeypatch, duty_analyst):
    from tests.notify.conftest import REAL_ON_CALL_LOOKUP
    from watchfloor.notify import recipients

    lookup = REAL_ON_CALL_LOOKUP()
    if lookup is None:
        pytest.skip("watchfloor.people.oncall is not there yet")
    monkeypatch.setattr(recipients, "_on_call_lookup", REAL_ON_CALL_LOOKUP)
    escalation = escalate(2, markets=["JP"])  # no rota loaded: nobody is on call
    told = Notification.objects.get(escalation=escalation, stage=0, recipient=duty_analyst)
    assert "nobody is on call for Site Policy (Safety & Cybercrime) in JP" in told.reason


def test_a_rota_that_cannot_answer_does_not_stop_the_filing(escalate, monkeypatch, duty_analyst):
    from watchfloor.core.errors import InvalidInput
    from watchfloor.notify import recipients

    def broken(team_code, market, at):
        raise InvalidInput(f"unknown market '{market}'", field="market")

    monkeypatch.setattr(recipients, "_on_call_lookup", lambda: broken)
    escalation = escalate(2, markets=["JP"])
    told = Notification.objects.get(escalation=escalation, stage=0, recipient=duty_analyst)
    assert "the rota could not answer (unknown market 'JP')" in told.reason


def test_a_lost_timer_is_found_again_when_a_worker_starts(escalate, run_due, committed):
    from django_tasks_db.models import DBTaskResult

    escalation = escalate(0)
    run_due()
    DBTaskResult.objects.all().delete()  # the task rows are gone (a restore, a bad deploy)
    clock.advance(timedelta(minutes=15))
    with committed():
        report = resume_overdue_work()
    assert report.stages_requeued == [Engagement.objects.get(escalation=escalation).pk]
    run_due()
    assert "apac.head@watchfloor.test" in recipients_of(mail.outbox)


def test_a_delivery_cut_off_mid_send_is_recorded_as_interrupted_and_tried_again(
    escalate, run_due, committed
):
    from watchfloor.notify.delivery import _begin

    escalation = escalate(2)
    notification = Notification.objects.filter(escalation=escalation, stage=0).first()
    _begin(notification.pk)  # the worker marks it sending... and dies
    clock.advance(timedelta(minutes=11))
    with committed():
        report = resume_overdue_work()
    assert notification.pk in report.interrupted
    run_due()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    assert [a.outcome for a in notification.attempts.all()] == ["interrupted", "delivered"]


def test_running_a_delivery_twice_sends_once(escalate, committed):
    escalation = escalate(2)
    notification = Notification.objects.filter(escalation=escalation, stage=0).first()
    with committed():
        assert attempt_delivery(notification_id=notification.pk) == "delivered"
        assert attempt_delivery(notification_id=notification.pk) == "nothing to do: delivered"
    assert len([m for m in mail.outbox if notification.address in m.to]) == 1


def test_every_write_is_audited_with_the_escalation_and_the_chain_holds(
    escalate, run_due, war_room, analyst
):
    escalation = escalate(0)
    run_due()
    acknowledge_escalation(escalation=escalation, actor=analyst)
    actions = list(
        AuditEvent.objects.filter(action__startswith="notify.", escalation_id=escalation.pk)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions[:2] == [AuditAction.NOTIFY_POLICY_STARTED, AuditAction.NOTIFY_STAGE_REACHED]
    assert actions.count(AuditAction.NOTIFY_DELIVERED) == 2  # the lead's email, the war room
    assert actions[-1] == AuditAction.NOTIFY_ACKNOWLEDGED
    assert verify_chain().ok
