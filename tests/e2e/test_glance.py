"""The queue at a glance and the long escalation page, in a browser on the demo's day, at
1440 and 390 px: the figures and the active-crisis banner above the queue (the banner
leads to the war room), the queue sorted by deadline, and the escalation page's section
nav taking the reader to the timeline, whose delivery attempts unfold on request.
Screenshots go to WATCHFLOOR_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tests.e2e.conftest import sign_in
from watchfloor.audit.events import AuditAction
from watchfloor.audit.services import record_event
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


def _open_as_lead(chromium: Any, live_server: Any, viewport: dict, path: str) -> Any:
    page = chromium.new_page(viewport=viewport)
    sign_in(page, live_server.url, "lead", DEMO_PASSWORD)
    page.goto(f"{live_server.url}{path}")
    return page


@pytest.mark.parametrize("size", SIZES)
def test_queue_at_a_glance(live_server, demo_day, chromium, tmp_path, size):
    viewport = SIZES[size]
    page = _open_as_lead(chromium, live_server, viewport, "/")
    strip = page.get_by_role("list", name="The open queue at a glance")
    assert strip.is_visible()
    assert "breached" in strip.inner_text() and "awaiting approval" in strip.inner_text()
    banner = page.locator(".crisis-banner")
    assert banner.is_visible()
    # The first escalation still shows on the first screen, under the strip.
    first = page.locator("table.queue tbody tr").first.bounding_box()
    assert first is not None and first["y"] < viewport["height"]
    _fits(page, viewport["width"])
    page.screenshot(path=_shots(tmp_path) / f"glance-queue-{size}.png")

    page.get_by_role("navigation", name="Sort the queue").get_by_role("link").click()
    page.wait_for_url(lambda url: "sort=deadline" in url)
    dues = page.locator("table.queue tbody tr .next-clock time").evaluate_all(
        "(times) => times.map((time) => time.getAttribute('datetime'))"
    )
    assert dues == sorted(dues)

    crisis = demo_day["crisis"]
    banner.get_by_role("link", name=crisis.title, exact=False).first.click()
    page.wait_for_url(f"**/crises/{crisis.pk}/")
    page.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_escalation_page_names_its_sections(live_server, demo_day, chromium, tmp_path, size):
    escalation = demo_day["crisis_escalation"]
    for number, action in enumerate(
        (AuditAction.NOTIFY_DELIVERY_RETRYING, AuditAction.NOTIFY_DELIVERED), start=1
    ):
        with transaction.atomic():
            record_event(
                action=action,
                actor=None,
                escalation_id=escalation.pk,
                data={"to": "ops-webhook", "attempt": number, "of": 3},
            )
    viewport = SIZES[size]
    page = _open_as_lead(chromium, live_server, viewport, f"/escalations/{escalation.pk}/")
    sections = page.get_by_role("navigation", name="Sections of this page")
    assert sections.is_visible()
    _fits(page, viewport["width"])
    page.screenshot(path=_shots(tmp_path) / f"glance-escalation-{size}.png")

    sections.get_by_role("link", name="Timeline").click()
    page.wait_for_url("**#timeline")
    top = page.evaluate("document.querySelector('#timeline').getBoundingClientRect().top")
    assert 0 <= top < viewport["height"] / 2
    page.screenshot(path=_shots(tmp_path) / f"glance-timeline-{size}.png")

    assert "2 notification delivery attempts" in page.locator("#timeline").inner_text()
    page.get_by_role("link", name="Show every attempt").click()
    page.wait_for_url("**timeline=all*")
    assert page.get_by_role("link", name="Fold delivery attempts into one line").is_visible()
    assert "to ops-webhook, attempt 1 of 3" in page.locator("#timeline").inner_text()
    page.close()
