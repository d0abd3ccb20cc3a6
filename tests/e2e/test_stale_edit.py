"""Two tabs on one war room (issue 12 defect 3), in a real browser: the title saved in the
first is not wiped by the summary saved from the second; the second is refused with what
changed, stays at the war room's address, and its edit goes through when sent again."""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.test_browser import PASSWORD
from tests.e2e.test_crisis_flow import war_room_people  # noqa: F401 (a fixture)

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are
# ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STALE = "changed since you opened it — here is what changed"


@pytest.fixture
def two_tabs(chromium):
    """Two tabs of one browser session (one context, so they share the sign-in)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    return context.new_page(), context.new_page()


def _open_details(tab) -> None:
    tab.click("summary:has-text('Title, summary, markets')")


def test_two_tabs_a_stale_edit_is_refused_with_what_changed(
    live_server,
    two_tabs,
    war_room_people,  # noqa: F811
):
    from watchfloor.crises.models import Crisis
    from watchfloor.crises.services import declare_crisis

    _, analyst, escalation = war_room_people
    crisis = declare_crisis(
        actor=analyst, title="Osaka attack video", level="incident", declared_from=escalation
    )
    room = f"{live_server.url}/crises/{crisis.pk}/"

    first, second = two_tabs
    problems: list[str] = []
    first.on("pageerror", lambda error: problems.append(str(error)))
    first.goto(f"{live_server.url}/login/")
    first.fill("#id_username", analyst.username)
    first.fill("#id_password", PASSWORD)
    first.click("button:has-text('Sign in')")
    first.wait_for_selector("h1:has-text('Triage queue')")

    second.on("pageerror", lambda error: problems.append(str(error)))
    first.goto(room)
    second.goto(room)

    _open_details(first)
    first.fill("#id_details-title", "Osaka attack: re-uploads")
    first.click("form:has(#id_details-title) button:has-text('Save')")
    first.wait_for_selector("text=Details saved.")

    _open_details(second)
    second.fill("#id_details-summary", "Copies on three sites.")
    second.click("form:has(#id_details-summary) button:has-text('Save')")
    second.wait_for_selector(f"text={STALE}")
    refusal = second.inner_text(".form-errors")
    assert "Osaka attack: re-uploads" in refusal
    # Shown again at the war room's own address, with what was typed kept. The address is
    # put back by a deferred script (web/page_url.js), which may run after the refusal is
    # on the page: wait for it rather than read the address at once.
    second.wait_for_url(re.compile(rf"/crises/{crisis.pk}/?$"))
    assert second.url.rstrip("/").endswith(f"/crises/{crisis.pk}")
    assert second.input_value("#id_details-summary") == "Copies on three sites."
    crisis.refresh_from_db()
    assert (crisis.title, crisis.summary) == ("Osaka attack: re-uploads", "")

    # Having read the change, the second tab takes the new title and saves again.
    second.fill("#id_details-title", "Osaka attack: re-uploads")
    second.click("form:has(#id_details-summary) button:has-text('Save')")
    second.wait_for_selector("text=Details saved.")
    crisis = Crisis.objects.get(pk=crisis.pk)
    assert (crisis.title, crisis.summary) == ("Osaka attack: re-uploads", "Copies on three sites.")
    assert problems == []
