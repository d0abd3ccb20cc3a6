"""Fixtures for partner requests: an escalation to ask about, and a helper that asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from tests.api.conftest import ApiCaller


@pytest.fixture
def escalation(make_escalation, frozen_clock):
    return make_escalation(
        type_code="regulator_notice",
        title="eSafety removal notice: abuse of a Brisbane teacher",
        markets=["AU"],
        languages=["en"],
        source_kind="regulator",
    )


@pytest.fixture
def ask(analyst):
    """Send a partner request through the real service, with sensible defaults."""
    from watchfloor.coordination.services import send_partner_request

    def make(escalation, **overrides):
        values = {
            "escalation": escalation,
            "actor": analyst,
            "team_code": "legal",
            "kind": "legal_review",
            "question": "Is the notice valid on its face, and must we act on all 14 posts?",
            "context": "Notice DEMO-0042 lists 14 posts; 2 look like news reporting.",
            "due_within": timedelta(hours=4),
        }
        values.update(overrides)
        return send_partner_request(**values)

    return make


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api_as(catalog):
    """``api_as(user)``: calls the API with a fresh token of ``user``."""
    from watchfloor.people.api_tokens import create_api_token

    def make(user) -> ApiCaller:
        _, secret = create_api_token(user=user, name="tests", scopes=["read", "write"], actor=None)
        return ApiCaller(client=Client(), token=secret, user=user)

    return make
