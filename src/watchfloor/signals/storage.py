"""The intake's transaction settings, and its hot-path statements written without the
ORM's query compiler.

A batch of 2,000 signals writes about 60,000 values. ``bulk_create`` prepares each
value through the compiler (``pre_save``, ``get_db_prep_save``, a placeholder and an
expression check per value): measured at 200 µs per signal for the signal rows alone,
and ``bulk_update`` at 3 s for the 600 clusters of one batch (it builds a CASE WHEN
branch per cluster per field), against a budget of 200 µs per signal for the whole
intake. These helpers build the same multi-row SQL directly and adapt only the values
that need it (times, JSON, bytes) the way the database backend would, so what is
stored is what the ORM would store. They run on SQLite and PostgreSQL alike.

* ``insert_returning``: a multi-row ``INSERT … RETURNING …`` (``VALUES (…), (…)`` on
  SQLite; on PostgreSQL ``COPY`` into a staging table, then ``INSERT … SELECT``); with
  ``ignore_conflicts`` only the rows actually inserted come back (the exact number of
  new reporters, without reading first).
* ``add_to_counts``: ``INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n``:
  counters (buckets, relations) grow in one statement, with no read before the write.
* ``update_by_id``: many rows set by id (SQLite steps one prepared ``UPDATE … WHERE
  id = ?`` for each row; PostgreSQL runs one ``UPDATE … FROM`` the staged rows).
* ``select_in``: the rows whose column is one of many plain values (``IN (…)`` on
  SQLite, ``IN`` the staged values on PostgreSQL), without the ORM's preparation of
  every value.
* ``take_writer_lock``: serialises intake writers across processes.
* ``DurableCommit``: on SQLite, makes the batch's commit durable against power loss.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, models
from django.db.backends.utils import CursorDebugWrapper

__all__ = [
    "DurableCommit",
    "add_to_counts",
    "insert_returning",
    "select_in",
    "take_writer_lock",
    "update_by_id",
]

# The SQLite page cache of a connection that stores batches (64 MiB; the default is 2).
INTAKE_PAGE_CACHE_KIB = 65_536


def _sqlite_parameter_limit() -> int:
    connection.ensure_connection()
    return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _field(model: type[models.Model], name: str) -> models.Field:
    """The field ``name`` of ``model``, one with a column (the statements here read and
    write columns, never reverse relations)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return field


def _column(model: type[models.Model], name: str) -> str:
    """The quoted column of the field ``name``."""
    return connection.ops.quote_name(_column_name(_field(model, name)))


def _column_name(field: models.Field) -> str:
    if field.column is None:  # pragma: no cover - every concrete field has one
        raise TypeError(f"{field.name} has no column")
    return field.column


def _columns(
    model: type[models.Model], names: Sequence[str]
) -> tuple[list[models.Field], list[str], list[Callable[[Any], Any] | None]]:
    """The fields, their quoted column names, and for each the adapter its values need
    (None: as they are)."""
    quote = connection.ops.quote_name
    fields = [_field(model, name) for name in names]
    return fields, [quote(_column_name(field)) for field in fields], [_adapter(f) for f in fields]


def _adapter(field: models.Field) -> Callable[[Any], Any] | None:
    """How a value of ``field`` is handed to the driver (None: as it is; both drivers
    take bytes for a blob / bytea)."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        return _json_adapter(cast(models.JSONField, field))
    if kind == "DateTimeField":
        return _datetime_adapter(field)
    return None


def _json_adapter(field: models.JSONField) -> Callable[[Any], Any]:
    """JSON as text: SQLite stores it so (as ``connection.ops.adapt_json_value``), and
    PostgreSQL reads it from a staging table's text column, cast to jsonb where used."""
    encoder = field.encoder
    if connection.vendor == "sqlite":
        # Most signals carry no attributes: "{}" without a trip through the encoder.
        return lambda value: "{}" if value == {} else json.dumps(value, cls=encoder)
    return lambda value: None if value is None else json.dumps(value, cls=encoder)


