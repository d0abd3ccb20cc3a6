"""Evidence on signals clusters and crises: exactly one target, need to know of that target,
the panels on the cluster page and the war room, the API, the CLI and crisis packages."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.evidence.conftest import image_bytes
from tests.signals.factories import make_cluster
from watchfloor.core import clock
from watchfloor.core.errors import InvalidInput, NotFound
from watchfloor.evidence import packages, selectors, services
from watchfloor.evidence.models import EvidenceItem, Kind, Source

API = "/api/v1"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def restricted_crisis(declare, make_escalation, analyst):
    return declare(
        title="At-risk journalist doxxed",
        declared_from=make_escalation(title="Doxxing"),
        is_restricted=True,
        access_usernames=[analyst.username],
    )


@pytest.fixture
def cluster(db):
    return make_cluster()


def _add(analyst, data: bytes | None = None, **target):
    return services.add_evidence_file(
        **target, actor=analyst, chunks=[data or image_bytes()], name="capture.png"
    )


# ---------------------------------------------------------------- exactly one target


def _bare(**target) -> dict:
    return {
        **target,
        "source": Source.REFERENCE,
        "kind": Kind.REFERENCE,
        "content_id": "post:1",
        "added_at": clock.now(),
    }


def test_the_database_holds_an_item_to_exactly_one_target(escalation, cluster, crisis):
    for target in (
        {},
        {"escalation": escalation, "cluster": cluster},
        {"crisis": crisis, "cluster": cluster, "escalation": escalation},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            EvidenceItem.objects.create(**_bare(**target))
    for target in ({"escalation": escalation}, {"cluster": cluster}, {"crisis": crisis}):
        EvidenceItem.objects.create(**_bare(**target))


def test_the_services_name_the_field_when_not_exactly_one_target(analyst, escalation, crisis):
    with pytest.raises(InvalidInput) as error:
        services.add_evidence_reference(actor=analyst, content_id="post:1")
    assert error.value.field == "target"
    with pytest.raises(InvalidInput):
        services.add_evidence_reference(
            escalation=escalation, crisis=crisis, actor=analyst, content_id="post:1"
        )
    assert not EvidenceItem.objects.exists()


# ---------------------------------------------------------------- need to know


def test_a_restricted_crisis_keeps_its_evidence_from_everyone_else(
    analyst, other_analyst, restricted_crisis, token_for
):
    item = _add(analyst, crisis=restricted_crisis)
    assert item.target_reference == f"CR-{restricted_crisis.pk}"
    assert selectors.evidence_visible_to(analyst).filter(pk=item.pk).exists()
    # Not in lists, counts, single reads, previews, the API or a package.
    assert not selectors.evidence_visible_to(other_analyst).exists()
    assert selectors.evidence_list(viewer=other_analyst).count() == 0
    with pytest.raises(NotFound):
        selectors.access_evidence(actor=other_analyst, evidence_id=item.pk)
    outsider = signed_in(other_analyst)
    assert outsider.get(reverse("evidence-detail", args=[item.pk])).status_code == 404
    assert outsider.get(reverse("evidence-preview", args=[item.pk])).status_code == 404
    assert outsider.post(reverse("evidence-reveal", args=[item.pk])).status_code == 404
    assert (
        outsider.get(reverse("evidence-list", args=["crisis", restricted_crisis.pk])).status_code
        == 404
    )
    auth = {"Authorization": f"Bearer {token_for(other_analyst)}"}
    client = Client()
    assert (
        client.get(f"{API}/crises/{restricted_crisis.pk}/evidence", headers=auth).status_code == 404
    )
    assert client.get(f"{API}/evidence/{item.pk}", headers=auth).status_code == 404
    package = client.post(
        f"{API}/crises/{restricted_crisis.pk}/evidence/packages",
        {"items": [item.pk]},
        content_type="application/json",
        headers=auth,
    )
    assert package.status_code == 404
    # The one on the access list sees it on the war room.
    page = signed_in(analyst).get(reverse("crisis-detail", args=[restricted_crisis.pk]))
    assert f'id="evidence-{item.pk}"' in page.content.decode()


def test_a_clusters_evidence_is_for_those_who_may_see_clusters(
    analyst, viewer, legal_partner, cluster
):
    item = _add(analyst, cluster=cluster)
    assert selectors.access_evidence(actor=viewer, evidence_id=item.pk) == item
    with pytest.raises(NotFound):
        selectors.access_evidence(actor=legal_partner, evidence_id=item.pk)
    assert (
        signed_in(legal_partner).get(reverse("evidence-detail", args=[item.pk])).status_code == 404
    )


# ---------------------------------------------------------------- pages


def test_upload_on_the_cluster_page_shows_the_blurred_panel(analyst, cluster):
    client = signed_in(analyst)
    upload = SimpleUploadedFile("shot.png", image_bytes(seed=3), content_type="image/png")
    response = client.post(
        reverse("evidence-upload", args=["cluster", cluster.pk]),
        {"file": upload, "category": "general"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cluster-detail", args=[cluster.pk]) + "#evidence"
    item = EvidenceItem.objects.get()
    assert item.cluster_id == cluster.pk and item.escalation_id is None
    page = client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert reverse("evidence-preview", args=[item.pk]) in page
    assert 'class="evidence-blurred"' in page
    assert reverse("evidence-upload", args=["cluster", cluster.pk]) in page
    detail = client.get(reverse("evidence-detail", args=[item.pk])).content.decode()
    assert f"C-{cluster.pk}" in detail


def test_upload_in_the_war_room_and_reveal_from_it(analyst, crisis):
    client = signed_in(analyst)
    upload = SimpleUploadedFile("shot.png", image_bytes(seed=4), content_type="image/png")
    response = client.post(reverse("evidence-upload", args=["crisis", crisis.pk]), {"file": upload})
    assert response["Location"] == reverse("crisis-detail", args=[crisis.pk]) + "#evidence"
    item = EvidenceItem.objects.get(crisis=crisis)
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert 'id="evidence"' in page and f'id="evidence-{item.pk}"' in page
    assert client.post(reverse("evidence-reveal", args=[item.pk])).status_code == 302
    # The reveal of the crisis's own evidence counts in the war room's team exposure.
    page = client.get(reverse("crisis-detail", args=[crisis.pk])).content.decode()
    assert 'data-testid="crisis-exposure-items">1<' in page


def _queries(client: Client, url: str) -> int:
    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_cluster_page_and_war_room_cost_the_same_with_more_evidence(analyst, cluster, crisis):
    client = signed_in(analyst)
    pages = [
        reverse("cluster-detail", args=[cluster.pk]),
        reverse("crisis-detail", args=[crisis.pk]),
    ]
    _add(analyst, cluster=cluster)
    _add(analyst, crisis=crisis)
    before = [_queries(client, url) for url in pages]
    for seed in range(2, 6):
        _add(analyst, image_bytes(seed=seed), cluster=cluster)
        _add(analyst, image_bytes(seed=seed), crisis=crisis)
    assert [_queries(client, url) for url in pages] == before


# ---------------------------------------------------------------- API and CLI


def test_the_api_uploads_and_lists_on_clusters_and_crises(analyst, cluster, crisis, token_for):
    client, auth = Client(), {"Authorization": f"Bearer {token_for(analyst)}"}
    for path, ref in (
        (f"clusters/{cluster.pk}", f"C-{cluster.pk}"),
        (f"crises/{crisis.pk}", crisis.reference),
    ):
        upload = SimpleUploadedFile("shot.png", image_bytes(seed=9), content_type="image/png")
        created = client.post(f"{API}/{path}/evidence", {"file": upload}, headers=auth)
        assert created.status_code == 201, created.content
        assert created.json()["of"] == ref and created.json()["escalation"] is None
        reference = client.post(
            f"{API}/{path}/evidence/references",
            {"content_id": "post:42"},
            content_type="application/json",
            headers=auth,
        )
        assert reference.status_code == 201
        listed = client.get(f"{API}/{path}/evidence", headers=auth).json()
        assert {row["of"] for row in listed} == {ref} and len(listed) == 2
    assert client.get(f"{API}/clusters/999999/evidence", headers=auth).status_code == 404


def test_the_cli_adds_to_a_cluster_or_a_crisis(cluster, crisis, tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(image_bytes(seed=5))
    out = io.StringIO()
    call_command("evidence", "add", str(path), "--cluster", f"C-{cluster.pk}", stdout=out)
    call_command("evidence", "add", str(path), "--crisis", crisis.reference, stdout=out)
    lines = out.getvalue().splitlines()
    assert f"  C-{cluster.pk}  image" in lines[0] and f"  {crisis.reference}  image" in lines[1]
    out = io.StringIO()
    call_command("evidence", "list", "--crisis", str(crisis.pk), stdout=out)
    assert len(out.getvalue().splitlines()) == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no crisis"):
        call_command("evidence", "add", str(path), "--crisis", "CR-99999")


# ---------------------------------------------------------------- packages


def test_a_crisis_package_carries_only_the_escalations_its_builder_may_see(
    analyst, other_analyst, crisis, make_escalation, token_for
):
    from watchfloor.crises.services import link_escalation

    hidden = make_escalation(
        title="Restricted case", is_restricted=True, access_usernames=[analyst.username]
    )
    link_escalation(crisis=crisis, escalation=hidden, actor=analyst)
    item = _add(analyst, crisis=crisis)
    client, auth = Client(), {"Authorization": f"Bearer {token_for(other_analyst)}"}
    response = client.post(
        f"{API}/crises/{crisis.pk}/evidence/packages",
        {"items": [item.pk], "requester_zone": "Asia/Tokyo"},
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    content = base64.b64decode(body["content_base64"])
    assert packages.verify_package(content, expected_sha256=body["sha256"]) == []
    assert body["file_name"].startswith(f"{crisis.reference}-evidence-")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        html = archive.read("manifest.html").decode()
    assert manifest["crisis"]["reference"] == crisis.reference
    shown = [e["reference"] for e in manifest["crisis"]["escalations"]]
    assert crisis.declared_from.reference in shown and hidden.reference not in shown
    assert hidden.title not in html and crisis.title in html
    # Built by the one who may see both, the restricted escalation is in.
    built = packages.build_package(crisis=crisis, items=[item], actor=analyst)
    assert hidden.reference in [e["reference"] for e in built.manifest["crisis"]["escalations"]]
    assert built.record.crisis_id == crisis.pk and built.record.escalation_id is None
