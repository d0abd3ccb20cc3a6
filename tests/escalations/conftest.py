"""Fixtures for the escalation specification: answers that land on each severity, and
helpers that walk an escalation through its lifecycle the way a person would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from watchfloor.escalations.models import NO_DEADLINE, Clock, Escalation, Status

# Rubric answers that land in each severity band of the default rubric (see
# defaults/rubric.yaml): the tests assert the resulting severity before relying on it.
SEVERITY_ANSWERS: dict[int, dict[str, str]] = {
    0: {"harm": "catastrophic", "imminence": "ongoing", "reach": "viral"},
    1: {"harm": "severe", "imminence": "imminent", "reach": "viral"},
    2: {"harm": "moderate", "imminence": "likely", "reach": "significant", "vulnerability": "some"},
    3: {"harm": "moderate", "reach": "significant"},
    4: {},
}

# How to reach each status from `new` through the transition table.
PATHS: dict[str, list[str]] = {
    Status.NEW: [],
    Status.TRIAGED: [Status.TRIAGED],
    Status.INVESTIGATING: [Status.INVESTIGATING],
    Status.AWAITING_PARTNER: [Status.TRIAGED, Status.AWAITING_PARTNER],
    Status.DECIDED: [Status.INVESTIGATING, Status.DECIDED],
    Status.ACTIONED: [Status.INVESTIGATING, Status.DECIDED, Status.ACTIONED],
    Status.CLOSED: [Status.CLOSED],
}


@pytest.fixture
def escalation_at(make_escalation) -> Callable[..., Escalation]:
    """An escalation whose rubric answers put it at ``severity``."""

    def make(severity: int, **overrides: Any) -> Escalation:
        escalation = make_escalation(rubric_answers=SEVERITY_ANSWERS[severity], **overrides)
        assert escalation.severity == severity, escalation.severity_explanation["summary"]
        return escalation

    return make


@pytest.fixture
def decide(analyst) -> Callable[..., Any]:
    """Record an ordinary decision (final at once below SEV1 unless high-visibility)."""
    from watchfloor.escalations.decisions import record_decision

    def record(escalation: Escalation, *, actor=None, **overrides: Any):
        # A decision on a reopened escalation replaces its final one, by saying so.
        final = escalation.decisions.filter(state="final").first()
        values = {
            "supersedes": final.pk if final else None,
            "escalation": escalation,
            "actor": actor or analyst,
            "policy_code": "scams_fraud",
            "action_code": "remove_content",
            "scope": "The 14 posts and 3 accounts listed in the subjects",
            "rationale": "Impersonates a registered charity to collect donations.",
        }
        values.update(overrides)
        return record_decision(**values)

    return record


@pytest.fixture
def walk_to(analyst, decide) -> Callable[..., Escalation]:
    """Move ``escalation`` along the table to ``status``, recording a final decision first
    when ``with_decision`` (or when the path needs one)."""
    from watchfloor.escalations.services import transition_escalation

    def walk(escalation: Escalation, status: str, *, with_decision: bool = False) -> Escalation:
        path = PATHS[status]
        if with_decision or Status.DECIDED in path:
            decide(escalation)
        for step in path:
            escalation = transition_escalation(
                escalation=escalation,
                to_status=step,
                actor=analyst,
                reason="walked there for the test",
            )
        assert escalation.status == status
        return escalation

    return walk


def earliest_unmet_clock(escalation: Escalation) -> Clock | None:
    return escalation.clocks.filter(met_at__isnull=True).order_by("due_at", "pk").first()


def assert_next_due_is_earliest_unmet(escalation: Escalation) -> None:
    """The queue's sort key is the nearest running deadline (none once closed)."""
    escalation = Escalation.objects.get(pk=escalation.pk)
    assert escalation.is_open == (escalation.status != Status.CLOSED)
    nearest = earliest_unmet_clock(escalation)
    if escalation.status == Status.CLOSED or nearest is None:
        assert escalation.next_due_at is None
        assert escalation.next_due_label == ""
        assert escalation.queue_due_at == NO_DEADLINE
    else:
        assert escalation.next_due_at == nearest.due_at
        assert escalation.next_due_label == nearest.label
        assert escalation.queue_due_at == nearest.due_at
