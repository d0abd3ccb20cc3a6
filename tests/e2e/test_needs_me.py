""" "Needs me" in a real browser (issue 12): a lead with a decision awaiting approval sees
it counted in the header and listed on /me/, and follows it to the escalation, at
1440 px and at 390 px. Screenshots go to WATCHFLOOR_SCREENSHOTS when it is set, to the
test's temporary directory otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_browser import PASSWORD
from tests.e2e.test_crisis_flow import war_room_people  # noqa: F401 (a fixture)

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are
# ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_a_lead_sees_the_decision_to_approve_counted_and_listed(
    live_server,
    chromium,
    war_room_people,  # noqa: F811
    tmp_path,
    width,
    height,
):
    from watchfloor.escalations.decisions import record_decision

    lead, analyst, escalation = war_room_people
    decision = record_decision(
        escalation=escalation,
        actor=analyst,
        policy_code="violent_extremism",
        action_code="remove_content",
        scope="The re-uploads listed",
        rationale="Footage of the attack.",
    )
    assert decision.state == "pending_approval"

    page = chromium.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server.url, lead.username, PASSWORD)
    if page.is_visible("[data-menu-button]"):
        # On a phone the menu is folded: its button carries the count.
        assert page.inner_text("[data-needs-me-menu-count]").split()[0] == "1"
        page.click("[data-menu-button]")
    link = page.locator("nav a:has-text('Needs me')")
    assert link.locator("[data-needs-me-count]").inner_text().split()[0] == "1"

    link.click()
    page.wait_for_selector("h1:has-text('Needs me')")
    row = page.locator("table.needs-me tbody tr")
    assert row.count() == 1
    assert escalation.reference in row.inner_text()
    assert "Decision to approve" in row.inner_text()
    assert "second person must approve" in row.inner_text()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width

    folder = Path(os.environ.get("WATCHFLOOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"needs-me-{width}.png"), full_page=True)

    row.locator("a").click()
    page.wait_for_url(f"**/escalations/{escalation.pk}/**")
    assert problems == []
