"""In a browser on the demo's day, at 1440 and 390 px: a person sets their zone on the
profile page and the queue's deadlines follow it; the queue tells of an escalation filed
after it loaded, without a reload; the escalation page's clocks show the viewer's and the
market's time; a partner sitrep drafts in Korean. Nothing is wider than the screen.
Screenshots go to WATCHFLOOR_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sign_in
from watchfloor.people.demo_accounts import DEMO_PASSWORD

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WATCHFLOOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width


@pytest.mark.parametrize("size", SIZES)
def test_profile_queue_escalation_and_korean_sitrep(
    live_server, demo_day, chromium, tmp_path, size
):
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput
    from watchfloor.people.models import User

    viewport = SIZES[size]
    shots = _shots(tmp_path)
    page = chromium.new_page(viewport=viewport)
    sign_in(page, live_server.url, "lead", DEMO_PASSWORD)

    page.goto(f"{live_server.url}/account/profile/")
    page.fill("#id_time_zone", "Asia/Seoul")
    page.fill("#id_languages", "ko, en")
    _fits(page, viewport["width"])
    page.screenshot(path=shots / f"profile-{size}.png", full_page=True)
    with page.expect_navigation():
        page.click("button:has-text('Save')")
    assert "Profile saved" in page.inner_text(".messages")
    assert page.locator(".whoami-zone").inner_text() == "Asia/Seoul"

    page.goto(f"{live_server.url}/")
    due = page.locator("table.queue .clock-due time").first
    assert due.inner_text().endswith("KST")
    assert due.get_attribute("title").endswith(" UTC")
    assert page.locator("#queue-new").inner_text() == ""
    lead = User.objects.get(username="lead")
    create_escalation(
        actor=lead,
        details=EscalationInput(
            type_code="scam_campaign",
            title="New: fake wildfire relief accounts",
            markets=["KR"],
            languages=["ko"],
            source_kind="user_report",
            rubric_answers={"harm": "moderate", "reach": "significant"},
        ),
    )
    # The indicator asks at once when the tab comes back into view.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_selector("#queue-new:has-text('1 new')")
    assert "since you loaded" in page.locator("#queue-new").inner_text()
    _fits(page, viewport["width"])
    page.screenshot(path=shots / f"queue-new-{size}.png")
    page.click("#queue-new a:has-text('show')")
    page.wait_for_selector("text=New: fake wildfire relief accounts")

    escalation = demo_day["crisis_escalation"]
    page.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    clocks = page.locator("#clocks table.clocks tbody tr").first.inner_text()
    assert "KST" in clocks and "JST" not in clocks, "Seoul and Osaka read the same clock"
    _fits(page, viewport["width"])
    page.screenshot(path=shots / f"escalation-times-{size}.png", full_page=True)

    crisis = demo_day["crisis"]
    page.goto(f"{live_server.url}/crises/{crisis.pk}/sitreps/new?audience=partners&language=ko")
    body = page.locator("#id_body").input_value()
    assert "사고 지휘관:" in body and "{{" not in body
    _fits(page, viewport["width"])
    page.screenshot(path=shots / f"sitrep-ko-{size}.png", full_page=True)
