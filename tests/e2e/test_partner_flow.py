"""An analyst asks Legal, Legal answers, in a real browser: the analyst opens an escalation
whose playbook is running, ticks a checklist item, sends a partner request to Legal; the
Legal partner signs in, finds it in their inbox, answers; the answer is on the
escalation's timeline for both of them."""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.test_browser import PASSWORD

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def analyst_and_legal_partner():
    """Aiko, an analyst in Tokyo, and Grace, a Legal partner in Sydney; returns Aiko."""
    from watchfloor.people.models import Team
    from watchfloor.people.services import create_user

    analyst = create_user(
        username="aiko.analyst",
        password=PASSWORD,
        role="analyst",
        actor=None,
        team=Team.objects.get(code="site_policy"),
        time_zone="Asia/Tokyo",
        first_name="Aiko",
    )
    create_user(
        username="grace.legal",
        password=PASSWORD,
        role="partner",
        actor=None,
        team=Team.objects.get(code="legal"),
        time_zone="Australia/Sydney",
        first_name="Grace",
    )
    return analyst


@pytest.fixture
def regulator_notice(transactional_db):
    """A regulator notice in Singapore, filed by the analyst; its playbook starts by itself."""
    from watchfloor.catalog.services import load_catalog
    from watchfloor.escalations.filing import create_escalation
    from watchfloor.escalations.inputs import EscalationInput
    from watchfloor.playbooks.library import load_playbooks
    from watchfloor.playbooks.models import PlaybookRun

    load_catalog(actor=None)
    load_playbooks(actor=None)
    analyst = analyst_and_legal_partner()
    escalation = create_escalation(
        actor=analyst,
        details=EscalationInput(
            type_code="regulator_notice",
            title="IMDA direction: posts doxxing a Singapore teacher",
            summary="Direction to disable access to 14 posts and 2 accounts.",
            markets=["SG"],
            languages=["en"],
            source_kind="regulator",
            rubric_answers={"harm": "moderate", "legal_exposure": "statutory_notice"},
        ),
    )
    assert PlaybookRun.objects.filter(escalation=escalation, status="active").exists()
    return escalation


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector(".whoami")


def watch_for_problems(page, problems: list[str]) -> None:
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))


def test_an_analyst_asks_legal_and_legal_answers(live_server, chromium, regulator_notice, tmp_path):
    escalation = regulator_notice
    problems: list[str] = []

    # The analyst opens the escalation: the playbook is running.
    analyst = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watch_for_problems(analyst, problems)
    sign_in(analyst, live_server.url, "aiko.analyst")
    analyst.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    run = analyst.inner_text(".playbooks .run")
    assert "Regulator notice — meet the statutory clock" in run and "Active" in run

    # Tick a checklist item of the first step.
    step = analyst.locator(".step", has_text="Log the notice")
    step.locator("summary").first.click()
    step.locator(
        "button[aria-label='Tick: Statutory trigger entered with the time received']"
    ).click()
    analyst.wait_for_selector(".messages >> text=Ticked.")
    assert (
        analyst.locator(
            "button[aria-label='Untick: Statutory trigger entered with the time received']"
        ).count()
        == 1
    )

    # Ask Legal: on the escalation page's panel where it is included, else on its own page.
    if analyst.locator("#partner-requests").count() == 0:
        analyst.goto(f"{live_server.url}/escalations/{escalation.pk}/partner-requests/")
    analyst.click("#partner-requests summary:has-text('Ask a partner')")
    analyst.select_option("#id_ask-kind", "legal_review")
    analyst.select_option("#id_ask-team", "legal")
    analyst.fill("#id_ask-question", "Is the notice valid on its face, and must all 14 posts go?")
    analyst.fill("#id_ask-context", "Posts 7 and 9 look like news reporting about the case.")
    analyst.select_option("#id_ask-due_within", "PT4H")
    analyst.click("button:has-text('Send request')")
    analyst.wait_for_selector(".messages >> text=Legal review asked of Legal")
    panel = analyst.inner_text("#partner-requests")
    assert "Awaiting answer" in panel
    # Four hours from when it was sent; a slow machine may render it a minute later.
    assert re.search(r"in (4 h|3 h 5\d min)", panel), panel
    analyst.screenshot(path=str(tmp_path / "1-asked.png"), full_page=True)

    # Legal signs in and finds it in the inbox.
    partner = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watch_for_problems(partner, problems)
    sign_in(partner, live_server.url, "grace.legal")
    partner.click("nav >> text=Inbox")
    partner.wait_for_selector("h1:has-text('Inbox — Legal')")
    inbox = partner.inner_text("table.inbox")
    assert "Is the notice valid on its face" in inbox and escalation.title in inbox
    assert partner.inner_text("#inbox-count").startswith("1 awaiting")
    partner.screenshot(path=str(tmp_path / "2-inbox.png"), full_page=True)

    # ...opens it and answers.
    partner.click("table.inbox >> text=Is the notice valid on its face")
    partner.wait_for_selector("h1:has-text('Legal review')")
    assert "Posts 7 and 9 look like news reporting" in partner.inner_text(".detail-main")
    partner.check("input[name='answer-outcome'][value='advise']")
    partner.fill("#id_answer-answer", "Valid. Remove 12; posts 7 and 9 are reporting: keep them.")
    partner.fill("#id_answer-attachments", "https://legal.example/memos/4411\nLEGAL-2026-0142")
    partner.click("button:has-text('Send answer')")
    partner.wait_for_selector(".messages >> text=answered: advice given")
    partner.screenshot(path=str(tmp_path / "3-answered.png"), full_page=True)

    # The answer is on the escalation's timeline: for Legal (it is shared with them)...
    partner.click(f"text={escalation.reference} {escalation.title}")
    partner.wait_for_selector(f"h1:has-text('{escalation.title}')")
    assert "Legal answered Legal review" in partner.inner_text(".timeline")

    # ...and for the analyst.
    analyst.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    timeline = analyst.inner_text(".timeline")
    for expected in (
        "Checklist item ticked",
        "Legal review (PR-",
        "asked of Legal",
        "Legal answered Legal review",
        "advice given",
        "Valid. Remove 12; posts 7 and 9 are reporting: keep them.",
        "Attachments: https://legal.example/memos/4411, LEGAL-2026-0142",
    ):
        assert expected in timeline, expected
    analyst.screenshot(path=str(tmp_path / "4-timeline.png"), full_page=True)
    print(f"screenshots: {tmp_path}")
    assert problems == [], problems
