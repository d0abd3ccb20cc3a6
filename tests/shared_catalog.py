"""The default catalog, loaded once into a test database and shared by the tests.

Loading the catalog (reading and validating the YAML, upserting a few hundred rows,
recording the audit event) used to happen for every test that asked for it, and was
most of the suite's run time. Now the test session loads it once and commits it; each
test runs in a transaction that is rolled back, so every test that asks for the
catalog starts from the same rows the load made. Two kinds of test need more:

- A test that uses the database but not the catalog expects a database without one
  (a catalog test loads its own; a chain test counts from the first event). For it,
  :func:`remove` takes the shared catalog out again: inside the test's transaction,
  so the rollback brings it back.
- A transactional test commits, and the flush at its end empties every table. The
  catalog is then loaded again before the next test (see ``tests/conftest.py``).

The load runs with the clock stopped at the suite's default "now" (``DEFAULT_NOW``), the
time a test that freezes the clock used to see on the version and its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import connection, transaction

from watchfloor.audit.models import AuditChainHead
from watchfloor.core import clock


@dataclass(frozen=True)
class SharedCatalog:
    """What one load of the default catalog put into the test database."""

    version_pk: int
    # Tables that were empty before the load and hold its rows now.
    tables: tuple[str, ...]
    # The audit chain head before the load: (last_sequence, last_hash).
    head_before: tuple[int, str]
    # SQLite only: the AUTOINCREMENT counters of those tables before the load, so a test
    # without the catalog numbers its rows as it would have in a database never loaded.
    sqlite_sequences_before: dict[str, int]


def _tables_with_rows() -> dict[str, int]:
    counts = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        table = model._meta.db_table
        if table not in counts:
            counts[table] = model._base_manager.count()
    return counts


def _head() -> tuple[int, str]:
    head = AuditChainHead.objects.get(pk=1)
    return (head.last_sequence, head.last_hash)


def _sqlite_sequences() -> dict[str, int]:
    if connection.vendor != "sqlite":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, seq FROM sqlite_sequence")
        return dict(cursor.fetchall())


def load(*, at: datetime) -> SharedCatalog:
    """Load the default catalog, committed, with the clock stopped at ``at``.

    The rows the migrations make (the audit chain head) are made first if missing: a
    transactional test's flush empties them too, and every test should find the
    database its migrations made, whatever ran before it.
    """
    from watchfloor.catalog.services import load_catalog

    AuditChainHead.objects.get_or_create(pk=1)
    before = _tables_with_rows()
    head_before = _head()
    sequences_before = _sqlite_sequences()
    with clock.frozen_at(at):
        version = load_catalog(actor=None)
    after = _tables_with_rows()
    filled = tuple(
        sorted(table for table, count in after.items() if count and not before.get(table))
    )
    changed_with_rows_before = sorted(
        table
        for table, count in after.items()
        if before.get(table) and count != before[table] and table != AuditChainHead._meta.db_table
    )
    if changed_with_rows_before:
        # The load is only removable if it added rows to empty tables.
        raise RuntimeError(
            f"the shared catalog was loaded into tables that already had rows: "
            f"{changed_with_rows_before}"
        )
    sequences_after = _sqlite_sequences()
    return SharedCatalog(
        version_pk=version.pk,
        tables=filled,
        head_before=head_before,
        # A table without a counter before the load numbers from 1, as with 0.
        sqlite_sequences_before={
            table: sequences_before.get(table, 0) for table in filled if table in sequences_after
        },
    )


def remove(shared: SharedCatalog) -> None:
    """Delete every row the load made and put the audit chain head back.

    The tables were empty before the load and a test has not written yet, so emptying
    them removes exactly the catalog. Foreign keys are checked at the end of the
    transaction (Django creates them deferrable), so the order of the deletes is free.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        quote = connection.ops.quote_name
        for table in shared.tables:
            cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - model table names
        if shared.head_before is None:
            AuditChainHead.objects.filter(pk=1).delete()
        else:
            sequence, last_hash = shared.head_before
            AuditChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=last_hash)
        for table, seq in shared.sqlite_sequences_before.items():
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [seq, table])
