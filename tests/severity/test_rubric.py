"""The severity engine, run against the default rubric: properties, examples, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.catalog.loader import read_catalog
from watchfloor.core.errors import InvalidInput
from watchfloor.severity.rubric import (
    Rubric,
    StatutoryTrigger,
    Target,
    add_business_days,
    evaluate,
    parse_iso_duration,
)

CATALOG = read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR)).catalog
RUBRIC: Rubric = CATALOG.rubric
ESCALATION_TYPES = [t.code for t in CATALOG.escalation_types.escalation_types]

answers_strategy = st.fixed_dictionaries(
    {},
    optional={
        factor.code: st.sampled_from([option.value for option in factor.options])
        for factor in RUBRIC.factors
    },
)
escalation_type_strategy = st.sampled_from([None, *ESCALATION_TYPES])


def floor_applies(floor, answers: dict[str, str], escalation_type: str | None) -> bool:
    """The floor's conditions, read straight from the rubric file's meaning."""
    if floor.when.escalation_types and escalation_type not in floor.when.escalation_types:
        return False
    if floor.when.statutory_trigger:
        return False  # these properties set no statutory rule
    for code, least in floor.when.factors_at_least.items():
        factor = RUBRIC.factor(code)
        if code not in answers or factor.rank(answers[code]) < factor.rank(least):
            return False
    return True


class TestProperties:
    @given(
        answers=answers_strategy,
        escalation_type=escalation_type_strategy,
        factor_index=st.integers(min_value=0, max_value=len(RUBRIC.factors) - 1),
        data=st.data(),
    )
    def test_a_worse_answer_never_gives_a_milder_severity(
        self, answers, escalation_type, factor_index, data
    ):
        factor = RUBRIC.factors[factor_index]
        # Unanswered counts as the mildest answer, so any answer is at least as bad.
        current = factor.rank(answers[factor.code]) if factor.code in answers else 0
        worse = data.draw(st.sampled_from(factor.options[current:]), label="worse answer")
        raised = {**answers, factor.code: worse.value}

        before = evaluate(RUBRIC, answers=answers, escalation_type=escalation_type)
        after = evaluate(RUBRIC, answers=raised, escalation_type=escalation_type)

        assert after.score >= before.score
        assert after.severity <= before.severity

    @given(
        answers=answers_strategy,
        escalation_type=escalation_type_strategy,
        rule_floor=st.sampled_from([None, 0, 1, 2, 3, 4]),
    )
    def test_a_statutory_trigger_raises_the_floor_whatever_the_answers(
        self, answers, escalation_type, rule_floor
    ):
        trigger = StatutoryTrigger(rule="jp-idpa-removal-request", min_severity=rule_floor)
        without = evaluate(RUBRIC, answers=answers, escalation_type=escalation_type)
        with_rule = evaluate(
            RUBRIC, answers=answers, escalation_type=escalation_type, statutory_triggers=[trigger]
        )
        statutory_floors = [f.min_severity for f in RUBRIC.floors if f.when.statutory_trigger]
        assert statutory_floors, "the default rubric has a floor for a statutory trigger"
        assert with_rule.severity <= min(statutory_floors)
        assert with_rule.severity <= without.severity
        if rule_floor is not None:
            assert with_rule.severity <= rule_floor
            assert "jp-idpa-removal-request" in {f.code for f in with_rule.floors}

    @given(answers=answers_strategy, escalation_type=escalation_type_strategy)
    def test_floors_are_always_respected(self, answers, escalation_type):
        assessment = evaluate(RUBRIC, answers=answers, escalation_type=escalation_type)
        fired = {floor.code for floor in assessment.floors}
        for floor in RUBRIC.floors:
            applies = floor_applies(floor, answers, escalation_type)
            assert (floor.code in fired) == applies
            if applies:
                assert assessment.severity <= floor.min_severity

    @given(answers=answers_strategy, escalation_type=escalation_type_strategy)
    def test_the_score_is_the_sum_of_the_contributions_and_sets_the_band(
        self, answers, escalation_type
    ):
        assessment = evaluate(RUBRIC, answers=answers, escalation_type=escalation_type)
        assert assessment.score == sum(c.contribution for c in assessment.contributions)
        assert all(c.contribution == c.weight * c.points for c in assessment.contributions)
        band = RUBRIC.level(assessment.band_severity)
        assert assessment.score >= band.min_score
        if assessment.band_severity > 0:
            assert assessment.score < RUBRIC.level(assessment.band_severity - 1).min_score
        assert assessment.severity <= assessment.band_severity


class TestExamples:
    def test_a_livestreamed_attack_is_sev0_and_the_floor_says_why(self):
        assessment = evaluate(
            RUBRIC,
            answers={"harm": "severe", "imminence": "ongoing", "reach": "significant"},
            escalation_type="violent_attack_content",
        )
        assert assessment.score == 46
        assert assessment.band_severity == 1
        assert assessment.severity == 0
        assert [f.code for f in assessment.floors] == ["livestreamed_attack"]
        assert "floor rule 'livestreamed_attack' raises it to SEV0" in assessment.summary
        assert assessment.as_dict()["floors"][0]["reason"].startswith("Attack content")

    def test_the_same_answers_for_another_type_stay_in_their_band(self):
        assessment = evaluate(
            RUBRIC,
            answers={"harm": "severe", "imminence": "ongoing", "reach": "significant"},
            escalation_type="crisis_misinformation",
        )
        assert (assessment.severity, assessment.floors) == (1, [])

    @pytest.mark.parametrize(
        ("answers", "escalation_type", "score", "severity"),
        [
            # A severe, imminent, viral threat: critical on its score alone…
            ({"harm": "severe", "imminence": "imminent", "reach": "viral"}, None, 48, 1),
            # …and a crisis when it is a threat to someone's life.
            (
                {"harm": "severe", "imminence": "imminent", "reach": "viral"},
                "imminent_threat_to_life",
                48,
                0,
            ),
            # A low-harm local matter.
            ({"harm": "low", "reach": "limited", "public_attention": "local"}, None, 10, 4),
            ({"harm": "catastrophic", "imminence": "ongoing", "reach": "viral"}, None, 62, 0),
            (
                {
                    "harm": "moderate",
                    "imminence": "likely",
                    "reach": "significant",
                    "vulnerability": "some",
                },
                "scam_campaign",
                30,
                2,
            ),
            ({}, "child_safety", 0, 1),
            ({"imminence": "imminent"}, "self_harm_imminent_risk", 16, 1),
            (
                {"harm": "severe", "subject_profile": "head_of_state_or_critical"},
                "high_profile_account_compromise",
                28,
                0,
            ),
            ({"legal_exposure": "order_with_short_deadline"}, "government_legal_demand", 8, 1),
            ({"legal_exposure": "statutory_notice"}, "regulator_notice", 6, 2),
            ({}, None, 0, 4),
        ],
    )
    def test_worked_examples(self, answers, escalation_type, score, severity):
        assessment = evaluate(RUBRIC, answers=answers, escalation_type=escalation_type)
        assert (assessment.score, assessment.severity) == (score, severity)

    def test_unanswered_factors_count_as_mildest_and_say_so(self):
        assessment = evaluate(RUBRIC, answers={"harm": "low"}, escalation_type=None)
        by_factor = {c.factor: c for c in assessment.contributions}
        assert by_factor["harm"].answered
        assert not by_factor["reach"].answered
        assert by_factor["reach"].answer == "minimal"
        assert assessment.max_score == 101

    def test_an_unknown_factor_is_refused_by_name(self):
        with pytest.raises(InvalidInput) as caught:
            evaluate(RUBRIC, answers={"colour": "red"}, escalation_type=None)
        assert caught.value.field == "rubric_answers.colour"
        assert "harm" in caught.value.message

    def test_an_unknown_answer_is_refused_with_the_choices(self):
        with pytest.raises(InvalidInput) as caught:
            evaluate(RUBRIC, answers={"harm": "apocalyptic"}, escalation_type=None)
        assert caught.value.field == "rubric_answers.harm"
        assert "none, low, moderate, severe, catastrophic" in caught.value.message


class TestTargets:
    def test_elapsed_targets_ignore_the_calendar(self):
        start = datetime(2026, 11, 27, 17, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # a Friday
        target = RUBRIC.level(0).sla.target("acknowledge")
        assert target.due_from(start, ZoneInfo("Asia/Tokyo")) == start + timedelta(minutes=15)
        assert target.describe() == "15 min"
        assert RUBRIC.level(4).sla.target("resolve").describe() == "30 days"

    def test_one_business_day_from_friday_evening_is_monday_evening(self):
        tokyo = ZoneInfo("Asia/Tokyo")
        friday = datetime(2026, 11, 27, 18, 0, tzinfo=tokyo)
        target = RUBRIC.level(3).sla.target("acknowledge")
        assert target.business_days == 1
        assert target.describe() == "1 business day"
        assert target.due_from(friday, tokyo) == datetime(2026, 11, 30, 18, 0, tzinfo=tokyo)

    def test_a_weekend_start_counts_from_monday(self):
        tokyo = ZoneInfo("Asia/Tokyo")
        saturday = datetime(2026, 11, 28, 10, 0, tzinfo=tokyo)
        assert add_business_days(saturday, 1, tokyo) == datetime(2026, 11, 30, 10, 0, tzinfo=tokyo)
        assert add_business_days(saturday, 5, tokyo) == datetime(2026, 12, 4, 10, 0, tzinfo=tokyo)

    @pytest.mark.parametrize(
        ("zone", "friday", "monday", "elapsed_hours"),
        [
            # Sydney springs forward on Sunday 4 October 2026 (AEST +10 → AEDT +11).
            ("Australia/Sydney", (2026, 10, 2), (2026, 10, 5), 71),
            # …and falls back on Sunday 5 April 2026.
            ("Australia/Sydney", (2026, 4, 3), (2026, 4, 6), 73),
            # New York springs forward on Sunday 8 March 2026 (EST -5 → EDT -4).
            ("America/New_York", (2026, 3, 6), (2026, 3, 9), 71),
        ],
    )
    def test_business_days_keep_the_wall_time_across_a_dst_change(
        self, zone, friday, monday, elapsed_hours
    ):
        tz = ZoneInfo(zone)
        start = datetime(*friday, 17, 30, tzinfo=tz)
        due = Target.parse("1 business day").due_from(start, tz)
        assert due == datetime(*monday, 17, 30, tzinfo=tz)
        # Python subtracts datetimes that share a zone by wall time; real elapsed time is in UTC.
        assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=elapsed_hours)

    def test_the_due_time_comes_back_in_the_zone_it_started_in(self):
        utc_start = datetime(2026, 10, 2, 7, 30, tzinfo=UTC)  # 17:30 in Sydney
        due = add_business_days(utc_start, 1, ZoneInfo("Australia/Sydney"))
        assert due.tzinfo == utc_start.tzinfo
        assert due == datetime(2026, 10, 5, 6, 30, tzinfo=UTC)


class TestIsoDurations:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("PT15M", timedelta(minutes=15)),
            ("PT24H", timedelta(hours=24)),
            ("P3D", timedelta(days=3)),
            ("P1W", timedelta(weeks=1)),
            ("P1DT12H", timedelta(days=1, hours=12)),
            ("PT90S", timedelta(seconds=90)),
        ],
    )
    def test_valid(self, text, expected):
        assert parse_iso_duration(text) == expected

    @pytest.mark.parametrize(
        "text", ["", "P", "PT", "P1DT", "15M", "PT1.5H", "1 day", "-PT1H", "P1Y", "pt15m"]
    )
    def test_invalid_durations_are_refused_with_an_example(self, text):
        with pytest.raises(ValueError, match="is not an ISO 8601 duration such as PT15M"):
            parse_iso_duration(text)

    def test_a_target_is_a_duration_or_business_days(self):
        assert Target.parse("2 business days").business_days == 2
        with pytest.raises(ValueError, match="'2 working days' is not an ISO 8601 duration"):
            Target.parse("2 working days")
