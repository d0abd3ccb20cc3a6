"""Counting a long list's rows from a short list of candidates.

A filter that picks a few of a table's rows by another table (the escalations of one
market, those whose text holds a word) is cheapest to count from that other table's
side: read the candidates in order, look each one up in the filtered queryset by its
primary key, and stop at the cap. Written as ``pk IN (candidates)``, SQLite lists every
candidate before counting (a hundred thousand at a million escalations), and
PostgreSQL hashes them and reads every row of the queryset to probe the hash.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


def _visible_candidates(
    queryset: QuerySet[Any], candidates_sql: str, *, newest_first: bool
) -> tuple[str, list[Any], str]:
    """The FROM and WHERE of the candidates that are rows of ``queryset``, the lookup's
    parameters, and the ORDER BY that reads them newest first (or none)."""
    # The SQL is ours (an alias); the lookup is the queryset's own query, one row.
    each = queryset.filter(pk=RawSQL("candidate.object_id", ())).order_by().values("pk")[:1]
    each_sql, each_params = each.query.sql_with_params()
    if connection.vendor == "postgresql":
        # OFFSET 0 keeps the candidates a list of their own (from their own indexes):
        # flattened into the join, the LIMIT made the planner read the queryset instead.
        # Sorted inside, so the lookups stop at the LIMIT.
        order = " ORDER BY object_id DESC" if newest_first else ""
        found = (
            f"({candidates_sql}{order} OFFSET 0) AS candidate "
            f"CROSS JOIN LATERAL ({each_sql}) AS one"
        )
        return found, list(each_params), ""
    # On SQLite the candidates' own query is flattened into this one, so an FTS5 index
    # hands its matches over newest first, unsorted (``ORDER BY rowid DESC``).
    found = f"({candidates_sql}) AS candidate WHERE EXISTS ({each_sql})"
    return found, list(each_params), " ORDER BY candidate.object_id DESC" if newest_first else ""


def count_candidates(
    queryset: QuerySet[Any], candidates_sql: str, params: list[Any], *, limit: int
) -> tuple[int, int]:
    """How many of the ids ``candidates_sql`` selects (one column, named ``object_id``)
    are rows of ``queryset``, counting no further than ``limit``; and the largest id
    among those counted (0 for none), a floor on how densely they lie: however they were
    found, at least that many rows up to that id are in both."""
    found, each_params, _ = _visible_candidates(queryset, candidates_sql, newest_first=False)
    sql = (
        "SELECT COUNT(*), COALESCE(MAX(object_id), 0) FROM "  # noqa: S608 (ours)
        f"(SELECT candidate.object_id FROM {found} LIMIT {int(limit)}) AS counted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *each_params])
        count, reach = cursor.fetchone()
    return int(count), int(reach)


def newest_candidates(
    queryset: QuerySet[Any], candidates_sql: str, params: list[Any], *, limit: int
) -> tuple[str, list[Any]]:
    """A ``SELECT`` of the ``limit`` largest ids ``candidates_sql`` selects that are rows of
    ``queryset``, largest first, and its parameters: a search's newest hits, for a filter
    (``pk IN (…)``) on the query that reads them, without listing every match first."""
    found, each_params, order = _visible_candidates(queryset, candidates_sql, newest_first=True)
    sql = f"SELECT candidate.object_id FROM {found}{order} LIMIT {int(limit)}"  # noqa: S608
    return sql, [*params, *each_params]
