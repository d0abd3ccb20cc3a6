"""The clusters' market and language tallies ({value: signals}) summed over many clusters,
in the database.

A crisis's war room sums the tallies of every cluster it holds (two thousand, in a large
one) on each 15-second refresh. Read into Python, that is two JSON documents decoded per
cluster; the database's own JSON functions (SQLite's ``json_each``, PostgreSQL's
``jsonb_each_text``) sum them in one statement and return a row per value.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from watchfloor.signals.models import Cluster

__all__ = ["TALLIED_FIELDS", "summed_tallies"]

TALLIED_FIELDS = ("markets", "languages")


def summed_tallies(clusters: QuerySet[Cluster]) -> dict[str, dict[str, int]]:
    """For each of ``TALLIED_FIELDS``, its tallies summed over ``clusters``: {field:
    {value: signals}}. A tally that is not a JSON object (none is written) counts for
    nothing rather than failing the sum."""
    summed: dict[str, dict[str, int]] = {name: {} for name in TALLIED_FIELDS}
    try:
        inner, params = clusters.values("pk").query.sql_with_params()
    except EmptyResultSet:  # a query that can match nothing (``none()``, ``pk__in=[]``)
        return summed
    columns = {field.name: str(field.column) for field in Cluster._meta.concrete_fields}
    table = connection.ops.quote_name(Cluster._meta.db_table)
    key = connection.ops.quote_name(columns["id"])
    if connection.vendor == "postgresql":
        each, kind, amount = "jsonb_each_text", "jsonb_typeof", "CAST(entry.value AS bigint)"
    else:
        each, kind, amount = "json_each", "json_type", "entry.value"
    parts = []
    for name in TALLIED_FIELDS:
        column = connection.ops.quote_name(columns[name])
        parts.append(
            # Names from the model and this module only; the clusters' query is a parameter.
            f"SELECT '{name}', entry.key, SUM({amount}) "  # noqa: S608
            f"FROM {table} AS tallied, {each}(tallied.{column}) AS entry "
            f"WHERE tallied.{key} IN ({inner}) AND {kind}(tallied.{column}) = 'object' "
            "GROUP BY entry.key"
        )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), [*params] * len(TALLIED_FIELDS))
        for name, key, total in cursor.fetchall():
            summed[name][str(key)] = int(total)
    return summed
