"""The embedded SQLite backend's wait for the write lock (``watchfloor.core.sqlite``).

Each test opens its own connections to a fresh file, as two processes would: one holds
the write lock, the other begins a transaction. How soon the waiter gets the lock is a
matter of time and is measured by ``bench/intake.py`` (the intake and the worker side by
side), not asserted here; these tests pin what must hold whatever the timing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction

from watchfloor.core.sqlite import base


def _connection(path: Path, *, alias: str, **options: object) -> base.DatabaseWrapper:
    database = base.DatabaseWrapper(
        {
            **settings.DATABASES["default"],
            "ENGINE": settings.SQLITE_ENGINE,
            "NAME": str(path),
            "OPTIONS": {**settings.SQLITE_OPTIONS, **options},
            "CONN_MAX_AGE": 0,
        },
        alias=alias,
    )
    # Connections made here are used from the test's own threads, one at a time, and
    # found by their alias in each (``transaction.atomic(using=...)``).
    database.inc_thread_sharing()
    connections[alias] = database
    return database


def _forget(database: base.DatabaseWrapper) -> None:
    database.close()
    database.dec_thread_sharing()
    del connections[database.alias]


@pytest.fixture(autouse=True)
def _own_files(django_db_blocker):
    """These tests open files of their own, not the test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    path = tmp_path / "lock.sqlite3"
    first = _connection(path, alias="setup")
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, who TEXT)")
    _forget(first)
    return path


def _busy_timeout(database: base.DatabaseWrapper) -> int:
    with database.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return int(cursor.fetchone()[0])


def test_the_settings_use_this_backend():
    assert settings.DATABASES["default"]["ENGINE"] in (
        settings.SQLITE_ENGINE,
        "django.db.backends.postgresql",
    )


def test_a_writer_waits_for_the_lock_and_gets_it_once_released(database_file, monkeypatch):
    holder = _connection(database_file, alias="holder")
    waiter = _connection(database_file, alias="waiter")
    waiting = threading.Event()
    real_sleep = base.time.sleep

    def noting_sleep(seconds: float) -> None:
        waiting.set()  # the waiter found the lock held and is trying again
        real_sleep(seconds)

    monkeypatch.setattr(base.time, "sleep", noting_sleep)
    outcome: list[object] = []
    try:
        with transaction.atomic(using="holder"):
            holder.cursor().execute("INSERT INTO item (who) VALUES ('holder')")
            thread = threading.Thread(target=_in_transaction, args=(waiter, outcome))
            thread.start()
            assert waiting.wait(timeout=30), "the waiter never found the lock held"
        thread.join(timeout=30)
        assert outcome == ["committed"]
        with waiter.cursor() as cursor:
            cursor.execute("SELECT who FROM item ORDER BY id")
            assert [row[0] for row in cursor.fetchall()] == ["holder", "waiter"]
        assert _busy_timeout(waiter) == 10_000
    finally:
        _forget(holder)
        _forget(waiter)


def _in_transaction(database: base.DatabaseWrapper, outcome: list[object]) -> None:
    connections[database.alias] = database  # this thread's own handle on it
    try:
        with transaction.atomic(using=database.alias):
            database.cursor().execute("INSERT INTO item (who) VALUES ('waiter')")
        outcome.append("committed")
    except Exception as error:  # reported by the test, not lost in the thread
        outcome.append(error)
    finally:
        del connections[database.alias]


def test_a_writer_gives_up_after_the_timeout_and_says_the_database_is_locked(database_file):
    holder = _connection(database_file, alias="holder")
    waiter = _connection(database_file, alias="waiter", timeout=0.05)
    try:
        with transaction.atomic(using="holder"):
            holder.cursor().execute("INSERT INTO item (who) VALUES ('holder')")
            with (
                pytest.raises(OperationalError, match="database is locked"),
                transaction.atomic(using="waiter"),
            ):
                pass
        # The connection is usable afterwards, with its busy timeout as configured.
        assert _busy_timeout(waiter) == 50
        with transaction.atomic(using="waiter"):
            waiter.cursor().execute("INSERT INTO item (who) VALUES ('waiter')")
        with waiter.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM item")
            assert cursor.fetchone()[0] == 2
    finally:
        _forget(holder)
        _forget(waiter)


def test_other_errors_at_begin_are_raised_at_once(database_file, monkeypatch):
    waiter = _connection(database_file, alias="waiter")
    tries: list[float] = []
    monkeypatch.setattr(base.time, "sleep", tries.append)
    waiter.ensure_connection()
    waiter.connection.execute("BEGIN")  # behind Django's back: BEGIN IMMEDIATE then fails
    try:
        with (
            pytest.raises(OperationalError, match="within a transaction"),
            transaction.atomic(using="waiter"),
        ):
            pass
        assert tries == []
        waiter.connection.execute("ROLLBACK")
        assert _busy_timeout(waiter) == 10_000
    finally:
        _forget(waiter)


def test_deferred_transactions_are_left_to_django(database_file):
    database = _connection(database_file, alias="deferred", transaction_mode=None)
    try:
        with transaction.atomic(using="deferred"):
            database.cursor().execute("INSERT INTO item (who) VALUES ('deferred')")
        with database.cursor() as cursor:
            cursor.execute("SELECT who FROM item")
            assert cursor.fetchone()[0] == "deferred"
    finally:
        _forget(database)
