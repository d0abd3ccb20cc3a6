"""Browser tests run against pytest-django's live server."""

from __future__ import annotations

from collections.abc import Iterator

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
