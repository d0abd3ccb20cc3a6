"""The pages people open on a phone at 3 a.m., on the demo's day: at 360-414 px nothing is
wider than the screen (wide tables scroll in their own box), the navigation folds behind
a menu button, the queue's filters fold and its rows read as cards, and the escalation and
war-room pages keep an act bar at the bottom of the screen, where the pager's one
Acknowledge button rides. Screenshots at 390 px go to WATCHFLOOR_SCREENSHOTS when it is
set, to the test's temporary directory otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sign_in
from watchfloor.people.demo_accounts import DEMO_PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are
# ordinary blocking calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_WIDTHS = (360, 390, 414)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

# What sticks out of the screen, to say so when a page is too wide: elements wider than
# the viewport that no scrolling box of their own holds.
_STICKING_OUT = """
(width) => Array.from(document.querySelectorAll("body *"))
  .filter((element) => {
    if (element.getBoundingClientRect().right <= width + 1) return false;
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") return false;
    }
    return true;
  })
  .slice(0, 5)
  .map((element) => {
    const right = Math.round(element.getBoundingClientRect().right);
    return `${element.tagName.toLowerCase()}.${element.className} (${right} px)`;
  })
"""


def _top_of(page: Any, selector: str) -> float:
    return page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().top")


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WATCHFLOOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pages(demo_day: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(who, name, path): the lead's pages have the longest navigation."""
    return [
        ("lead", "queue", "/"),
        ("lead", "escalation", f"/escalations/{demo_day['crisis_escalation'].pk}/"),
        ("lead", "war-room", f"/crises/{demo_day['crisis'].pk}/"),
        ("lead", "banks", "/banks/"),
        ("lead", "bank", "/banks/livestream-attack-osaka/"),
        ("lead", "bank-match", "/banks/match"),
        ("legal", "partner-inbox", "/inbox/"),
    ]


def test_every_page_fits_a_phone_screen(live_server, demo_day, chromium, tmp_path):
    shots = _screenshots(tmp_path)
    problems: list[str] = []
    for width in PHONE_WIDTHS:
        page = chromium.new_page(viewport={"width": width, "height": 844})
        page.on("pageerror", lambda error: problems.append(str(error)))
        signed_in_as = None
        for username, name, path in _pages(demo_day):
            if username != signed_in_as:
                sign_in(page, live_server.url, username, DEMO_PASSWORD)
                signed_in_as = username
            page.goto(f"{live_server.url}{path}")
            assert page.locator("main h1").first.is_visible(), name
            scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
            assert scroll_width <= width, (
                f"the {name} page is {scroll_width} px wide on a {width} px screen: "
                f"{page.evaluate(_STICKING_OUT, width)}"
            )
            if width == PHONE["width"]:
                page.screenshot(path=shots / f"phone-{name}.png")
                page.screenshot(path=shots / f"phone-{name}-full.png", full_page=True)
        page.close()
    assert problems == []
    assert (shots / "phone-queue.png").stat().st_size > 0


def test_menu_and_filters_fold_on_a_phone_and_not_on_a_desktop(live_server, demo_day, chromium):
    page = chromium.new_page(viewport=PHONE)
    sign_in(page, live_server.url, "lead", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/")
    menu = page.get_by_role("button", name="Menu")
    on_call = page.get_by_role("link", name="On call")
    assert menu.is_visible() and menu.get_attribute("aria-expanded") == "false"
    assert not on_call.is_visible()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true" and on_call.is_visible()
    page.keyboard.press("Escape")
    assert not on_call.is_visible()

    # The queue's filters fold, so the first screen shows escalations, as cards.
    filters = page.locator("form.filters")
    assert not filters.is_visible()
    first_card = page.locator("table.queue tbody tr").first
    box = first_card.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    assert box["width"] <= PHONE["width"]
    page.get_by_text("Filters", exact=True).click()
    assert filters.is_visible() and page.get_by_label("Severity").is_visible()

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/")
    assert not page.get_by_role("button", name="Menu").is_visible()
    assert page.get_by_role("link", name="On call").is_visible()
    assert page.locator("form.filters").is_visible()  # no summary to open first
    assert not page.get_by_text("Filters", exact=True).is_visible()


def test_act_bar_holds_the_next_clock_act_and_the_one_acknowledge(live_server, demo_day, chromium):
    page = chromium.new_page(viewport=PHONE)
    sign_in(page, live_server.url, "lead", DEMO_PASSWORD)
    escalation_url = f"{live_server.url}/escalations/{demo_day['crisis_escalation'].pk}/"
    page.goto(escalation_url)
    bar = page.locator(".act-bar")
    acknowledge = page.get_by_role("button", name="Acknowledge", exact=True)
    for scroll_to in (0, 3000, 6000):
        page.evaluate(f"window.scrollTo(0, {scroll_to})")
        bar_box = bar.bounding_box()
        assert bar_box is not None and bar.is_visible()
        assert abs(bar_box["y"] + bar_box["height"] - PHONE["height"]) < 1  # at the bottom
        # One Acknowledge on the page, the pager's, riding in the bar.
        visible = [button for button in acknowledge.all() if button.is_visible()]
        assert len(visible) == 1
        button_box = visible[0].bounding_box()
        assert button_box is not None
        assert bar_box["y"] <= button_box["y"] and button_box["x"] + button_box["width"] <= 390
    assert "First action" in bar.inner_text() or "Resolve" in bar.inner_text()
    bar.get_by_role("link", name="Act", exact=True).click()
    assert page.locator("#actions-heading").is_visible()
    assert _top_of(page, "#actions-heading") < PHONE["height"]

    # On a desktop the actions sit beside the page: no bar, and the Acknowledge is the pager's.
    page.set_viewport_size(DESKTOP)
    assert not bar.is_visible()
    visible = [button for button in acknowledge.all() if button.is_visible()]
    assert len(visible) == 1
    assert page.locator("#pager").get_by_role("button", name="Acknowledge").is_visible()

    # The Acknowledge in the bar is the pager's own form.
    page.set_viewport_size(PHONE)
    acknowledge.click()
    page.wait_for_load_state()
    assert "Paging acknowledged" in page.locator("#pager").inner_text()
    assert acknowledge.count() == 0

    page.goto(f"{live_server.url}/crises/{demo_day['crisis'].pk}/")
    bar = page.locator(".act-bar")
    assert bar.is_visible() and "Next sitrep" in bar.inner_text()
    assert bar.get_by_role("link", name="Sitrep", exact=True).is_visible()
    bar.get_by_role("link", name="Act", exact=True).click()
    assert _top_of(page, "#actions-heading") < PHONE["height"]
