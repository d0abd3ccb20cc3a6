"""Pagination that does not count a whole table.

An exact count of a long queue reads every visible row (and, for restricted rows, their
access lists); past a few thousand nobody needs the exact figure on a page. The count
here stops at ``cap`` + 1 rows: the page says "10,000+" and offers the pages up to the
cap, and narrowing the filters brings the exact figure back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000


def capped_text(count: int, is_capped: bool) -> str:
    """A capped count as people read it: "10000+" past the cap, else the count."""
    return f"{count}+" if is_capped else str(count)


def capped(counted: int, *, cap: int) -> tuple[int, bool]:
    """(count, capped) of a count taken up to ``cap`` + 1 rows, as :func:`capped_count`
    answers it."""
    return (cap, True) if counted > cap else (counted, False)


def capped_count(queryset: QuerySet[Any], *, cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): the exact count up to ``cap``, else (cap, True).

    One ``SELECT COUNT(*) FROM (… LIMIT cap + 1)``: the database stops reading after
    ``cap`` + 1 rows instead of counting them all.
    """
    cap = COUNT_CAP if cap is None else cap
    return capped(queryset.order_by().values("pk")[: cap + 1].count(), cap=cap)


def capped_counts(querysets: Sequence[QuerySet[Any]], *, cap: int) -> list[tuple[int, bool]]:
    """:func:`capped_count` of each queryset, in one query (``SELECT (SELECT COUNT(*)
    FROM (… LIMIT cap + 1)), …``): a strip of figures costs one round trip, not one each."""
    parts: list[str] = []
    params: list[Any] = []
    for n, queryset in enumerate(querysets):
        try:
            sql, part_params = queryset.order_by().values("pk")[: cap + 1].query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing (pk__in=[])
            parts.append("0")
            continue
        # The SQL is Django's own compilation; every value is a bound parameter.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted_{n})")  # noqa: S608
        params.extend(part_params)
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        row = cursor.fetchone()
    return [capped(int(counted), cap=cap) for counted in row]


if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:
    _Paginator = Paginator


class CappedPaginator(_Paginator):
    """A ``Paginator`` whose ``count`` stops at ``cap`` (see :func:`capped_count`);
    ``count_is_capped`` says when the real figure is larger. ``counted``, when given,
    answers (count, capped) in place of :func:`capped_count` (a count its selector knows
    a cheaper way to take)."""

    def __init__(
        self,
        object_list: QuerySet[Any],
        per_page: int,
        *,
        cap: int | None = None,
        counted: Callable[[], tuple[int, bool]] | None = None,
    ):
        super().__init__(object_list, per_page)
        self.cap = cap
        self.counted = counted

    @cached_property
    def _capped(self) -> tuple[int, bool]:
        if self.counted is not None:
            return self.counted()
        return capped_count(cast("QuerySet[Any]", self.object_list), cap=self.cap)

    @cached_property
    def count(self) -> int:
        return self._capped[0]

    @property
    def count_is_capped(self) -> bool:
        return self._capped[1]
