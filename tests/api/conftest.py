"""API fixtures: a client that speaks JSON with a real token for a given user."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from watchfloor.people.models import User

API = "/api/v1"

# A request body that creates an ordinary SEV3 scam escalation; tests change what they need.
SCAM_ESCALATION: dict[str, Any] = {
    "type": "scam_campaign",
    "title": "Typhoon relief donation scam wave",
    "summary": "Accounts posing as relief charities collect donations.",
    "markets": ["PH"],
    "languages": ["tl", "en"],
    "source_kind": "user_report",
    "rubric_answers": {"harm": "moderate", "reach": "significant"},
    "subjects": [{"kind": "account", "reference": "@relief_ph_help", "note": "main account"}],
}


@dataclass
class ApiCaller:
    """Calls the API as one user, with that user's bearer token (or none)."""

    client: Client
    token: str | None
    user: User | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params: dict[str, Any] | None = None):
        return self.client.get(API + path, params or {}, headers=self._headers())

    def post(self, path: str, body: Any = None, *, raw: str | None = None):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            API + path, data=data, content_type="application/json", headers=self._headers()
        )

    def put(self, path: str, body: Any):
        return self.client.put(
            API + path,
            data=json.dumps(body),
            content_type="application/json",
            headers=self._headers(),
        )

    def create(self, **changes: Any) -> dict[str, Any]:
        """Create an escalation from SCAM_ESCALATION with ``changes``; returns the detail."""
        response = self.post("/escalations", {**SCAM_ESCALATION, **changes})
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def token_for(catalog) -> Callable[[User], str]:
    from watchfloor.people.api_tokens import create_api_token

    def make(user: User) -> str:
        _, secret = create_api_token(
            user=user, name="tests", scopes=["read", "write", "ingest"], actor=None
        )
        return secret

    return make


@pytest.fixture
def api_as(token_for) -> Callable[[User], ApiCaller]:
    """``api_as(user)``: a caller authenticated with a fresh token of ``user``."""

    def make(user: User) -> ApiCaller:
        return ApiCaller(client=Client(), token=token_for(user), user=user)

    return make


@pytest.fixture
def anonymous() -> ApiCaller:
    return ApiCaller(client=Client(), token=None)


@pytest.fixture
def ago(frozen_clock) -> Callable[..., str]:
    """An RFC 3339 time before the frozen now, written in ``zone``'s offset."""
    from zoneinfo import ZoneInfo

    def make(*, zone: str = "UTC", **delta: float) -> str:
        return (frozen_clock - timedelta(**delta)).astimezone(ZoneInfo(zone)).isoformat()

    return make