def _datetime_adapter(field: models.Field) -> Callable[[Any], Any]:
    """Aware datetimes as the backend adapts them (a fifth of the ORM's cost):
    PostgreSQL takes them as they are; SQLite stores the naive time in the connection's
    zone as text."""
    if connection.vendor == "postgresql":
        return lambda value: value
    zone = connection.timezone
    assert zone is not None, "USE_TZ is on: the connection has a zone"
    in_utc = zone.utcoffset(None) == timedelta(0)
    # The rows of one statement share many times (the batch's ingestion time, the start
    # of a bucket): each distinct one is converted once.
    converted: dict[datetime, str] = {}

    def adapt(value: Any) -> Any:
        if value is None:
            return None
        text = converted.get(value)
        if text is not None:
            return text
        offset = value.utcoffset()
        if offset is None:  # the ORM would warn and assume the current zone
            return field.get_db_prep_save(value, connection)
        if in_utc and not offset:
            text = value.isoformat(" ")[:-6]  # "…+00:00" cut: as str() of the naive time
        else:
            text = str(value.astimezone(zone).replace(tzinfo=None))
        converted[value] = text
        return text

    return adapt


def _adapted(
    rows: Iterable[Sequence[Any]], adapters: list[Callable[[Any], Any] | None]
) -> list[list[Any]]:
    converting = [(index, adapter) for index, adapter in enumerate(adapters) if adapter]
    adapted = []
    for row in rows:
        values = list(row)
        for index, adapter in converting:
            values[index] = adapter(values[index])
        adapted.append(values)
    return adapted


