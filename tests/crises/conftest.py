"""Fixtures for crises: an escalation to declare from, a crisis declared through the real
service, and signed-in browsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.escalations.conftest import SEVERITY_ANSWERS


@pytest.fixture
def fresh_matcher():
    """An empty per-process watchlist matcher before and after the test (the database is
    new each time, the cache is not)."""
    from watchfloor.crises.watchlists import forget_matcher

    forget_matcher()
    yield
    forget_matcher()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def escalation(make_escalation, frozen_clock):
    """A SEV1 violent-attack escalation in Japan, filed at DEFAULT_NOW."""
    return make_escalation(
        type_code="violent_attack_content",
        title="Livestreamed attack in Osaka being re-uploaded",
        markets=["JP"],
        languages=["ja"],
        rubric_answers=SEVERITY_ANSWERS[1],
    )


@pytest.fixture
def declare(analyst, escalation) -> Callable[..., Any]:
    """Declare a crisis through the service; from ``escalation`` unless told otherwise."""
    from watchfloor.crises.services import declare_crisis

    def make(**overrides: Any):
        values: dict[str, Any] = {
            "actor": analyst,
            "title": "Osaka attack video",
            "level": "incident",
            "declared_from": escalation,
        }
        values.update(overrides)
        return declare_crisis(**values)

    return make


@pytest.fixture
def crisis(declare):
    return declare()


@pytest.fixture
def settled_escalation(make_escalation, analyst):
    """A SEV3 escalation decided and closed: it holds no crisis open."""
    from watchfloor.escalations.decisions import record_decision
    from watchfloor.escalations.services import transition_escalation

    escalation = make_escalation(title="Scam wave", rubric_answers=SEVERITY_ANSWERS[3])
    record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="scams_fraud",
        action_code="remove_content",
        scope="The posts listed",
        rationale="Impersonates a charity.",
    )
    return transition_escalation(escalation=escalation, to_status="closed", actor=analyst)
