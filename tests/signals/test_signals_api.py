"""``POST /api/v1/signals:batch``: per-item results, permissions, size limits, bad bodies."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.signals.test_intake import make_signal
from watchfloor.signals.models import Signal

pytestmark = pytest.mark.django_db

URL = "/api/v1/signals:batch"


@pytest.fixture
def post_as():
    from watchfloor.people.api_tokens import create_api_token

    def make(user):
        _, secret = create_api_token(user=user, name="feed", scopes=["ingest"], actor=None)
        client = Client()

        def post(body=None, *, raw: bytes | str | None = None):
            data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
            return client.post(
                URL,
                data=data,
                content_type="application/json",
                headers={"Authorization": f"Bearer {secret}"},
            )

        return post

    return make


def test_each_item_gets_its_result_in_order(catalog, analyst, post_as):
    post = post_as(analyst)
    first = post([make_signal(1, market="JP")]).json()
    response = post(
        [
            make_signal(2, subject={"kind": "post", "ref": "post:1"}),
            make_signal(1),
            make_signal(3, market="XX"),
            "not an object",
            make_signal(2),
        ]
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 2, 2)
    assert body["rejected_by_reason"] == {"bad_type": 1, "unknown_market": 1}
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "duplicate",
    ]
    original = first["results"][0]
    assert results[0]["cluster_id"] == original["cluster_id"]  # the same post
    assert (results[1]["signal_id"], results[1]["cluster_id"]) == (
        original["signal_id"],
        original["cluster_id"],
    )
    assert results[4]["signal_id"] == results[0]["signal_id"]
    assert results[0]["error"] is None
    assert results[2]["error"]["code"] == "unknown_market"
    assert results[2]["error"]["field"] == "market"
    assert "XX" in results[2]["error"]["message"]
    assert results[3]["error"] == {
        "code": "bad_type",
        "field": "",
        "message": "a signal must be a JSON object, not a string",
    }
    # The producer is the caller's account.
    assert set(Signal.objects.values_list("producer", flat=True)) == {analyst.username}


def test_systems_with_an_analyst_or_lead_token_may_send(catalog, lead, post_as):
    assert post_as(lead)([make_signal(1)]).status_code == 200


@pytest.mark.parametrize("role, team", [("viewer", None), ("partner", "legal")])
def test_viewers_and_partners_are_refused(catalog, make_user, post_as, role, team):
    response = post_as(make_user(f"x.{role}", role, team))([make_signal(1)])
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Signal.objects.exists()


def test_a_call_without_credentials_is_refused(catalog):
    response = Client().post(URL, data="[]", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_more_than_ten_thousand_signals_are_refused_with_nothing_stored(catalog, analyst, post_as):
    response = post_as(analyst)([make_signal(n) for n in range(10_001)])
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "batch_too_large"
    assert "10,001" in body["message"] and "10,000" in body["message"]
    assert not Signal.objects.exists()


def test_a_body_too_large_to_read_is_refused(catalog, analyst, post_as, monkeypatch):
    from watchfloor.signals import api

    monkeypatch.setattr(api, "MAX_BODY_BYTES", 1000)
    response = post_as(analyst)([make_signal(n, text="x" * 100) for n in range(20)])
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"


@pytest.mark.parametrize(
    "raw, code",
    [
        ('[{"id": "a",', "malformed_json"),
        ('[{"id": "a", "id": "b"}]', "malformed_json"),
        ("[NaN]", "malformed_json"),
        (b"[\xff]", "bad_encoding"),
        ('{"signals": []}', "invalid"),
    ],
    ids=["truncated", "key twice", "nan", "not utf-8", "not an array"],
)
def test_a_body_that_is_not_a_json_array_is_a_400(catalog, analyst, post_as, raw, code):
    response = post_as(analyst)(raw=raw)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert set(body) == {"code", "message", "field"}


def test_an_empty_batch_is_fine(catalog, analyst, post_as):
    body = post_as(analyst)([]).json()
    assert body == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 0,
        "rejected_by_reason": {},
        "results": [],
    }


def test_the_endpoint_documents_its_body_as_an_array_of_signals(catalog):
    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/signals:batch"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["maxItems"] == 10_000
    assert body["items"]["required"] == ["id", "received_at", "source", "subject"]
    assert {"200", "400", "403", "413"} <= set(operation["responses"])
