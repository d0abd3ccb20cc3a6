"""The evidence API: upload, list, metadata, reveal with a signed URL, packages, need to know."""

from __future__ import annotations

import base64
import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.evidence.conftest import image_bytes
from watchfloor.evidence import packages
from watchfloor.evidence.models import EvidenceItem

API = "/api/v1"


def _client(token: str) -> tuple[Client, dict[str, str]]:
    return Client(), {"Authorization": f"Bearer {token}"}


def test_upload_list_get_and_reveal(escalation, analyst, token_for):
    client, auth = _client(token_for(analyst))
    data = image_bytes(seed=7)
    upload = SimpleUploadedFile("shot.png", data, content_type="image/png")
    created = client.post(
        f"{API}/escalations/{escalation.pk}/evidence",
        {"file": upload, "category": "general", "description": "screenshot"},
        headers=auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest() and len(body["pdq"]) == 64
    listed = client.get(f"{API}/escalations/{escalation.pk}/evidence", headers=auth).json()
    assert [row["reference"] for row in listed] == [body["reference"]]
    assert client.get(f"{API}/evidence/{body['id']}", headers=auth).json()["md5"] == body["md5"]
    reveal = client.post(
        f"{API}/evidence/{body['id']}/reveal",
        {"seconds": 10},
        content_type="application/json",
        headers=auth,
    )
    assert reveal.status_code == 200 and reveal.json()["seconds"] == 10
    served = Client().get(reveal.json()["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"


def test_a_lying_upload_is_a_400_naming_the_file(escalation, analyst, token_for):
    client, auth = _client(token_for(analyst))
    upload = SimpleUploadedFile("doc.pdf", image_bytes(), content_type="application/pdf")
    response = client.post(
        f"{API}/escalations/{escalation.pk}/evidence", {"file": upload}, headers=auth
    )
    assert response.status_code == 400
    assert (
        response.json()["field"] == "file"
        and "its bytes are image/png" in response.json()["message"]
    )
    assert not EvidenceItem.objects.exists()


def test_csam_reveal_is_refused_with_the_reason(escalation, analyst, token_for, add_image):
    item = add_image(category="child_sexual_exploitation")
    client, auth = _client(token_for(analyst))
    response = client.post(
        f"{API}/evidence/{item.pk}/reveal", {}, content_type="application/json", headers=auth
    )
    assert response.status_code == 403
    assert "never displayed or downloaded" in response.json()["message"]


def test_restricted_evidence_is_404_and_never_listed_for_others(
    make_escalation, analyst, other_analyst, token_for
):
    from watchfloor.evidence.services import add_evidence_file

    hidden = make_escalation(is_restricted=True, access_usernames=[analyst.username])
    item = add_evidence_file(escalation=hidden, actor=analyst, chunks=[image_bytes()], name="a.png")
    client, auth = _client(token_for(other_analyst))
    assert client.get(f"{API}/evidence/{item.pk}", headers=auth).status_code == 404
    assert client.get(f"{API}/escalations/{hidden.pk}/evidence", headers=auth).status_code == 404
    response = client.post(
        f"{API}/evidence/{item.pk}/reveal", {}, content_type="application/json", headers=auth
    )
    assert response.status_code == 404


def test_a_package_over_the_api_verifies(escalation, analyst, token_for, add_image):
    item = add_image()
    client, auth = _client(token_for(analyst))
    response = client.post(
        f"{API}/escalations/{escalation.pk}/evidence/packages",
        {"items": [item.pk], "requester_zone": "Asia/Tokyo"},
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    content = base64.b64decode(body["content_base64"])
    assert packages.verify_package(content, expected_sha256=body["sha256"]) == []
    bad = client.post(
        f"{API}/escalations/{escalation.pk}/evidence/packages",
        {"items": [item.pk + 1000]},
        content_type="application/json",
        headers=auth,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "items"


def test_an_oversized_or_missing_upload_is_a_400_naming_the_file(
    escalation, analyst, token_for, settings
):
    settings.WATCHFLOOR_EVIDENCE_MAX_BYTES = dict.fromkeys(
        settings.WATCHFLOOR_EVIDENCE_MAX_BYTES, 200000
    )
    client, auth = _client(token_for(analyst))
    url = f"{API}/escalations/{escalation.pk}/evidence"
    big = SimpleUploadedFile("big.png", image_bytes() + b"\0" * 400_000, content_type="image/png")
    response = client.post(url, {"file": big}, headers=auth)
    assert response.status_code == 400 and response.json()["field"] == "file"
    assert "larger than the 0.2 MB" in response.json()["message"]
    response = client.post(url, {"category": "general"}, headers=auth)
    assert response.status_code == 400 and response.json()["field"] == "file"
