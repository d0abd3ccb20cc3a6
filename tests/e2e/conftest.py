"""Browser tests run against pytest-django's live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


@pytest.fixture(scope="session", autouse=True)
def _live_server_sessions_closed(django_db_setup, django_db_blocker) -> Iterator[None]:
    """On PostgreSQL the live server's request threads keep their database sessions
    between keep-alive requests (``CONN_MAX_AGE``), and a thread still serving the
    browser's last request when the run ends closes its session only after the test
    database is to be dropped, which then fails ("being accessed by other users").
    Before that, the sessions the run left are ended."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def chromium() -> Iterator[Any]:
    """The system Chromium under Playwright, for one test; skipped where either is missing.

    Launched and closed per test, not once per test process: Playwright's synchronous API
    keeps its event loop marked as running in the main thread while it is started, and
    while it is, Django keeps that thread's database connections in a second store (the
    asyncio one). A connection left open in the first one was inherited, still open, by
    the processes ``watchfloor ingest`` forks later in the same test process, and a
    helper's closing of it ended the session the test process was using (the PostgreSQL
    suite's ingest tests, after a browser test on the same worker)."""
    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}; it is not installed")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests need the playwright package"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Any:
    """A fresh page of a desktop's size."""
    return chromium.new_page(viewport={"width": 1400, "height": 1000})


@pytest.fixture
def demo_day(live_server, catalog) -> dict[str, Any]:
    """The demo's accounts and its APAC day (escalations, a crisis, partner requests), as
    ``watchfloor demo`` makes them, behind the live server."""
    from watchfloor.bootstrap.demo import ensure_demo_accounts, load_demo_scenario
    from watchfloor.crises.models import Crisis
    from watchfloor.crises.watchlists import forget_matcher

    # The compiled watchlist matcher is cached per process, keyed on the highest entry id:
    # after an earlier test's flush the ids start again, and a matcher left from that test
    # would record the demo's hits against its long-gone crisis.
    forget_matcher()
    ensure_demo_accounts()
    load_demo_scenario()
    crisis = Crisis.objects.get()
    return {"crisis": crisis, "crisis_escalation": crisis.declared_from}


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login/" not in url)
