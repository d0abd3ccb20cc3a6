"""SLA and statutory clocks: when each falls due, what meets it, and which one is next.

Durations (PT24H) are elapsed time; business days keep the wall time in the market's
zone. Statutory clocks run from when the notice was received, not when it was filed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.escalations.conftest import SEVERITY_ANSWERS, assert_next_due_is_earliest_unmet
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.catalog.selectors import active_catalog_version, rubric_for
from watchfloor.core import clock
from watchfloor.core.errors import Conflict, InvalidInput
from watchfloor.escalations import services
from watchfloor.escalations.clocks import sla_due_times, statutory_due_at
from watchfloor.escalations.inputs import StatutoryTriggerInput
from watchfloor.escalations.models import Clock, Escalation, Status
from watchfloor.markets.models import StatutoryRule
from watchfloor.severity.rubric import evaluate

TOKYO = ZoneInfo("Asia/Tokyo")
SYDNEY = ZoneInfo("Australia/Sydney")
AUCKLAND = ZoneInfo("Pacific/Auckland")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# The au-osa-removal-notice rule as its clock names it.
AUSTRALIA_REMOVAL = "Australia: remove the material or cease hosting it within 24 hours"


def _clock(escalation: Escalation, kind: str) -> Clock:
    return Escalation.objects.get(pk=escalation.pk).clocks.get(kind=kind)


def _statutory(escalation: Escalation) -> Clock:
    return _clock(escalation, Clock.Kind.STATUTORY)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two instants (Python subtracts same-zone datetimes in wall time)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def _notice(rule: str, received_at: datetime, **extra) -> list[StatutoryTriggerInput]:
    return [StatutoryTriggerInput(rule=rule, received_at=received_at, **extra)]


# ---------------------------------------------------------------- SLA targets

SLA_TARGETS = {
    0: (timedelta(minutes=15), HOUR, DAY),
    1: (timedelta(minutes=30), 4 * HOUR, 3 * DAY),
    2: (2 * HOUR, DAY, 7 * DAY),
    # SEV3 acknowledges within one business day: Tuesday 09:30 in Tokyo → Wednesday 09:30.
    3: (DAY, 3 * DAY, 14 * DAY),
    4: (3 * DAY, 7 * DAY, 30 * DAY),
}


@pytest.mark.parametrize("severity", sorted(SLA_TARGETS))
def test_sla_clocks_fall_due_by_severity_from_when_the_escalation_opened(
    severity, escalation_at, frozen_clock
):
    escalation = escalation_at(severity, markets=["JP"])
    acknowledge, first_action, resolve = SLA_TARGETS[severity]

    assert escalation.opened_at == frozen_clock
    assert {
        kind: _clock(escalation, kind).due_at - escalation.opened_at
        for kind in (Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION, Clock.Kind.RESOLVE)
    } == {
        Clock.Kind.ACKNOWLEDGE: acknowledge,
        Clock.Kind.FIRST_ACTION: first_action,
        Clock.Kind.RESOLVE: resolve,
    }
    acknowledge_clock = _clock(escalation, Clock.Kind.ACKNOWLEDGE)
    assert acknowledge_clock.basis.startswith(f"SEV{severity} target: ")
    assert acknowledge_clock.label == "Acknowledge"
    assert not escalation.clocks.filter(kind=Clock.Kind.STATUTORY).exists()


def test_one_business_day_from_friday_evening_in_tokyo_is_monday_evening(escalation_at):
    clock.freeze(datetime(2026, 11, 27, 19, 0, tzinfo=TOKYO))  # Friday
    try:
        escalation = escalation_at(3, markets=["JP"])
    finally:
        clock.unfreeze()

    due = _clock(escalation, Clock.Kind.ACKNOWLEDGE).due_at
    assert due.astimezone(TOKYO) == datetime(2026, 11, 30, 19, 0, tzinfo=TOKYO)  # Monday
    assert _clock(escalation, Clock.Kind.ACKNOWLEDGE).basis == "SEV3 target: 1 business day"


def test_business_days_are_counted_in_the_markets_zone(escalation_at):
    # Saturday 08:00 in Tokyo is still Friday 18:00 in New York.
    moment = datetime(2026, 11, 28, 8, 0, tzinfo=TOKYO)  # Saturday in Tokyo
    clock.freeze(moment)
    try:
        in_japan = escalation_at(3, markets=["JP"])
        in_the_us = escalation_at(3, markets=["US"])
    finally:
        clock.unfreeze()

    new_york = ZoneInfo("America/New_York")
    assert _clock(in_japan, Clock.Kind.ACKNOWLEDGE).due_at.astimezone(TOKYO) == datetime(
        2026, 11, 30, 8, 0, tzinfo=TOKYO
    )
    # Friday 18:00 in New York → Monday 18:00 there.
    assert _clock(in_the_us, Clock.Kind.ACKNOWLEDGE).due_at.astimezone(new_york) == datetime(
        2026, 11, 30, 18, 0, tzinfo=new_york
    )


def test_business_days_use_the_first_market_listed(escalation_at):
    clock.freeze(datetime(2026, 11, 28, 8, 0, tzinfo=TOKYO))  # Saturday in Tokyo, Friday in NY
    try:
        escalation = escalation_at(3, markets=["US", "JP"])
    finally:
        clock.unfreeze()

    new_york = ZoneInfo("America/New_York")
    assert _clock(escalation, Clock.Kind.ACKNOWLEDGE).due_at.astimezone(new_york) == datetime(
        2026, 11, 30, 18, 0, tzinfo=new_york
    )


# ---------------------------------------------------------------- daylight saving

# Sydney springs forward from 02:00 to 03:00 on Sunday 4 October 2026 and falls back from
# 03:00 to 02:00 on Sunday 5 April 2026. Each notice arrives at Saturday noon.
SPRING_NOTICE = datetime(2026, 10, 3, 12, 0, tzinfo=SYDNEY)
AUTUMN_NOTICE = datetime(2026, 4, 4, 12, 0, tzinfo=SYDNEY)


@pytest.mark.parametrize(
    ("received", "due_in_sydney"),
    [
        pytest.param(
            SPRING_NOTICE.astimezone(UTC),
            datetime(2026, 10, 4, 13, 0, tzinfo=SYDNEY),
            id="spring-written-in-utc",
        ),
        pytest.param(
            AUTUMN_NOTICE.astimezone(UTC),
            datetime(2026, 4, 5, 11, 0, tzinfo=SYDNEY),
            id="autumn-written-in-utc",
        ),
        pytest.param(
            SPRING_NOTICE,
            datetime(2026, 10, 4, 13, 0, tzinfo=SYDNEY),
            id="spring-written-in-sydney-time",
        ),
        pytest.param(
            AUTUMN_NOTICE,
            datetime(2026, 4, 5, 11, 0, tzinfo=SYDNEY),
            id="autumn-written-in-sydney-time",
        ),
    ],
)
def test_a_24_hour_statutory_deadline_is_24_elapsed_hours_across_daylight_saving(
    received, due_in_sydney, escalation_at
):
    clock.freeze(received + timedelta(minutes=30))
    try:
        escalation = escalation_at(
            2,
            type_code="regulator_notice",
            markets=["AU"],
            statutory_triggers=_notice("au-osa-removal-notice", received),
        )
    finally:
        clock.unfreeze()

    statutory = _statutory(escalation).due_at
    assert elapsed(received, statutory) == 24 * HOUR
    assert statutory.astimezone(SYDNEY) == due_in_sydney  # an hour off the wall time


@pytest.mark.parametrize(
    ("opened", "expected_due", "hours"),
    [
        # Sydney springs forward on Sunday 4 October: Friday → Monday is 71 hours.
        (
            datetime(2026, 10, 2, 18, 0, tzinfo=SYDNEY),
            datetime(2026, 10, 5, 18, 0, tzinfo=SYDNEY),
            71,
        ),
        # ...and falls back on Sunday 5 April: Friday → Monday is 73 hours.
        (
            datetime(2026, 4, 3, 18, 0, tzinfo=SYDNEY),
            datetime(2026, 4, 6, 18, 0, tzinfo=SYDNEY),
            73,
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_business_day_in_sydney_keeps_the_wall_time_across_daylight_saving(
    opened, expected_due, hours, escalation_at
):
    clock.freeze(opened)
    try:
        escalation = escalation_at(3, markets=["AU"])
    finally:
        clock.unfreeze()

    due = _clock(escalation, Clock.Kind.ACKNOWLEDGE).due_at
    assert due.astimezone(SYDNEY) == expected_due
    assert elapsed(opened, due) == hours * HOUR


@pytest.mark.parametrize(
    ("opened", "expected_due", "hours"),
    [
        # New Zealand springs forward on Sunday 27 September 2026.
        (
            datetime(2026, 9, 25, 18, 0, tzinfo=AUCKLAND),
            datetime(2026, 9, 28, 18, 0, tzinfo=AUCKLAND),
            71,
        ),
        # ...and falls back on Sunday 5 April 2026.
        (
            datetime(2026, 4, 3, 18, 0, tzinfo=AUCKLAND),
            datetime(2026, 4, 6, 18, 0, tzinfo=AUCKLAND),
            73,
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_business_day_in_new_zealand_keeps_the_wall_time_across_daylight_saving(
    opened, expected_due, hours, escalation_at
):
    clock.freeze(opened)
    try:
        escalation = escalation_at(3, markets=["NZ"])
    finally:
        clock.unfreeze()

    due = _clock(escalation, Clock.Kind.ACKNOWLEDGE).due_at
    assert due.astimezone(AUCKLAND) == expected_due
    assert elapsed(opened, due) == hours * HOUR


def test_in_los_angeles_in_march_a_business_day_keeps_wall_time_and_24h_stays_24h(catalog):
    # US daylight saving starts on Sunday 8 March 2026. The service passes UTC instants.
    friday_evening = datetime(2026, 3, 6, 17, 0, tzinfo=LOS_ANGELES).astimezone(UTC)
    rubric = rubric_for(active_catalog_version())

    due = sla_due_times(rubric=rubric, severity=3, opened_at=friday_evening, zone=LOS_ANGELES)

    acknowledge, basis = due[Clock.Kind.ACKNOWLEDGE]
    assert acknowledge.astimezone(LOS_ANGELES) == datetime(2026, 3, 9, 17, 0, tzinfo=LOS_ANGELES)
    assert elapsed(friday_evening, acknowledge) == 71 * HOUR
    assert basis == "SEV3 target: 1 business day"
    # A duration target over the same weekend is elapsed time: it lands at 18:00 local.
    first_action, _ = due[Clock.Kind.FIRST_ACTION]
    assert elapsed(friday_evening, first_action) == 3 * DAY
    assert first_action.astimezone(LOS_ANGELES).hour == 18

    saturday_night = datetime(2026, 3, 7, 22, 0, tzinfo=LOS_ANGELES).astimezone(UTC)
    fixed_rule = StatutoryRule.objects.get(code="de-netzdg-manifest")
    statutory, _ = statutory_due_at(
        rule=fixed_rule, received_at=saturday_night, stated_due_at=None, field="trigger"
    )
    assert elapsed(saturday_night, statutory) == 24 * HOUR
    assert statutory.astimezone(LOS_ANGELES) == datetime(2026, 3, 8, 23, 0, tzinfo=LOS_ANGELES)


# ---------------------------------------------------------------- statutory clocks


def test_a_statutory_clock_runs_from_when_the_notice_was_received(escalation_at, frozen_clock):
    received = frozen_clock - 5 * HOUR
    escalation = escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=_notice(
            "au-osa-removal-notice", received, notice_reference="eSafety RN-2026-0412"
        ),
    )

    statutory = _statutory(escalation)
    assert statutory.starts_at == received
    assert statutory.due_at == received + 24 * HOUR
    assert statutory.label == AUSTRALIA_REMOVAL
    assert statutory.notice_reference == "eSafety RN-2026-0412"
    assert "Online Safety Act 2021" in statutory.basis
    assert statutory.basis.endswith(": 24 hours")
    # The matter opened when the notice arrived; the SLA clocks count from its filing,
    # when Watchfloor learned of it.
    assert escalation.opened_at == received
    assert escalation.created_at == frozen_clock
    assert _clock(escalation, Clock.Kind.ACKNOWLEDGE).starts_at == frozen_clock


def test_the_earliest_notice_opens_the_escalation(escalation_at, frozen_clock):
    escalation = escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=[
            StatutoryTriggerInput(
                rule="au-osa-removal-notice", received_at=frozen_clock - 2 * HOUR
            ),
            StatutoryTriggerInput(rule="au-avm", received_at=frozen_clock - 7 * HOUR),
        ],
    )
    assert escalation.opened_at == frozen_clock - 7 * HOUR
    assert escalation.clocks.filter(kind=Clock.Kind.STATUTORY).count() == 2


def test_with_no_market_named_the_rules_market_is_the_escalations(escalation_at, frozen_clock):
    escalation = escalation_at(
        2,
        markets=[],
        statutory_triggers=_notice(
            "sg-osma-direction", frozen_clock - HOUR, due_at=frozen_clock + 6 * HOUR
        ),
    )
    assert set(escalation.markets.values_list("code", flat=True)) == {"SG"}


def test_india_uses_the_36_hour_figure_for_a_notice_received_before_20_february_2026(
    escalation_at,
):
    received = datetime(2026, 2, 19, 16, 0, tzinfo=KOLKATA)
    clock.freeze(received + HOUR)
    try:
        escalation = escalation_at(
            1,
            type_code="government_legal_demand",
            markets=["IN"],
            statutory_triggers=_notice("in-itrules-3-1-d", received),
        )
    finally:
        clock.unfreeze()

    statutory = _statutory(escalation)
    assert elapsed(received, statutory.due_at) == 36 * HOUR
    assert "36 hours" in statutory.basis
    assert "before 2026-02-20" in statutory.basis


@pytest.mark.parametrize(
    "received",
    [
        datetime(2026, 2, 20, 0, 0, tzinfo=KOLKATA),  # the first minute it applies
        datetime(2026, 11, 24, 9, 0, tzinfo=KOLKATA),
    ],
    ids=["first-minute", "months-later"],
)
def test_india_uses_the_3_hour_figure_from_20_february_2026(received, escalation_at):
    clock.freeze(received + timedelta(minutes=10))
    try:
        escalation = escalation_at(
            1,
            type_code="government_legal_demand",
            markets=["IN"],
            statutory_triggers=_notice("in-itrules-3-1-d", received),
        )
    finally:
        clock.unfreeze()

    statutory = _statutory(escalation)
    assert elapsed(received, statutory.due_at) == 3 * HOUR
    assert "3 hours" in statutory.basis
    assert "before" not in statutory.basis


def test_indias_figure_depends_on_the_instant_not_on_the_offset_it_was_written_in(
    escalation_at,
):
    # 01:30 on 20 February in India is still 19 February in UTC.
    received_in_utc = datetime(2026, 2, 19, 20, 0, tzinfo=UTC)
    assert received_in_utc.astimezone(KOLKATA).date().isoformat() == "2026-02-20"
    clock.freeze(received_in_utc + HOUR)
    try:
        escalation = escalation_at(
            1,
            type_code="government_legal_demand",
            markets=["IN"],
            statutory_triggers=_notice("in-itrules-3-1-d", received_in_utc),
        )
    finally:
        clock.unfreeze()

    assert elapsed(received_in_utc, _statutory(escalation).due_at) == 3 * HOUR


def test_a_deadline_set_by_the_notice_must_be_entered(escalation_at, frozen_clock):
    with pytest.raises(InvalidInput) as refused:
        escalation_at(
            2,
            markets=["SG"],
            statutory_triggers=_notice("sg-osma-direction", frozen_clock - HOUR),
        )
    assert refused.value.field == "statutory_triggers[0].due_at"
    assert "sg-osma-direction" in refused.value.message
    assert not Escalation.objects.exists()


def test_a_deadline_set_by_the_notice_is_the_time_it_states(escalation_at, frozen_clock):
    stated = datetime(2026, 11, 24, 18, 0, tzinfo=ZoneInfo("Asia/Singapore"))
    escalation = escalation_at(
        2,
        markets=["SG"],
        statutory_triggers=_notice("sg-osma-direction", frozen_clock - HOUR, due_at=stated),
    )
    statutory = _statutory(escalation)
    assert statutory.due_at == stated
    assert "stated in the notice" in statutory.basis


def test_a_stated_deadline_before_the_notice_arrived_is_refused(escalation_at, frozen_clock):
    with pytest.raises(InvalidInput) as refused:
        escalation_at(
            2,
            markets=["SG"],
            statutory_triggers=_notice(
                "sg-osma-direction", frozen_clock - HOUR, due_at=frozen_clock - 2 * HOUR
            ),
        )
    assert refused.value.field == "statutory_triggers[0].due_at"


def test_a_deadline_fixed_by_law_cannot_be_overridden_by_hand(escalation_at, frozen_clock):
    with pytest.raises(InvalidInput) as refused:
        escalation_at(
            2,
            markets=["AU"],
            statutory_triggers=_notice(
                "au-osa-removal-notice", frozen_clock - HOUR, due_at=frozen_clock + 48 * HOUR
            ),
        )
    assert refused.value.field == "statutory_triggers[0].due_at"
    assert "fixed by law" in refused.value.message


@pytest.mark.parametrize(("rule", "target"), [("au-avm", HOUR), ("kr-icna-44-2", 24 * HOUR)])
def test_a_qualitative_rule_is_tracked_against_its_internal_target(
    rule, target, escalation_at, frozen_clock
):
    received = frozen_clock - timedelta(minutes=20)
    market = rule[:2].upper()
    escalation = escalation_at(2, markets=[market], statutory_triggers=_notice(rule, received))

    statutory = _statutory(escalation)
    assert StatutoryRule.objects.get(code=rule).internal_target == target
    assert statutory.due_at == received + target
    assert "qualitative" in statutory.basis


@pytest.mark.parametrize(
    ("received", "problem"),
    [
        (timedelta(hours=1), "in the future"),
        (None, "UTC offset"),
    ],
    ids=["future", "naive"],
)
def test_an_impossible_receipt_time_is_refused(received, problem, escalation_at, frozen_clock):
    received_at = frozen_clock + received if received is not None else datetime(2026, 11, 24, 8, 0)
    with pytest.raises(InvalidInput) as refused:
        escalation_at(
            2,
            markets=["AU"],
            statutory_triggers=_notice("au-osa-removal-notice", received_at),
        )
    assert refused.value.field == "statutory_triggers[0].received_at"
    assert problem in refused.value.message
    assert not Escalation.objects.exists()


def test_an_unknown_rule_is_refused_naming_it(escalation_at, frozen_clock):
    with pytest.raises(InvalidInput) as refused:
        escalation_at(3, statutory_triggers=_notice("xx-made-up-rule", frozen_clock - HOUR))
    assert refused.value.field == "statutory_triggers[0].rule"
    assert "xx-made-up-rule" in refused.value.message


# ---------------------------------------------------------------- meeting clocks


def _met_kinds(escalation: Escalation) -> set[str]:
    return set(
        Escalation.objects.get(pk=escalation.pk)
        .clocks.filter(met_at__isnull=False)
        .values_list("kind", flat=True)
    )


def _regulator_notice(escalation_at, frozen_clock) -> Escalation:
    return escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=_notice("au-osa-removal-notice", frozen_clock - HOUR),
    )


@pytest.mark.parametrize("first_step", [Status.TRIAGED, Status.INVESTIGATING])
def test_leaving_new_meets_the_acknowledge_clock_only(
    first_step, analyst, escalation_at, frozen_clock
):
    escalation = _regulator_notice(escalation_at, frozen_clock)
    clock.advance(timedelta(minutes=10))

    services.transition_escalation(escalation=escalation, to_status=first_step, actor=analyst)

    assert _met_kinds(escalation) == {Clock.Kind.ACKNOWLEDGE}
    acknowledged = _clock(escalation, Clock.Kind.ACKNOWLEDGE)
    assert acknowledged.met_at == frozen_clock + timedelta(minutes=10)
    event = AuditEvent.objects.get(
        action=AuditAction.ESCALATION_CLOCK_MET, escalation_id=escalation.pk
    )
    assert event.actor == analyst
    assert event.data["kind"] == Clock.Kind.ACKNOWLEDGE
    assert event.data["state"] == "met"


def test_recording_a_decision_meets_the_first_action_clock(
    decide, escalation_at, frozen_clock, walk_to
):
    escalation = walk_to(_regulator_notice(escalation_at, frozen_clock), Status.INVESTIGATING)

    decide(escalation)

    assert _met_kinds(escalation) == {Clock.Kind.ACKNOWLEDGE, Clock.Kind.FIRST_ACTION}


@pytest.mark.parametrize("final_status", [Status.ACTIONED, Status.CLOSED])
def test_actioning_or_closing_meets_resolve_and_statutory_clocks(
    final_status, escalation_at, frozen_clock, walk_to
):
    escalation = walk_to(
        _regulator_notice(escalation_at, frozen_clock), final_status, with_decision=True
    )

    assert _met_kinds(escalation) == {
        Clock.Kind.ACKNOWLEDGE,
        Clock.Kind.FIRST_ACTION,
        Clock.Kind.RESOLVE,
        Clock.Kind.STATUTORY,
    }


def test_clock_state_follows_the_clock(analyst, escalation_at, frozen_clock):
    escalation = escalation_at(2, markets=["JP"])  # acknowledge within 2 hours
    acknowledge = _clock(escalation, Clock.Kind.ACKNOWLEDGE)
    assert acknowledge.state() == "running"

    clock.advance(2 * HOUR)
    assert acknowledge.state() == "running"  # due at, not yet past
    clock.advance(timedelta(seconds=1))
    assert acknowledge.state() == "breached"
    assert acknowledge.state(at=frozen_clock) == "running"

    services.transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)
    assert _clock(escalation, Clock.Kind.ACKNOWLEDGE).state() == "met_late"


def test_a_clock_met_in_time_stays_met(analyst, escalation_at, frozen_clock):
    escalation = escalation_at(2, markets=["JP"])
    clock.advance(HOUR)
    services.transition_escalation(escalation=escalation, to_status=Status.TRIAGED, actor=analyst)

    clock.advance(30 * DAY)
    acknowledge = _clock(escalation, Clock.Kind.ACKNOWLEDGE)
    assert acknowledge.state() == "met"
    event = AuditEvent.objects.get(
        action=AuditAction.ESCALATION_CLOCK_MET, escalation_id=escalation.pk
    )
    assert event.data["state"] == "met"


def test_next_due_is_always_the_earliest_unmet_clock(analyst, decide, escalation_at, frozen_clock):
    # SEV2: acknowledge within 2 hours, act within 24; the eSafety notice is due in 23 hours.
    escalation = escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=_notice("au-osa-removal-notice", frozen_clock - HOUR),
    )
    assert escalation.next_due_label == "Acknowledge"
    assert_next_due_is_earliest_unmet(escalation)

    services.transition_escalation(
        escalation=escalation, to_status=Status.INVESTIGATING, actor=analyst
    )
    assert_next_due_is_earliest_unmet(escalation)

    decide(escalation)
    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.next_due_label == AUSTRALIA_REMOVAL
    assert stored.next_due_at == frozen_clock + 23 * HOUR
    assert_next_due_is_earliest_unmet(stored)
    services.transition_escalation(escalation=escalation, to_status=Status.DECIDED, actor=analyst)
    assert_next_due_is_earliest_unmet(escalation)
    services.transition_escalation(escalation=escalation, to_status=Status.ACTIONED, actor=analyst)
    stored = Escalation.objects.get(pk=escalation.pk)
    assert stored.next_due_at is None
    assert_next_due_is_earliest_unmet(stored)


# ---------------------------------------------------------------- merging


def test_merging_moves_the_duplicates_running_statutory_clocks_to_the_target(
    analyst, escalation_at, frozen_clock
):
    survivor = escalation_at(3, markets=["AU"])
    duplicate = escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=_notice("au-osa-removal-notice", frozen_clock - 3 * HOUR),
    )
    deadline = _statutory(duplicate).due_at

    services.merge_escalation(duplicate=duplicate, into=survivor, actor=analyst, reason="same")

    inherited = _statutory(survivor)
    assert inherited.due_at == deadline
    assert inherited.met_at is None
    assert inherited.starts_at == frozen_clock - 3 * HOUR
    assert duplicate.reference in inherited.basis
    stored_survivor = Escalation.objects.get(pk=survivor.pk)
    assert stored_survivor.next_due_at == deadline
    assert_next_due_is_earliest_unmet(stored_survivor)
    # The duplicate is closed; its own clocks stop.
    stored_duplicate = Escalation.objects.get(pk=duplicate.pk)
    assert stored_duplicate.status == Status.CLOSED
    assert stored_duplicate.next_due_at is None
    assert not stored_duplicate.clocks.filter(met_at__isnull=True).exists()


def test_merging_does_not_move_a_statutory_clock_already_met(
    analyst, escalation_at, frozen_clock, walk_to
):
    survivor = escalation_at(3, markets=["AU"])
    duplicate = walk_to(
        escalation_at(
            2,
            type_code="regulator_notice",
            markets=["AU"],
            statutory_triggers=_notice("au-osa-removal-notice", frozen_clock - 3 * HOUR),
        ),
        Status.ACTIONED,
    )

    services.merge_escalation(duplicate=duplicate, into=survivor, actor=analyst)

    assert not survivor.clocks.filter(kind=Clock.Kind.STATUTORY).exists()


def test_a_running_statutory_deadline_never_disappears_into_a_closed_escalation(
    analyst, escalation_at, frozen_clock, walk_to
):
    closed_target = walk_to(escalation_at(3, markets=["AU"]), Status.CLOSED)
    duplicate = escalation_at(
        2,
        type_code="regulator_notice",
        markets=["AU"],
        statutory_triggers=_notice("au-osa-removal-notice", frozen_clock - HOUR),
    )
    deadline = _statutory(duplicate).due_at

    try:
        services.merge_escalation(duplicate=duplicate, into=closed_target, actor=analyst)
    except Conflict:
        return  # refusing the merge keeps the deadline visible on the duplicate
    assert Escalation.objects.get(pk=closed_target.pk).next_due_at == deadline


def test_the_answers_used_here_land_on_their_severities(catalog):
    rubric = rubric_for(active_catalog_version())
    for severity, answers in SEVERITY_ANSWERS.items():
        assert evaluate(rubric, answers=answers, escalation_type="scam_campaign").severity == (
            severity
        )
