"""A migrated test database, made once and copied for every test session and worker.

Migrating an empty database runs some 120 migrations and took 12-18 s on two cores, most
of it Django rendering the model state between operations. Every pytest worker of every
run paid it before a single test. Now the first session to need a database of a given
migration history migrates it as before and keeps a copy (a template: a file for
SQLite, a database for PostgreSQL); every later worker or run copies the template
instead, which takes well under a second.

The template is named by a digest of what decides the schema: every migration file on
disk, the project modules those migrations import, Django's version and the database
engine. Change a migration and the digest changes, so a new template is made; nothing
stale is ever reused. A lock file serialises the first migration and the copies, so two
workers starting together migrate once.

``--reuse-db`` keeps its own meaning (a database kept between runs) and bypasses all this.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any

import django
from django.db import connection
from django.db.migrations.loader import MigrationLoader

CACHE = Path(tempfile.gettempdir()) / "watchfloor-test-databases"
PROJECT_IMPORT = re.compile(r"^\s*(?:from|import)\s+(watchfloor(?:\.\w+)*)", re.MULTILINE)


def schema_digest(vendor: str | None = None) -> str:
    """A digest of everything that decides the schema a migrated database has."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(f"{django.get_version()} {vendor or connection.vendor}".encode())
    files: set[Path] = set()
    for migration in loader.disk_migrations.values():
        path = Path(sys.modules[type(migration).__module__].__file__ or "")
        files.add(path)
        for module in PROJECT_IMPORT.findall(path.read_text(encoding="utf-8")):
            spec = find_spec(module)
            if spec is not None and spec.origin:
                files.add(Path(spec.origin))
    for path in sorted(files):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Template:
    """The template for this schema, and the lock held while it is made or copied."""

    digest: str
    lock: IO[str]

    @property
    def sqlite_path(self) -> Path:
        return CACHE / f"sqlite-{self.digest}.sqlite3"

    @property
    def postgres_name(self) -> str:
        return f"watchfloor_test_template_{self.digest}"

    def exists(self) -> bool:
        if connection.vendor == "sqlite":
            return self.sqlite_path.exists()
        with _postgres_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.postgres_name])
            return cursor.fetchone() is not None

    def copy_to(self, test_name: str) -> None:
        """Make the test database ``test_name`` a fresh copy of the template."""
        if connection.vendor == "sqlite":
            _remove_sqlite(Path(test_name))
            _sqlite_backup(self.sqlite_path, Path(test_name))
            return
        with _postgres_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{test_name}"')
            cursor.execute(f'CREATE DATABASE "{test_name}" TEMPLATE "{self.postgres_name}"')

    def save_from(self, test_name: str) -> None:
        """Keep the just-migrated test database ``test_name`` as the template."""
        connection.close()  # PostgreSQL copies only a database nobody is connected to
        if connection.vendor == "sqlite":
            self.keep_sqlite(Path(test_name))
            return
        with _postgres_cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{self.postgres_name}" TEMPLATE "{test_name}"')

    def keep_sqlite(self, source: Path) -> None:
        """Copy ``source`` into place as the SQLite template, whole or not at all."""
        partial = self.sqlite_path.with_suffix(".partial")
        _remove_sqlite(partial)
        _sqlite_backup(source, partial)
        os.replace(partial, self.sqlite_path)

    def release(self) -> None:
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()


def locked_template() -> Template:
    """The template for this schema, with its lock taken (wait for another worker)."""
    return _locked(connection.vendor)


def _locked(vendor: str) -> Template:
    CACHE.mkdir(parents=True, exist_ok=True)
    digest = schema_digest(vendor)
    lock = (CACHE / f"{vendor}-{digest}.lock").open("w", encoding="utf-8")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return Template(digest=digest, lock=lock)


def copy_migrated_sqlite(data_dir: Path, environment: dict[str, str]) -> None:
    """Give ``data_dir`` a migrated SQLite database, as ``watchfloor migrate`` would, for
    tests that run commands in a subprocess on a database they do not test migrating.

    The SQLite template serves whatever backend the session tests; when it is missing it
    is made by ``watchfloor migrate`` itself, in ``environment`` (the test's own).
    """
    template = _locked("sqlite")
    try:
        if not template.sqlite_path.exists():
            with tempfile.TemporaryDirectory() as scratch:
                subprocess.run(
                    [sys.executable, "-m", "watchfloor.cli", "migrate", "-v", "0"],
                    env={**environment, "WATCHFLOOR_DATA_DIR": scratch},
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
                template.keep_sqlite(Path(scratch) / "watchfloor.sqlite3")
        _sqlite_backup(template.sqlite_path, data_dir / "watchfloor.sqlite3")
    finally:
        template.release()


def test_database_name() -> str:
    """The name Django gives this connection's test database (workers add a suffix)."""
    settings = connection.settings_dict
    return settings["TEST"].get("NAME") or "test_" + settings["NAME"]


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _sqlite_backup(source: Path, target: Path) -> None:
    # The backup API copies a consistent database, WAL contents included.
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    reading.close()
    writing.close()


@contextmanager
def _postgres_cursor() -> Iterator[Any]:
    """An autocommit cursor on the server's maintenance database (CREATE DATABASE
    cannot run in a transaction, nor while connected to the database it copies)."""
    import psycopg

    params = connection.get_connection_params()
    wanted = {key: params[key] for key in ("user", "password", "host", "port") if key in params}
    with psycopg.connect(dbname="postgres", autocommit=True, **wanted) as maintenance:
        yield maintenance.cursor()
