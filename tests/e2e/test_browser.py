"""One analyst's night, in a real browser: sign in, file an escalation with a statutory
notice, read why it got its severity, work it to a decision, read the timeline."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchfloor.core import clock

# Playwright's sync API runs an event loop in this thread; the ORM calls made here
# (loading the catalog, creating the user) are ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The au-osa-removal-notice rule as its clock names it.
AUSTRALIA_REMOVAL = "Australia: remove the material or cease hosting it within 24 hours"


@pytest.fixture
def night_shift(transactional_db):
    from watchfloor.catalog.services import load_catalog
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    load_catalog(actor=None)
    return create_user(
        username="aiko.analyst",
        password=PASSWORD,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
        time_zone="Asia/Tokyo",
        first_name="Aiko",
    )


def test_file_and_work_an_escalation_in_the_browser(
    live_server, browser_page, night_shift, tmp_path
):
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Sign in.
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "aiko.analyst")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Triage queue')")
    header = page.inner_text(".whoami")
    assert "Aiko" in header and "Analyst" in header and "Asia/Tokyo" in header

    # File an escalation: an eSafety removal notice received an hour ago, Sydney time.
    page.click("nav >> text=New escalation")
    page.select_option("#id_type", "scam_campaign")
    page.fill("#id_title", "Fake eSafety refund scam")
    page.fill("#id_summary", "Accounts promise refunds from the regulator for a fee.")
    page.select_option("#id_markets", ["AU"])
    page.fill("#id_languages", "en")
    page.fill("#id_subjects", "account: @esafety_refunds\nurl: https://example.org/refund")
    page.select_option("#id_source_kind", "regulator")
    page.select_option("#id_factor_harm", "moderate")
    page.select_option("#id_factor_legal_exposure", "statutory_notice")
    received = (clock.now() - timedelta(hours=1)).astimezone(ZoneInfo("Australia/Sydney"))
    page.select_option("#id_statutory_rule", "au-osa-removal-notice")
    page.fill("#id_statutory_received_at", received.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_statutory_time_zone", "Australia/Sydney")
    page.fill("#id_notice_reference", "RN-2026-0412")

    page.click("button:has-text('Preview severity')")
    preview = page.inner_text(".preview")
    assert "SEV2" in preview and "statutory notice" in preview
    assert page.input_value("#id_title") == "Fake eSafety refund scam"

    page.click("button:has-text('File escalation')")
    page.wait_for_selector("h1:has-text('Fake eSafety refund scam')")
    assert "created as SEV2" in page.inner_text(".messages")
    explanation = page.inner_text(".explanation")
    assert "Legal or regulatory exposure" in explanation
    assert "A statutory clock is running" in explanation
    statutory = page.inner_text(f"tr:has-text('{AUSTRALIA_REMOVAL}')")
    assert re.search(r"in 2[23] h", statutory), statutory
    # The countdown script ran and agreed with the server.
    assert re.match(r"in \d", page.inner_text(".next-deadline .countdown"))

    # Work it: triaged → investigating, a decision, decided.
    for status in ("triaged", "investigating"):
        page.select_option("#id_transition-to_status", status)
        page.click("button:has-text('Change status')")
        page.wait_for_selector(f".messages >> text=moved to {status.capitalize()}")

    page.click("summary:has-text('Record a decision')")
    page.select_option("#id_decision-policy", "scams_fraud")
    page.select_option("#id_decision-action", "remove_content")
    page.fill("#id_decision-scope", "@esafety_refunds and its posts")
    page.fill("#id_decision-rationale", "Impersonates a regulator to take fees.")
    page.click("button:has-text('Record decision')")
    page.wait_for_selector(".messages >> text=Decision recorded.")
    assert "Final" in page.inner_text(".decision")

    page.select_option("#id_transition-to_status", "decided")
    page.click("button:has-text('Change status')")
    page.wait_for_selector(".messages >> text=moved to Decided")

    timeline = page.inner_text(".timeline")
    for expected in (
        "Escalation created",
        "New → Triaged",
        "Triaged → Investigating",
        "Decision recorded",
        "remove content under scams_fraud v1.0 — final",
        "Investigating → Decided",
    ):
        assert expected in timeline, expected

    screenshot = tmp_path / "escalation-decided.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 0
    assert problems == [], problems
