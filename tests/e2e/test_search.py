"""Search in a real browser (issue 12): the header's search box finds an escalation by its
``WF-`` reference, by a handle, by a Japanese phrase and by a two-character Japanese word,
at 1440 px and at 390 px, where the box stays in view without opening the menu and
nothing is wider than the screen. Screenshots go to WATCHFLOOR_SCREENSHOTS when it is
set, to the test's temporary directory otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_browser import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are
# ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def searcher_and_escalations(transactional_db):
    from watchfloor.catalog.services import load_catalog
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput, SubjectInput
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    load_catalog(actor=None)
    analyst = create_user(
        username="sora.analyst",
        password=PASSWORD,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
        time_zone="Asia/Tokyo",
    )
    wanted = create_escalation(
        actor=analyst,
        details=EscalationInput(
            type_code="scam_campaign",
            title="大阪の地震で義援金詐欺が広がる",
            summary="Accounts pose as relief charities after the Osaka earthquake.",
            markets=["JP"],
            languages=["ja", "en"],
            source_kind="user_report",
            subjects=[SubjectInput(kind="account", reference="@kansai_relief_fund")],
        ),
    )
    other = create_escalation(
        actor=analyst,
        details=EscalationInput(
            type_code="scam_campaign",
            title="Typhoon relief donation scam wave",
            markets=["PH"],
            languages=["en"],
            source_kind="user_report",
        ),
    )
    return analyst, wanted, other


def search_from_header(page, text: str) -> None:
    page.fill("header [role=search] input[name=q]", text)
    page.press("header [role=search] input[name=q]", "Enter")
    page.wait_for_selector("h1:has-text('Search')")


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_the_header_search_finds_an_escalation_by_reference_handle_and_japanese(
    live_server, chromium, searcher_and_escalations, tmp_path, width, height
):
    analyst, wanted, other = searcher_and_escalations
    page = chromium.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server.url, analyst.username, PASSWORD)
    # On a phone too the box is in view without opening the menu.
    assert page.is_visible("header [role=search] input[name=q]")

    folder = Path(os.environ.get("WATCHFLOOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"search-header-{width}.png"))

    for text in (wanted.reference, "@kansai_relief_fund", "地震で義援金", "地震"):
        search_from_header(page, text)
        hits = page.locator("#search-escalations .search-hit")
        assert hits.count() == 1, text
        assert wanted.reference in hits.first.inner_text(), text
        assert other.title not in page.content(), text
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, text
        # The query stays in the box, to be refined.
        assert page.input_value("header [role=search] input[name=q]") == text

    search_from_header(page, "義援金詐欺")
    page.screenshot(path=str(folder / f"search-page-{width}.png"), full_page=True)
    page.locator("#search-escalations .search-hit a").first.click()
    page.wait_for_url(f"**/escalations/{wanted.pk}/**")
    assert problems == []
