"""Evidence packages on the partner request that asked for them: listed on its page with
need to know, downloaded (made again, byte for byte) only by those allowed, audited."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.evidence.conftest import image_bytes
from watchfloor.audit.events import AuditAction
from watchfloor.audit.models import AuditEvent
from watchfloor.core import clock
from watchfloor.evidence import packages, services
from watchfloor.evidence.custody import custody_log
from watchfloor.evidence.models import EvidenceItem, EvidencePackage

pytestmark = pytest.mark.usefixtures("frozen_clock")

API = "/api/v1"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def le_partner(make_user):
    return make_user("lars.le", "partner", "law_enforcement_response")


@pytest.fixture
def referral(escalation, analyst):
    from watchfloor.coordination.services import send_partner_request

    return send_partner_request(
        escalation=escalation,
        actor=analyst,
        team_code="law_enforcement_response",
        kind="law_enforcement_referral",
        question="Police ask for the screenshots and their hashes under a preservation order.",
        due_within=timedelta(hours=8),
    )


def _items(analyst, count: int, **target) -> list[EvidenceItem]:
    return [
        services.add_evidence_file(
            **target, actor=analyst, chunks=[image_bytes(seed=seed)], name=f"shot-{seed}.png"
        )
        for seed in range(1, count + 1)
    ]


def _page(user, referral) -> tuple[int, str]:
    response = signed_in(user).get(reverse("partner-request", args=[referral.pk]))
    return response.status_code, response.content.decode()


def _download(user, package: EvidencePackage):
    return signed_in(user).post(reverse("evidence-package-download", args=[package.pk]))


def test_the_request_page_lists_the_package_built_for_it(analyst, escalation, referral):
    built = packages.build_package(
        escalation=escalation,
        items=_items(analyst, 2, escalation=escalation),
        actor=analyst,
        requester_zone="Europe/Berlin",
        partner_request=referral,
    )
    status, page = _page(analyst, referral)
    assert status == 200
    package = built.record
    assert f'id="package-{package.pk}"' in page and package.reference in page
    assert package.sha256 in page and package.file_name in page
    assert "2 items" in page and analyst.display_name in page and "Europe/Berlin" in page
    assert reverse("evidence-package-download", args=[package.pk]) in page


def test_a_referral_without_packages_tells_analysts_how_to_build_one(analyst, le_partner, referral):
    _, page = _page(analyst, referral)
    assert "No evidence package is attached" in page
    assert f"--request {referral.reference}" in page
    # The team asked is not told how to build one (it cannot), and sees no empty section.
    _, page = _page(le_partner, referral)
    assert "Evidence packages" not in page


def test_the_team_asked_downloads_the_same_package_and_it_is_audited(
    analyst, le_partner, escalation, referral
):
    items = _items(analyst, 2, escalation=escalation)
    built = packages.build_package(
        escalation=escalation, items=items, actor=analyst, partner_request=referral
    )
    _, page = _page(le_partner, referral)
    assert built.record.sha256 in page
    assert reverse("evidence-package-download", args=[built.record.pk]) in page

    response = _download(le_partner, built.record)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert built.record.file_name in response["Content-Disposition"]
    assert response.content == built.content
    assert packages.verify_package(response.content, expected_sha256=built.record.sha256) == []
    event = AuditEvent.objects.get(action=AuditAction.EVIDENCE_PACKAGE_DOWNLOADED)
    assert event.actor_id == le_partner.pk and event.escalation_id == escalation.pk
    assert event.data["package_sha256"] == built.record.sha256
    assert event.data["partner_request"] == referral.pk
    for item in items:
        exports = custody_log(item).filter(action=AuditAction.EVIDENCE_EXPORTED)
        assert [e.data.get("downloaded", False) for e in exports] == [False, True]


def test_a_viewer_sees_the_package_but_may_not_download_it(analyst, viewer, escalation, referral):
    built = packages.build_package(
        escalation=escalation,
        items=_items(analyst, 1, escalation=escalation),
        actor=analyst,
        partner_request=referral,
    )
    status, page = _page(viewer, referral)
    assert status == 200 and built.record.sha256 in page
    assert "Not downloadable: only analysts, leads, admins" in page
    assert reverse("evidence-package-download", args=[built.record.pk]) not in page
    assert _download(viewer, built.record).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EVIDENCE_PACKAGE_DOWNLOADED).exists()


def test_a_partner_of_another_team_sees_nothing_of_it(analyst, comms_partner, escalation, referral):
    built = packages.build_package(
        escalation=escalation,
        items=_items(analyst, 1, escalation=escalation),
        actor=analyst,
        partner_request=referral,
    )
    assert _page(comms_partner, referral)[0] == 404
    assert _download(comms_partner, built.record).status_code == 404


def test_a_crisis_package_is_hidden_from_a_reader_who_may_not_see_the_crisis(
    analyst, other_analyst, declare, escalation, referral
):
    restricted = declare(
        title="At-risk journalist doxxed", is_restricted=True, access_usernames=[analyst.username]
    )
    built = packages.build_package(
        crisis=restricted,
        items=_items(analyst, 1, crisis=restricted),
        actor=analyst,
        partner_request=referral,
    )
    _, page = _page(analyst, referral)
    assert built.record.sha256 in page and restricted.reference in page
    # Another analyst may see the escalation and its request, not the restricted crisis.
    status, page = _page(other_analyst, referral)
    assert status == 200
    assert built.record.sha256 not in page and restricted.reference not in page
    assert built.record.reference not in page
    assert _download(other_analyst, built.record).status_code == 404


def test_a_crisis_package_naming_an_escalation_hidden_from_the_reader_is_not_theirs(
    analyst, other_analyst, crisis, make_escalation, escalation, referral
):
    from watchfloor.crises.services import link_escalation

    hidden = make_escalation(title="Restricted case", is_restricted=True)
    link_escalation(crisis=crisis, escalation=hidden, actor=analyst)
    built = packages.build_package(
        crisis=crisis,
        items=_items(analyst, 1, crisis=crisis),
        actor=analyst,
        partner_request=referral,
    )
    assert hidden.reference in str(built.manifest)
    _, page = _page(other_analyst, referral)
    assert built.record.sha256 in page
    assert "Not downloadable: its manifest carries escalations you may not see" in page
    assert _download(other_analyst, built.record).status_code == 403
    assert _download(analyst, built.record).content == built.content


def test_a_package_with_a_purged_item_cannot_be_downloaded(analyst, escalation, referral):
    items = _items(analyst, 2, escalation=escalation)
    built = packages.build_package(
        escalation=escalation, items=items, actor=analyst, partner_request=referral
    )
    # What retention leaves after deleting the bytes (docs/evidence.md, retention).
    EvidenceItem.objects.filter(pk=items[0].pk).update(purged_at=clock.now())
    _, page = _page(analyst, referral)
    assert "Not downloadable: retention has deleted the files of some of its items" in page
    response = _download(analyst, built.record)
    assert response.status_code == 302
    assert response["Location"].endswith(f"#package-{built.record.pk}")
    assert not AuditEvent.objects.filter(action=AuditAction.EVIDENCE_PACKAGE_DOWNLOADED).exists()


def test_a_package_built_before_manifests_were_kept_is_listed_not_downloadable(
    analyst, escalation, referral
):
    built = packages.build_package(
        escalation=escalation,
        items=_items(analyst, 1, escalation=escalation),
        actor=analyst,
        partner_request=referral,
    )
    EvidencePackage.objects.filter(pk=built.record.pk).update(manifest={})
    _, page = _page(analyst, referral)
    assert built.record.sha256 in page and "built before packages kept their manifest" in page
    response = signed_in(analyst).post(
        reverse("evidence-package-download", args=[built.record.pk]), follow=True
    )
    assert f"{built.record.reference} cannot be made again" in response.content.decode()


def _queries(client: Client, url: str) -> int:
    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_request_page_costs_the_same_with_one_or_four_packages(analyst, escalation, referral):
    items = _items(analyst, 2, escalation=escalation)
    client, url = signed_in(analyst), reverse("partner-request", args=[referral.pk])

    def build():
        packages.build_package(
            escalation=escalation, items=items, actor=analyst, partner_request=referral
        )

    build()
    one = _queries(client, url)
    for _ in range(3):
        build()
    assert _queries(client, url) == one
    assert client.get(url).content.decode().count('data-testid="request-package"') == 4


def test_the_cli_attaches_a_package_to_the_request(analyst, escalation, referral, tmp_path):
    item = _items(analyst, 1, escalation=escalation)[0]
    out = io.StringIO()
    path = tmp_path / "pkg.zip"
    call_command(
        "evidence",
        "package",
        "--escalation",
        escalation.reference,
        "--items",
        item.reference,
        "--request",
        referral.reference,
        "--out",
        str(path),
        stdout=out,
    )
    record = EvidencePackage.objects.get()
    assert record.partner_request_id == referral.pk
    assert f"for {referral.reference}" in out.getvalue() and record.sha256 in out.getvalue()
    with zipfile.ZipFile(path) as archive:
        assert "manifest.json" in archive.namelist()
    assert record.sha256 in _page(analyst, referral)[1]


def test_the_api_will_not_attach_a_request_the_builder_may_not_see(
    analyst, other_analyst, legal_partner, crisis, make_escalation, token_for
):
    from watchfloor.coordination.services import send_partner_request
    from watchfloor.crises.services import link_escalation

    hidden = make_escalation(
        title="Restricted case",
        is_restricted=True,
        access_usernames=[analyst.username, legal_partner.username],
    )
    link_escalation(crisis=crisis, escalation=hidden, actor=analyst)
    hidden_request = send_partner_request(
        escalation=hidden,
        actor=analyst,
        team_code="legal",
        kind="legal_review",
        question="May we hand this over?",
        due_within=timedelta(hours=4),
    )
    item = _items(analyst, 1, crisis=crisis)[0]
    response = Client().post(
        f"{API}/crises/{crisis.pk}/evidence/packages",
        {"items": [item.pk], "partner_request": hidden_request.pk},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(other_analyst)}"},
    )
    assert response.status_code == 404, response.content
    assert response.json()["field"] == "partner_request"
    assert not EvidencePackage.objects.exists()