def _multi_row(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tail: str,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` then ``tail`` (ON CONFLICT, RETURNING); the rows RETURNING gives.

    PostgreSQL gets the rows by ``COPY`` into a staging table, then ``INSERT … SELECT``
    from it (``_stage``). SQLite gets ``VALUES (…), (…)`` in as few statements as its
    parameter limit allows.
    """
    if not rows:
        return []
    postgresql = connection.vendor == "postgresql"
    fields, columns, adapters = _columns(model, names)
    table = connection.ops.quote_name(model._meta.db_table)
    values = _adapted(rows, adapters)
    returning = "RETURNING" in tail
    results: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        # Table, columns and types come from the model; every value is a parameter.
        if postgresql:
            staged = _stage(cursor, fields, values)
            selected = ", ".join(_staged_value(field, index) for index, field in enumerate(fields))
            sql = (
                f"{staged} INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                f"SELECT {selected} FROM staged {tail}"
            )
            cursor.execute(sql)
            if returning:
                results.extend(tuple(row) for row in cursor.fetchall())
            return results
        placeholders = "(" + ", ".join(["?"] * len(columns)) + ")"
        per_statement = max(1, _sqlite_parameter_limit() // len(columns))
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                f"VALUES {', '.join([placeholders] * len(chunk))} {tail}"
            )
            _execute_sqlite(cursor, sql, [value for row in chunk for value in row])
            if returning:
                results.extend(tuple(row) for row in cursor.fetchall())
    return results


def _stage(cursor: Any, fields: Sequence[models.Field], rows: Sequence[Sequence[Any]]) -> str:
    """Copy ``rows`` (adapted values of ``fields``) into a staging table of this
    PostgreSQL session; returns ``WITH staged AS (…)``, the common table expression that
    empties the staging table and gives its rows (columns ``c0``, ``c1``, …) to the
    statement that follows it.

    ``COPY`` is PostgreSQL's bulk path: psycopg formats each row in C, where the arrays
    of an ``unnest(%s, …)`` statement were quoted value by value in Python (measured at
    5 µs a value, 43% of a batch's store). The staging table is a temporary table, one
    per column layout, created when first needed (its creation rolls back with a failed
    transaction); the statement that reads its rows deletes them, and rows copied in a
    transaction that fails go with it.
    """
    layout = ", ".join(f"c{index} {_staged_type(field)}" for index, field in enumerate(fields))
    table = "watchfloor_stage_" + hashlib.sha256(layout.encode()).hexdigest()[:16]
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({layout})")
    names = ", ".join(f"c{index}" for index in range(len(fields)))
    copy_sql = f"COPY {table} ({names}) FROM STDIN"
    logged = (
        cursor.debug_sql(copy_sql, None)
        if isinstance(cursor, CursorDebugWrapper)
        else nullcontext()
    )
    with logged, connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)
    # The table's name and columns are made here, from the model's fields.
    return f"WITH staged AS (DELETE FROM {table} RETURNING {names})"  # noqa: S608


def _staged_type(field: models.Field) -> str:
    # JSON travels as text (the adapters give text) and is cast where it is used.
    if field.get_internal_type() == "JSONField":
        return "text"
    db_type = field.db_type(connection)
    if db_type is None:  # pragma: no cover - only relations without a column have none
        raise TypeError(f"{field.name} has no column type")
    return db_type


def _staged_value(field: models.Field, index: int) -> str:
    return (
        f"staged.c{index}::jsonb"
        if field.get_internal_type() == "JSONField"
        else f"staged.c{index}"
    )


def _execute_sqlite(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql``, written with SQLite's own ``?`` placeholders, on the driver's cursor.

    Django's SQLite cursor rewrites every ``%s`` of a statement into ``?`` with a
    regular expression: over a 30,000-placeholder multi-row INSERT that rewrite cost as
    much as a fifth of the insert itself. Errors are still raised as Django's.
    """
    # Where Django logs queries (DEBUG, tests counting them), this one is logged too.
    logged = (
        cursor.debug_sql(sql.replace("?", "%s"), params)
        if isinstance(cursor, CursorDebugWrapper)
        else nullcontext()
    )
    with logged, connection.wrap_database_errors:
        sqlite3.Cursor.execute(cursor.cursor, sql, params)


def insert_returning(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str],
    ignore_conflicts: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (values in the order of ``names``, field names) and return the
    ``returning`` columns of the rows inserted, in no particular order."""
    returned = ", ".join(_column(model, name) for name in returning)
    conflict = "ON CONFLICT DO NOTHING " if ignore_conflicts else ""
    return _multi_row(model, names, rows, f"{conflict}RETURNING {returned}")


def add_to_counts(
    model: type[models.Model],
    key: Sequence[str],
    count: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """Add to counters: each row is the values of the ``key`` fields (a unique
    constraint) then the number to add to the ``count`` field; a missing row starts at
    that number."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key_columns = ", ".join(_column(model, name) for name in key)
    column = _column(model, count)
    _multi_row(
        model,
        [*key, count],
        rows,
        f"ON CONFLICT ({key_columns}) DO UPDATE SET {column} = {table}.{column} + "
        f"excluded.{column}",
    )


def update_by_id(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Set the ``names`` fields of many rows; each row is its values followed by its id."""
    if not rows:
        return
    postgresql = connection.vendor == "postgresql"
    fields, columns, adapters = _columns(model, names)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        if postgresql:
            # One statement from the staged rows (executemany sent them one by one).
            id_field = model._meta.pk
            assert id_field is not None, "every model has a primary key"
            staged = _stage(cursor, [*fields, id_field], _adapted(rows, [*adapters, None]))
            assignments = ", ".join(
                f"{column} = {_staged_value(field, index)}"
                for index, (field, column) in enumerate(zip(fields, columns, strict=True))
            )
            sql = (
                f"{staged} UPDATE {table} SET {assignments} FROM staged "  # noqa: S608
                f"WHERE {table}.{quote(_column_name(id_field))} = staged.c{len(fields)}"
            )
            cursor.execute(sql)
            return
        assignments = ", ".join(f"{column} = %s" for column in columns)
        sql = f"UPDATE {table} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
        cursor.executemany(sql, _adapted(rows, [*adapters, None]))


def select_in(
    model: type[models.Model],
    names: Sequence[str],
    *,
    where: Sequence[tuple[str, Any]] = (),
    field: str,
    values: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """The ``names`` columns of the rows whose ``field`` is one of ``values`` (and whose
    ``where`` fields equal the values given), in no particular order.

    ``field`` and ``where`` take plain text or integer values. What comes back is read
    as the ORM would read it (``_reader``). The ORM prepares each value of an ``IN``
    list on its own (``get_db_prep_value``) and converts each value read through
    generic converters: together a tenth of a batch's store for the thousands of
    ids, keys and clusters it looks up.
    """
    if not values:
        return []
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [_field(model, name) for name in names]
    selected = ", ".join(quote(_column_name(f)) for f in fields)
    fixed = [f"{_column(model, name)} = %s AND " for name, _ in where]
    column = _column(model, field)
    rows: list[Sequence[Any]] = []
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            staged = _stage(cursor, [_field(model, field)], [[value] for value in values])
            sql = (
                f"{staged} SELECT {selected} FROM {quote(meta.db_table)} "  # noqa: S608
                f"WHERE {''.join(fixed)}{column} IN (SELECT c0 FROM staged)"
            )
            cursor.execute(sql, [value for _, value in where] or None)
            rows = cursor.fetchall()
        else:
            per_statement = max(1, _sqlite_parameter_limit() - len(where))
            fixed_sql = "".join(part.replace("%s", "?") for part in fixed)
            for start in range(0, len(values), per_statement):
                chunk = list(values[start : start + per_statement])
                sql = (
                    f"SELECT {selected} FROM {quote(meta.db_table)} "  # noqa: S608
                    f"WHERE {fixed_sql}{column} IN ({', '.join(['?'] * len(chunk))})"
                )
                _execute_sqlite(cursor, sql, [*(value for _, value in where), *chunk])
                rows.extend(cursor.fetchall())
    readers = [(index, reader) for index, f in enumerate(fields) if (reader := _reader(f))]
    if not readers:
        return [tuple(row) for row in rows]
    read = []
    for row in rows:
        values_read = list(row)
        for index, reader in readers:
            if values_read[index] is not None:
                values_read[index] = reader(values_read[index])
        read.append(tuple(values_read))
    return read


def _reader(field: models.Field) -> Callable[[Any], Any] | None:
    """How a value the driver gives for ``field`` becomes the ORM's (None: as it is):
    JSON is decoded (both backends hand it over as text), SQLite's times (naive, in the
    connection's zone) become aware datetimes and its booleans (integers) booleans."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        decoder = cast(models.JSONField, field).decoder
        return lambda value: json.loads(value, cls=decoder) if isinstance(value, str) else value
    if connection.vendor != "sqlite":
        return None
    if kind == "DateTimeField":
        zone = connection.timezone

        def read_time(value: Any) -> datetime:
            # Django has the driver parse declared datetime columns into naive times.
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return moment.replace(tzinfo=zone)

        return read_time
    if kind == "BooleanField":
        return bool
    return None


def take_writer_lock(key: int) -> None:
    """Serialise writers across processes until the transaction ends: on PostgreSQL with
    the advisory lock ``key``; SQLite's IMMEDIATE transactions already hold the
    database's write lock from their first statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


class DurableCommit:
    """Around a transaction on SQLite: its commit syncs the WAL to disk
    (``synchronous=FULL``), so an acknowledged batch survives a power loss and not only
    a crash of the process. ``restore`` (called right after the commit, or on leaving)
    puts back the connection's own setting (NORMAL), so other work on the connection
    keeps its cheaper commits.

    It also lets multi-row statements use SQLite's real variable limit instead of
    Django's conservative 999, so a batch takes a fixed number of statements whatever
    its size, and gives the connection a larger page cache (``INTAKE_PAGE_CACHE_KIB``).
    Inside an enclosing transaction the commit is the caller's, and nothing is changed.
    """

    def __init__(self) -> None:
        self._previous: int | None = None

    def __enter__(self) -> DurableCommit:
        if connection.vendor != "sqlite":
            return self
        connection.ensure_connection()
        raw = connection.connection
        if getattr(connection, "_intake_prepared", None) is not raw:
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            connection.features.max_query_params = max(999, limit)
            # The intake touches index pages all over the signal, key and bucket tables;
            # with SQLite's default 2 MB page cache it re-reads them from the OS for
            # every batch. Measured: a tenth less CPU per stored signal at 100,000.
            raw.execute(f"PRAGMA cache_size=-{INTAKE_PAGE_CACHE_KIB}")
            # A mark of this module's on Django's connection object: not in its type.
            setattr(connection, "_intake_prepared", raw)  # noqa: B010
        if connection.in_atomic_block:
            return self
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            (self._previous,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous=FULL")
        return self

    def restore(self) -> None:
        if self._previous is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA synchronous={int(self._previous)}")
            self._previous = None

    def __exit__(self, *exc_info: object) -> None:
        self.restore()
