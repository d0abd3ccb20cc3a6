"""Who may call the API: token holders and signed-in browsers, nobody else."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.api.conftest import API, SCAM_ESCALATION

pytestmark = pytest.mark.django_db

# Django accepts an unmasked 32-character secret as both the cookie and the header value.
CSRF_SECRET = "abcdefghijklmnopqrstuvwxyzABCDEF"


def test_a_valid_token_authenticates_its_user(api_as, analyst):
    caller = api_as(analyst)
    created = caller.create()

    assert created["created_by"]["username"] == "aiko.analyst"
    assert caller.get("/escalations").json()["count"] == 1


def test_no_credentials_is_401_with_the_error_shape(anonymous):
    response = anonymous.get("/escalations")

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthenticated"
    assert body["field"] is None
    assert "Authorization: Bearer" in body["message"]


def test_every_endpoint_refuses_anonymous_callers(anonymous):
    calls = [
        anonymous.get("/escalations"),
        anonymous.get("/escalations/1"),
        anonymous.get("/escalations/1/timeline"),
        anonymous.get("/catalog"),
        anonymous.post("/escalations", SCAM_ESCALATION),
        anonymous.post("/escalations/1/transitions", {"to_status": "triaged"}),
        anonymous.post("/severity/preview", {"type": "scam_campaign"}),
        anonymous.put("/escalations/1/access", {"is_restricted": True}),
    ]
    assert [response.status_code for response in calls] == [401] * len(calls)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wf_not-a-real-token", "Bearer garbage", "Bearer ", "Token wf_abc", "wf_abc"],
)
def test_a_garbage_token_is_401(authorization, analyst):
    response = Client().get(f"{API}/escalations", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_revoked_token_is_401(catalog, analyst):
    from watchfloor.people.api_tokens import create_api_token, revoke_api_token

    token, secret = create_api_token(user=analyst, name="pipeline", scopes=["read"], actor=None)
    headers = {"Authorization": f"Bearer {secret}"}
    assert Client().get(f"{API}/escalations", headers=headers).status_code == 200

    revoke_api_token(token=token, actor=None)
    response = Client().get(f"{API}/escalations", headers=headers)

    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_a_deactivated_accounts_token_is_401(token_for, analyst):
    secret = token_for(analyst)
    analyst.is_active = False
    analyst.save(update_fields=["is_active"])

    response = Client().get(f"{API}/escalations", headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 401


def test_a_browser_session_can_read(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    response = client.get(f"{API}/escalations")

    assert response.status_code == 200
    assert response.json() == {"count": 0, "count_is_capped": False, "items": []}


def test_a_browser_session_needs_the_csrf_token_to_write(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    body = json.dumps(SCAM_ESCALATION)

    refused = client.post(f"{API}/escalations", data=body, content_type="application/json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert "X-CSRFToken" in refused.json()["message"]

    client.cookies["csrftoken"] = CSRF_SECRET
    accepted = client.post(
        f"{API}/escalations",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": CSRF_SECRET},
    )
    assert accepted.status_code == 201, accepted.content


def test_a_token_caller_needs_no_csrf_token(token_for, analyst):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        f"{API}/escalations",
        data=json.dumps(SCAM_ESCALATION),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(analyst)}"},
    )

    assert response.status_code == 201, response.content


def test_the_schema_and_docs_are_served(anonymous):
    schema = Client().get(f"{API}/openapi.json")
    docs = Client().get(f"{API}/docs")

    assert schema.status_code == 200
    info = schema.json()["info"]
    assert (info["title"], info["version"]) == ("Watchfloor API", "1")
    assert set(schema.json()["components"]["securitySchemes"]) == {
        "TokenAuth",
        "BrowserSessionAuth",
    }
    assert docs.status_code == 200
