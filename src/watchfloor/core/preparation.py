"""Preparing a database for use: migrate, then let each app make sure its own reference
data is there (the catalog, the playbook library).

Apps register a preparer in their ``AppConfig.ready()``; any command that needs a usable
database (serve, demo, drills, ingest) calls :func:`prepare_database`, so none of them
has to know which apps keep reference data. Commands that work on data
(``watchfloor ingest``, ``clusters``, ``rotas load`` …) mix in :class:`PreparesDatabase`:
on a fresh data directory they prepare it as ``serve`` does, and when the database
cannot be used at all they stop at once with one line saying what to do, never with a
raw ``OperationalError``.

Preparation holds a lock for the whole database while it runs (see
:func:`preparation_lock`): two commands started together on a fresh or half-loaded
database (two ingest workers, a server and a worker) would otherwise both find the
playbook library missing and both load it, and the second would fail on a unique
constraint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.apps import apps
from django.conf import settings
from django.core.files import locks
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper


class Output(Protocol):
    def write(self, msg: str, /) -> object: ...


# A preparer returns a line to show when it did something, or None when all was there.
Preparer = Callable[[], "str | None"]

_preparers: list[tuple[str, Preparer]] = []


def register_preparer(name: str, preparer: Preparer) -> None:
    """Add (or replace, by name) a step run after migrating; order of registration is
    the order of running, which follows INSTALLED_APPS."""
    for index, (existing, _) in enumerate(_preparers):
        if existing == name:
            _preparers[index] = (name, preparer)
            return
    _preparers.append((name, preparer))


@contextmanager
def preparation_lock(database: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Hold the lock that serialises preparing this database across processes.

    PostgreSQL: a session advisory lock keyed on the database's name, so preparing one
    database never waits for another on the same server. SQLite: an exclusive file
    lock beside the database file, taken *before* connecting (an in-memory database
    belongs to one process and needs none). A database that cannot be used says so as
    a ``DatabaseError`` before any lock is taken.

    Why SQLite connects only under the lock: every connection starts with ``PRAGMA
    journal_mode=WAL``, and on a new database file that pragma writes the file's header.
    Two processes doing it at once upgrade a read to a write at the same moment, and
    SQLite fails one of them at once with "database is locked", whatever the busy
    timeout (two workers started together on a new data directory did, now and then).
    """
    database = database if database is not None else connection
    name = str(database.settings_dict.get("NAME") or "")
    if (
        database.vendor == "sqlite"
        and name
        and not cast("SQLiteDatabaseWrapper", database).is_in_memory_db()
    ):
        with _sqlite_file_lock(database, Path(name)):
            database.ensure_connection()
            yield
        return
    database.ensure_connection()
    if database.vendor != "postgresql":
        yield
        return
    key = _advisory_key(name)
    with database.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with database.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _sqlite_file_lock(database: BaseDatabaseWrapper, path: Path) -> Iterator[None]:
    if not path.parent.is_dir():
        # Nowhere to put the lock: connecting says why in the database's own words (a
        # DatabaseError), which is what callers report.
        database.ensure_connection()
    with open(path.with_name(path.name + ".prepare-lock"), "a") as handle:
        locks.lock(handle, locks.LOCK_EX)
        try:
            yield
        finally:
            locks.unlock(handle)


def _advisory_key(database_name: str) -> int:
    """A signed 64-bit key, the same in every process, for this database's lock."""
    digest = hashlib.blake2b(f"watchfloor.prepare:{database_name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def prepare_database(*, stdout: Output | None = None) -> None:
    """Migrate and run every registered preparer. Safe to run on every start, and
    from several processes at once."""
    with preparation_lock():
        call_command("migrate", interactive=False, verbosity=0)
        _run_preparers(stdout=stdout)


def _run_preparers(*, stdout: Output | None, skip: tuple[str, ...] = ()) -> None:
    """Every registered preparer not named in ``skip``, in order; what each did is said
    on ``stdout``. Call while holding :func:`preparation_lock`."""
    for name, preparer in _preparers:
        said = None if name in skip else preparer()
        if said and stdout is not None:
            stdout.write(said)


def database_needs_migrating() -> bool:
    """True when migrations are waiting: a new database (every one is), or an upgrade.

    Nearly every call finds none, which the names of the migration files and the table of
    applied migrations tell without importing every migration; Django's full plan (about
    0.1 s of a ten-signal ``ingest``) is worked out only when a file is not recorded."""
    if every_migration_file_applied():
        return False
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def every_migration_file_applied() -> bool:
    """True when every installed app's migration files are recorded as applied. False
    says "ask Django": a new database, a new migration, or a squashed one."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return False
    applied = set(recorder.applied_migrations())
    for app_config in apps.get_app_configs():
        module_name, _ = MigrationLoader.migrations_module(app_config.label)
        spec = importlib.util.find_spec(module_name) if module_name else None
        if spec is None or not spec.submodule_search_locations:
            continue  # an app without migrations
        for module in pkgutil.iter_modules(spec.submodule_search_locations):
            # The files Django's loader reads as migrations (django.db.migrations.loader).
            if module.ispkg or module.name[0] in "_~":
                continue
            if (app_config.label, module.name) not in applied:
                return False
    return True


def describe_database() -> str:
    database = settings.DATABASES["default"]
    name = str(database.get("NAME") or "")
    host = database.get("HOST")
    return f"{name} on {host}" if host else name


def ensure_database_ready(
    *, stdout: Output, reference_data: bool = True, skip: tuple[str, ...] = ()
) -> None:
    """Make the database usable for a command that works on data.

    A new or older database is migrated (saying so, on ``stdout``); then, with
    ``reference_data``, the preparers not named in ``skip`` make sure the catalog and the
    playbook library are there (one cheap query each when they are). Raises
    ``DatabaseError`` when the database cannot be reached or prepared.
    """
    with preparation_lock():
        if database_needs_migrating():
            stdout.write(f"Preparing the database ({describe_database()}): applying migrations")
            call_command("migrate", interactive=False, verbosity=0)
        if reference_data:
            _run_preparers(stdout=stdout, skip=skip)


def database_problem(error: DatabaseError) -> str:
    """One line for a database that cannot be used, with what to do about it."""
    detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"the database ({describe_database()}) cannot be used: {detail}. Check DATABASE_URL "
        "or WATCHFLOOR_DATA_DIR and that the server is running, then run the command again "
        "(`watchfloor migrate` prepares a database by hand)"
    )


if TYPE_CHECKING:
    _Command = BaseCommand
else:
    _Command = object


class PreparesDatabase(_Command):
    """Mixed into a management command that works on data: before ``handle``, the
    database is prepared as ``serve`` prepares it (see :func:`ensure_database_ready`).

    ``needs_database`` says whether this call needs it (a ``validate`` subcommand may
    not); ``prepares_reference_data`` False migrates only (``config load`` brings its
    own catalog); ``skipped_preparers`` names preparers a command does the work of
    (``playbooks load`` brings its own library).
    """

    prepares_reference_data = True
    skipped_preparers: tuple[str, ...] = ()
    stderr: OutputWrapper

    def needs_database(self, options: dict[str, Any]) -> bool:
        return True

    def execute(self, *args: Any, **options: Any) -> Any:
        if self.needs_database(options):
            err = OutputWrapper(options["stderr"]) if options.get("stderr") else self.stderr
            try:
                ensure_database_ready(
                    stdout=err,
                    reference_data=self.prepares_reference_data,
                    skip=self.skipped_preparers,
                )
            except DatabaseError as error:
                raise CommandError(database_problem(error)) from None
        return super().execute(*args, **options)
