"""Evidence in a real browser: an analyst uploads a picture to an escalation, sees it
blurred, reveals it, finds the reveal on the timeline and the exposure counter moved; a
partner without access gets not-found."""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_partner_flow import analyst_and_legal_partner, sign_in, watch_for_problems
from tests.evidence.conftest import image_bytes

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def evidence_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "store"), "base_url": None},
        },
    }
    settings.WATCHFLOOR_EVIDENCE_WORK_DIR = tmp_path / "incoming"


@pytest.fixture
def scam_escalation(transactional_db, evidence_storage):
    from watchfloor.catalog.services import load_catalog
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput

    load_catalog(actor=None)
    analyst = analyst_and_legal_partner()
    return create_escalation(
        actor=analyst,
        details=EscalationInput(
            type_code="scam_campaign",
            title="Typhoon relief donation scam wave",
            summary="Accounts posing as relief charities collect donations.",
            markets=["PH"],
            languages=["en"],
            source_kind="user_report",
            rubric_answers={"harm": "moderate", "reach": "significant"},
        ),
    )


def test_upload_see_blurred_reveal_and_count_exposure(
    live_server, chromium, scam_escalation, tmp_path
):
    from watchfloor.evidence.models import EvidenceItem

    picture = tmp_path / "donation-page.png"
    picture.write_bytes(image_bytes(seed=11))
    problems: list[str] = []
    page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watch_for_problems(page, problems)
    sign_in(page, live_server.url, "aiko.analyst")
    page.goto(f"{live_server.url}/escalations/{scam_escalation.pk}/")
    assert page.locator(".exposure-items").inner_text() == "0"

    page.set_input_files("#evidence-file", str(picture))
    page.click("button:has-text('Add evidence')")
    page.wait_for_selector("img.evidence-blurred")
    item = EvidenceItem.objects.get()
    blurred = page.locator("img.evidence-blurred")
    assert blurred.get_attribute("src") == f"/evidence/{item.pk}/preview.jpg"
    assert blurred.evaluate("img => img.complete && img.naturalWidth > 0")

    page.click("button:has-text('Reveal for 30 s')")
    page.wait_for_selector("img.evidence-clear")
    assert "/evidence/revealed/" in page.locator("img.evidence-clear").get_attribute("src")
    assert page.locator("img.evidence-clear").evaluate(
        "img => img.complete && img.naturalWidth > 0"
    )

    page.goto(f"{live_server.url}/escalations/{scam_escalation.pk}/")
    assert page.locator(".exposure-items").inner_text() == "1"
    timeline = page.locator(".timeline").inner_text()
    assert "Evidence revealed" in timeline and item.reference in timeline
    assert problems == []

    partner = chromium.new_context().new_page()
    sign_in(partner, live_server.url, "grace.legal")
    for path in (f"/evidence/{item.pk}/", f"/evidence/{item.pk}/preview.jpg"):
        response = partner.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 404
