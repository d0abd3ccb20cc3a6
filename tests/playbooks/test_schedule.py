"""Due-time arithmetic: elapsed time in UTC, business days and hours on the owner
team's wall clock, counting back from deadlines, and the cap at the statutory deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchfloor.playbooks.planning import Anchors, plan_run, step_due
from watchfloor.playbooks.schedule import add_business_hours, parse_offset
from watchfloor.playbooks.schema import EscalationFacts, PlaybookSpec, StepSpec

TOKYO = ZoneInfo("Asia/Tokyo")
SYDNEY = ZoneInfo("Australia/Sydney")
UTC_ZONE = ZoneInfo("UTC")


def at(text: str, zone: ZoneInfo = UTC_ZONE) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def step(**values) -> StepSpec:
    return StepSpec.model_validate({"id": "s", "title": "S", "owner": {"team": "legal"}, **values})


def anchors(**values) -> Anchors:
    base = {
        "opened": at("2026-11-27 08:00", TOKYO),  # a Friday morning in Tokyo
        "run_started": at("2026-11-27 08:10", TOKYO),
        "zone": TOKYO,
        "clocks": [],
    }
    base.update(values)
    return Anchors.build(**base)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2026-11-27 10:00", 4, "2026-11-27 14:00"),  # inside one working day
        ("2026-11-27 16:00", 4, "2026-11-30 11:00"),  # Friday afternoon runs into Monday
        ("2026-11-27 20:00", 1, "2026-11-30 10:00"),  # after hours starts at the next opening
        ("2026-11-28 12:00", 9, "2026-11-30 18:00"),  # a whole Monday
        ("2026-11-30 07:30", 2, "2026-11-30 11:00"),  # before opening
    ],
)
def test_business_hours_on_the_owner_teams_wall_clock(start, hours, expected):
    assert add_business_hours(at(start, TOKYO), hours, TOKYO) == at(expected, TOKYO)


def test_business_hours_are_counted_in_the_zone_not_in_utc():
    # 17:00 in Tokyo is 08:00 UTC: counted in UTC, the whole working day is still ahead.
    start = at("2026-11-27 17:00", TOKYO)
    assert add_business_hours(start, 2, TOKYO) == at("2026-11-30 10:00", TOKYO)
    assert add_business_hours(start, 2, UTC_ZONE) == at("2026-11-27 11:00", UTC_ZONE)


def test_business_hours_across_a_daylight_saving_change():
    # Sydney moves clocks forward on Sunday 4 October 2026: the working day is still 09–18.
    start = at("2026-10-02 17:00", SYDNEY)  # Friday
    due = add_business_hours(start, 2, SYDNEY)
    assert due == at("2026-10-05 10:00", SYDNEY)
    assert due - start == timedelta(hours=64)  # one hour less than an ordinary weekend


def test_elapsed_time_is_real_time_across_a_daylight_saving_change():
    start = at("2026-10-03 12:00", SYDNEY)
    due = parse_offset("PT24H").add_to(start, SYDNEY)
    assert due - start == timedelta(hours=24)
    assert due.astimezone(SYDNEY).hour == 13  # the wall clock moved on by 25 hours


def test_business_days_keep_the_wall_time():
    start = at("2026-11-27 18:00", TOKYO)
    assert parse_offset("1 business day").add_to(start, TOKYO) == at("2026-11-30 18:00", TOKYO)


@pytest.mark.parametrize(
    "text", ["PT1H", "P2D", "2 business days", "1 business day", "4 business hours"]
)
def test_offsets_that_parse(text):
    assert parse_offset(text).describe()


@pytest.mark.parametrize("text", ["1h", "two business days", "PT", "3 business weeks"])
def test_offsets_that_do_not(text):
    with pytest.raises(ValueError, match="is not an offset"):
        parse_offset(text)


def test_worst_case_of_business_time():
    assert parse_offset("1 business hour").longest() == timedelta(hours=64)  # Fri 18:00 → Mon 10:00
    assert parse_offset("1 business hour").shortest() == timedelta(hours=1)


def test_counting_back_from_the_statutory_deadline():
    deadline = at("2026-11-27 12:00", TOKYO)
    due, basis = step_due(
        step(due={"before": "PT2H", "from": "statutory"}),
        anchors(clocks=[("statutory", "au-osa-removal-notice", deadline, False)]),
        None,
    )
    assert due == at("2026-11-27 10:00", TOKYO)
    assert basis == "2 hours before the statutory deadline"


def test_the_running_statutory_deadline_is_the_anchor_not_one_already_met():
    met = at("2026-11-27 09:00", TOKYO)
    running = at("2026-11-27 15:00", TOKYO)
    built = anchors(clocks=[("statutory", "a", met, True), ("statutory", "b", running, False)])
    assert built.clocks["statutory"] == running


def test_without_the_anchor_the_fallback_applies():
    spec = step(
        due={
            "before": "PT1H",
            "from": "statutory",
            "otherwise": {"after": "PT4H", "from": "opened"},
        }
    )
    due, basis = step_due(spec, anchors(), None)
    assert due == at("2026-11-27 12:00", TOKYO)
    assert basis == "4 hours after the escalation opened"
    due, basis = step_due(step(due={"before": "PT1H", "from": "statutory"}), anchors(), None)
    assert due is None
    assert basis == "no due time: the statutory deadline is not set on this escalation"


def test_a_step_serving_a_deadline_is_brought_forward_to_it():
    deadline = at("2026-11-27 09:00", TOKYO)
    due, basis = step_due(
        step(due={"after": "PT4H", "from": "opened"}, serves="statutory"),
        anchors(clocks=[("statutory", "x", deadline, False)]),
        None,
    )
    assert due == deadline
    assert basis.endswith("brought forward to the statutory deadline it serves")


def test_business_time_says_which_zone_it_counts_in():
    _, basis = step_due(step(due={"after": "2 business hours", "from": "opened"}), anchors(), None)
    assert basis == (
        "2 business hours after the escalation opened "
        "(business time, Mon–Fri 09:00–18:00 Asia/Tokyo)"
    )


def test_previous_step_counts_from_the_last_step_that_applies():
    spec = PlaybookSpec.model_validate(
        {
            "code": "p",
            "name": "P",
            "summary": "s",
            "applies_to": {},
            "roles": [{"code": "r", "name": "R"}],
            "steps": [
                {
                    "id": "a",
                    "title": "A",
                    "owner": {"role": "r"},
                    "due": {"after": "PT1H", "from": "opened"},
                },
                {
                    "id": "b",
                    "title": "B",
                    "owner": {"role": "r"},
                    "when": {"is_restricted": True},
                    "due": {"after": "PT5H", "from": "opened"},
                },
                {
                    "id": "c",
                    "title": "C",
                    "owner": {"role": "r"},
                    "due": {"after": "PT30M", "from": "previous_step"},
                },
            ],
            "exit_criteria": ["done"],
        }
    )
    facts = EscalationFacts(type="scam_campaign", severity=2)
    plan = {p.step_id: p for p in plan_run(spec, facts, anchors())}
    assert not plan["b"].applies
    assert plan["b"].unmet == ("not restricted",)
    assert plan["c"].due_at == at("2026-11-27 09:30", TOKYO)
    restricted = EscalationFacts(type="scam_campaign", severity=2, is_restricted=True)
    plan = {p.step_id: p for p in plan_run(spec, restricted, anchors())}
    assert plan["c"].due_at == at("2026-11-27 13:30", TOKYO)
