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


def count_candidates(
    queryset: QuerySet[Any], candidates_sql: str, params: list[Any], *, limit: int
) -> tuple[int, int]:
    """How many of the ids ``candidates_sql`` selects (one column, named ``object_id``)
    are rows of ``queryset``, counting no further than ``limit``; and the largest id
    among those counted (0 for none), a floor on how densely they lie: however they were
    found, at least that many rows up to that id are in both."""
    # The SQL is ours (an alias); the lookup is the queryset's own query, one row.
    each = queryset.filter(pk=RawSQL("candidate.object_id", ())).order_by().values("pk")[:1]
    each_sql, each_params = each.query.sql_with_params()
    if connection.vendor == "postgresql":
        # OFFSET 0 keeps the candidates a list of their own (from their own indexes):
        # flattened into the join, the LIMIT made the planner read the queryset instead.
        found = f"({candidates_sql} OFFSET 0) AS candidate CROSS JOIN LATERAL ({each_sql}) AS one"
    else:
        found = f"({candidates_sql}) AS candidate WHERE EXISTS ({each_sql})"
    sql = (
        "SELECT COUNT(*), COALESCE(MAX(object_id), 0) FROM "  # noqa: S608 (ours)
        f"(SELECT candidate.object_id FROM {found} LIMIT {int(limit)}) AS counted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *each_params])
        count, reach = cursor.fetchone()
    return int(count), int(reach)
