"""Django's SQLite backend, waiting for the write lock in short steps.

SQLite has one writer. Every Watchfloor transaction starts with ``BEGIN IMMEDIATE``
(settings.py, docs/decisions/0001), so a second writer waits at ``BEGIN``, and SQLite's
own busy handler does the waiting: it sleeps 1, 2, 5, 10, … ms and, after the first
third of a second, 100 ms between tries. A process that commits and begins again within
a millisecond (the intake storing batch after batch; the worker filing one rule firing
after another) then holds the lock nearly all the time, and the other rarely tries in
the gap: beside a 100,000-signal intake, the worker waited 5.8 s in all at ``BEGIN``
(one wait 2.4 s) and the intake 5.3 s of its 16.6 s, and a web request's write waited
up to 1.0–2.4 s (docs/performance.md, "The write lock, taken in turn").

Here ``BEGIN IMMEDIATE`` is tried without SQLite's wait and, while the lock is held
elsewhere, tried again every ``LOCK_POLL`` seconds up to the configured ``timeout``, so
a waiter takes the lock within about a millisecond of its release. The busy timeout
stays as configured for every other statement.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# How often a waiting writer tries again. Each try and wake-up costs about 50 µs, so a
# writer waiting here uses about a tenth of a core for as long as it waits (measured: 0.21
# s of CPU over a 2 s wait); a waiter that tried only every few milliseconds would miss
# the gaps between the worker's back-to-back rule firings.
LOCK_POLL = 0.0005
DEFAULT_TIMEOUT = 5.0  # Python's sqlite3 default, when the settings give none


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        self._busy_timeout_ms = round(1000 * conn_params.get("timeout", DEFAULT_TIMEOUT))
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        # Neither the attribute (Django 5.1's transaction_mode option) nor the method is in
        # django-stubs' SQLite wrapper.
        mode = getattr(self, "transaction_mode", None)
        if mode not in ("IMMEDIATE", "EXCLUSIVE"):
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        raw = self.connection
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.cursor().execute(f"BEGIN {mode}")
                    return
                except OperationalError as error:
                    if not _is_locked(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(LOCK_POLL)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")


def _is_locked(error: OperationalError) -> bool:
    # SQLITE_BUSY's message, whichever other writer holds the lock.
    return "database is locked" in str(error)
