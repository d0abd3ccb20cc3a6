"""Branch conditions (`when`) and which playbooks apply (`applies_to`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from watchfloor.playbooks.schema import AppliesTo, Condition, EscalationFacts

FACTS = EscalationFacts(
    type="crisis_misinformation",
    severity=1,
    markets=("JP", "PH"),
    languages=("ja", "zh-Hant"),
    is_high_visibility=True,
    is_restricted=False,
    has_statutory_clock=False,
)


@pytest.mark.parametrize(
    ("when", "holds"),
    [
        ({"types": ["crisis_misinformation", "scam_campaign"]}, True),
        ({"types": ["scam_campaign"]}, False),
        ({"severity_at_least": "SEV1"}, True),  # SEV1 or worse
        ({"severity_at_least": "SEV0"}, False),
        ({"severity_at_most": "SEV1"}, True),  # SEV1 or milder
        ({"severity_at_most": "SEV2"}, False),
        ({"markets": ["PH"]}, True),  # any of the escalation's markets
        ({"markets": ["KR"]}, False),
        ({"languages": ["zh"]}, True),  # a language matches its regional and script variants
        ({"languages": ["zh-Hans"]}, False),
        ({"is_high_visibility": True}, True),
        ({"is_restricted": True}, False),
        ({"has_statutory_clock": False}, True),
        ({"severity_at_least": "SEV2", "markets": ["JP"], "is_high_visibility": True}, True),
        ({"severity_at_least": "SEV2", "markets": ["KR"]}, False),  # every key must hold
    ],
)
def test_conditions(when, holds):
    assert Condition.model_validate(when).holds(FACTS) is holds


def test_what_does_not_hold_is_said_in_words():
    when = Condition.model_validate(
        {"severity_at_least": "SEV0", "markets": ["KR"], "has_statutory_clock": True}
    )
    assert when.unmet(FACTS) == [
        "severity is milder than SEV0",
        "no market among KR",
        "no statutory clock",
    ]


def test_an_empty_condition_is_refused():
    with pytest.raises(ValidationError, match="an empty 'when' always holds"):
        Condition.model_validate({})


def test_an_inverted_severity_range_is_refused():
    with pytest.raises(ValidationError, match="no severity is both"):
        Condition.model_validate({"severity_at_least": "SEV1", "severity_at_most": "SEV3"})


@pytest.mark.parametrize(
    ("applies", "matches"),
    [
        ({}, True),
        ({"escalation_types": ["crisis_misinformation"]}, True),
        ({"escalation_types": ["ncii"]}, False),
        ({"markets": ["PH", "ID"]}, True),
        ({"markets": ["AU"]}, False),
        ({"severity_at_least": "SEV2", "severity_at_most": "SEV1"}, True),
        ({"severity_at_least": "SEV3", "severity_at_most": "SEV2"}, False),
    ],
)
def test_applies_to(applies, matches):
    assert AppliesTo.model_validate(applies).matches(FACTS) is matches
