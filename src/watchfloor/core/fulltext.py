"""Text indexes that find words and substrings in any script, on both databases.

An app keeps one index per kind of thing it makes searchable: a table of
``(object_id, body)`` rows, one per object, whose body is the object's searchable text
(an escalation's title, summary, subjects, notice numbers and notes). The app's services
rewrite a row whenever that text changes (:meth:`TextIndex.write`), in the transaction of
the change, so the index never lags what people read.

How a query matches (docs/search.md): the query's terms (split on white space) must
each occur in the body, case-insensitively, as a substring: "typhoon", "@tanaka_01",
"example.com" and a Japanese phrase with no spaces all match where they occur.

- **PostgreSQL**: a plain table with two GIN indexes: ``pg_trgm`` trigrams on the body
  (any substring of three characters or more, whatever the script: ``ILIKE`` uses it)
  and ``to_tsvector('simple', body)`` (whole words, for the terms shorter than three
  characters that trigrams cannot narrow: "5G", "AI").
- **SQLite**: an FTS5 table with the ``trigram`` tokenizer (SQLite 3.34 or later), whose
  ``MATCH`` finds substrings of three characters or more. Where SQLite was built without
  it the index is a plain table searched with ``LIKE`` (correct, not indexed) and
  ``watchfloor check`` says so.
- **Terms of one or two characters** (a two-character Japanese word such as 地震) narrow
  the rows the longer terms found; alone, they are looked for among the newest
  :data:`SHORT_QUERY_SCAN` rows (on PostgreSQL also as whole words in every row), so a
  short query stays bounded however large the index grows.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.core.checks import CheckMessage, Warning
from django.db import connection
from django.db.migrations.operations.base import Operation
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL

from watchfloor.core.candidates import count_candidates, newest_candidates

# A trigram index narrows a term of at least this many characters.
TRIGRAM = 3
# Rows a query made only of one- and two-character terms looks through, newest first.
SHORT_QUERY_SCAN = 5_000
WRITE_BATCH = 1_000
# A search whose matches lie at least this densely (one object in forty, by id, up to the
# last one counted) finds a page of them by walking its objects in their own order and
# testing each (``holds_every_term``): fifty within about two thousand rows. Sparser, it
# reads them from the index instead.
WALK_DENSITY = 1 / 40
REINDEX_BATCH = 2_000


def lies_densely(counted: int, reach: int) -> bool:
    """Whether a search's matches, ``counted`` of them up to id ``reach``
    (:meth:`TextIndex.count_matches`), lie densely enough to walk for (``WALK_DENSITY``)."""
    return counted >= reach * WALK_DENSITY


@functools.cache
def sqlite_has_trigram() -> bool:
    """Whether this SQLite can build FTS5 tables with the ``trigram`` tokenizer."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(body, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()
    return True


def check_text_search(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``watchfloor check``: say when SQLite cannot index text (search still works)."""
    if connection.vendor != "sqlite" or sqlite_has_trigram():
        return []
    return [
        Warning(
            f"this SQLite ({sqlite3.sqlite_version}) has no FTS5 trigram tokenizer: search "
            "and the queue's text filter read every row instead of an index",
            hint="use SQLite 3.34 or later built with FTS5, or PostgreSQL (docs/search.md)",
            id="watchfloor.W301",
        )
    ]


def _uses_fts5(vendor: str) -> bool:
    return vendor == "sqlite" and sqlite_has_trigram()


def create_statements(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"CREATE TABLE {table} (object_id bigint PRIMARY KEY, body text NOT NULL)",
            f"CREATE INDEX {table}_trigrams ON {table} USING gin (body gin_trgm_ops)",
            f"CREATE INDEX {table}_words ON {table} USING gin (to_tsvector('simple', body))",
        ]
    if _uses_fts5(vendor):
        return [f"CREATE VIRTUAL TABLE {table} USING fts5(body, tokenize='trigram')"]
    return [f"CREATE TABLE {table} (object_id integer PRIMARY KEY, body text NOT NULL)"]


class CreateTextIndex(Operation):
    """A migration operation creating one text index (after ``TrigramExtension()`` on
    PostgreSQL). Not a model: nothing reads it through the ORM."""

    reversible = True

    def __init__(self, table: str) -> None:
        self.table = table

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return ("watchfloor.core.fulltext.CreateTextIndex", [], {"table": self.table})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        for statement in create_statements(schema_editor.connection.vendor, self.table):
            schema_editor.execute(statement)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        schema_editor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def describe(self) -> str:
        return f"Create the text index {self.table}"


def query_terms(text: str, *, max_terms: int) -> tuple[str, ...]:
    """The distinct white-space separated terms of ``text``, at most ``max_terms``."""
    terms: list[str] = []
    for term in text.split():
        if term.casefold() not in (t.casefold() for t in terms):
            terms.append(term)
    return tuple(terms[:max_terms])


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts5_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _term_conditions(
    long_terms: Sequence[str], short_terms: Sequence[str], *, vendor: str, index: str | None
) -> list[tuple[str, Any]]:
    """One condition on ``body`` per term: (SQL with one placeholder, its value). On
    SQLite's FTS5 index the long terms are one ``MATCH`` of ``index`` when it is given,
    else each is looked for in the body with ``instr``."""
    each: list[tuple[str, Any]] = []
    if vendor == "postgresql":
        each += [("body ILIKE %s", _like_pattern(t)) for t in long_terms]
        each += [("strpos(lower(body), lower(%s)) > 0", t) for t in short_terms]
        return each
    if long_terms and _uses_fts5(vendor):
        if index:
            phrases = " AND ".join(_fts5_phrase(t) for t in long_terms)
            each.append((f"{index} MATCH %s", phrases))
        else:
            each += [("instr(lower(body), lower(%s)) > 0", t) for t in long_terms]
    else:
        each += [("body LIKE %s ESCAPE '\\'", _like_pattern(t)) for t in long_terms]
    # instr, not LIKE: FTS5's LIKE misses patterns shorter than a trigram.
    each += [("instr(lower(body), lower(%s)) > 0", t) for t in short_terms]
    return each


def _folds_as_ascii_does(term: str) -> bool:
    """Whether SQLite's ``lower()`` (ASCII letters only) folds ``term`` as the FTS5 index
    does: every letter outside ASCII is one without case (Japanese, Chinese, Thai …)."""
    return all(char.isascii() or char.lower() == char.upper() for char in term)


class _HoldsEveryTerm(Func):
    """``EXISTS`` the index's row of one object (looked up by the object's id) whose body
    holds every term; the terms' values follow the id's in the parameters."""

    output_field = BooleanField()

    def __init__(self, object_id: Any, *, template: str, values: list[Any]) -> None:
        super().__init__(object_id, template=template)
        self.values = values

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        sql, params = super().as_sql(compiler, connection, **extra)
        return sql, [*params, *self.values]


# Each object's searchable text, for a batch of ids, read through an app registry (the
# running one, or a migration's historical one).
Composer = Callable[[list[int], Apps], Iterable[tuple[int, str]]]


def joined(parts: dict[int, list[str]]) -> Iterator[tuple[int, str]]:
    """``(id, text)`` rows from each object's pieces of text, one piece a line."""
    for object_id, texts in parts.items():
        yield object_id, "\n".join(text for text in texts if text)


class TextIndex:
    """One app's index of one kind of thing (``model``, "app_label.Model"): rows
    ``(object_id, body)``, each body made by ``compose``."""

    def __init__(self, table: str, *, model: str, compose: Composer) -> None:
        self.table = table
        self.model = model
        self.compose = compose

    def reindex(self, object_ids: Iterable[int], *, models: Apps = django_apps) -> None:
        """Rewrite the rows of these objects from what they hold now. Services call it in
        the transaction of the change."""
        pending = sorted(set(object_ids))
        for start in range(0, len(pending), REINDEX_BATCH):
            self.write(self.compose(pending[start : start + REINDEX_BATCH], models))

    def rebuild(self, *, models: Apps = django_apps) -> int:
        """Index every object again (after a migration or a bulk load); how many."""
        self.clear()
        model = models.get_model(self.model)
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        self.reindex(ids, models=models)
        return len(ids)

    @property
    def _id(self) -> str:
        return "rowid" if _uses_fts5(connection.vendor) else "object_id"

    # ------------------------------------------------------------ writing

    def write(self, documents: Iterable[tuple[int, str]]) -> None:
        """Replace the rows of these objects with their new text."""
        rows = list(documents)
        column = self._id
        with connection.cursor() as cursor:
            for start in range(0, len(rows), WRITE_BATCH):
                batch = rows[start : start + WRITE_BATCH]
                ids = [object_id for object_id, _ in batch]
                marks = ", ".join(["%s"] * len(ids))
                cursor.execute(f"DELETE FROM {self.table} WHERE {column} IN ({marks})", ids)  # noqa: S608 (names are ours)
                values = ", ".join(["(%s, %s)"] * len(batch))
                flat = [value for row in batch for value in row]
                cursor.execute(
                    f"INSERT INTO {self.table} ({column}, body) VALUES {values}",  # noqa: S608
                    flat,
                )

    def remove(self, object_ids: Iterable[int]) -> None:
        self._run_for_ids("DELETE FROM {table} WHERE {id} IN ({marks})", object_ids)

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table}")  # noqa: S608

    # ------------------------------------------------------------ reading

    def matching_sql(self, terms: Sequence[str]) -> tuple[str, list[Any]]:
        """``SELECT`` of the ids whose body holds every term (see the module's docstring)."""
        if not terms:
            raise ValueError("a text search needs at least one term")
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        short_terms = [t for t in terms if len(t) < TRIGRAM]
        vendor = connection.vendor
        column = self._id
        each = _term_conditions(long_terms, short_terms, vendor=vendor, index=self.table)
        conditions = [condition for condition, _ in each]
        params: list[Any] = [value for _, value in each]
        where = " AND ".join(conditions)
        select = f"SELECT {column} AS object_id FROM {self.table}"  # noqa: S608
        if long_terms:
            return f"{select} WHERE {where}", params
        # Only short terms: the newest rows, bounded (and whole words on PostgreSQL). The
        # bound is a derived table, which a LIMIT keeps the planner from flattening: written
        # as "id IN (the newest) AND …", PostgreSQL tested every row of 100,000 (86 ms)
        # before joining the newest 5,000 (7 ms this way).
        newest = (
            f"SELECT {column}, body FROM {self.table} "  # noqa: S608
            f"ORDER BY {column} DESC LIMIT {SHORT_QUERY_SCAN}"
        )
        sql = f"SELECT {column} AS object_id FROM ({newest}) AS newest WHERE {where}"  # noqa: S608
        if vendor == "postgresql":
            words = " AND ".join(
                "to_tsvector('simple', body) @@ plainto_tsquery('simple', %s)" for _ in terms
            )
            sql = f"{sql} UNION SELECT {column} FROM {self.table} WHERE {words}"  # noqa: S608
            params = [*params, *terms]
        return sql, params

    def holds_every_term(self, terms: Sequence[str], *, field: str = "pk") -> Func | None:
        """A filter testing each object's own row of the index (by its id, ``field``) for
        every term, as :meth:`matches` does: for a query that walks its objects in an
        order of its own and stops after a page, where :meth:`matches` would gather every
        match first (100,000 of them for a common word at 1,000,000 objects).

        None where the test cannot be the same as :meth:`matches`: a query of short terms
        only (bounded another way, :meth:`matching_sql`) and, on SQLite's FTS5 index, a
        term with letters outside ASCII that have case (the index folds them, ``lower()``
        does not). Two characters the index folds into ASCII (the Kelvin sign, a dotted
        capital I) are the test's only difference from the index on SQLite."""
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        short_terms = [t for t in terms if len(t) < TRIGRAM]
        vendor = connection.vendor
        if not long_terms or (_uses_fts5(vendor) and not all(map(_folds_as_ascii_does, terms))):
            return None
        each = _term_conditions(long_terms, short_terms, vendor=vendor, index=None)
        # %% keeps each value's placeholder through the expression's own formatting.
        where = " AND ".join(condition.replace("%s", "%%s") for condition, _ in each)
        template = (
            f"EXISTS (SELECT 1 FROM {self.table} "  # noqa: S608 (names are ours)
            f"WHERE {self._id} = %(expressions)s AND {where})"
        )
        return _HoldsEveryTerm(F(field), template=template, values=[v for _, v in each])

    def newest_walk(
        self, terms: Sequence[str], *, counted: int, reach: int, capped: bool
    ) -> Func | None:
        """The test (:meth:`holds_every_term`) to find a search's newest matches with by
        walking its objects newest first, when that is sooner than reading the index's
        matches (:meth:`newest_matches`); else None. ``counted``, ``reach`` and ``capped``
        are the search's :meth:`count_matches` and whether it reached its cap.

        On PostgreSQL the trigram index gives its matches in no order, so reading them
        newest first sorts every one (100,000 for a common word at a million objects,
        300 ms): past the cap and lying densely (``WALK_DENSITY``), a walk finds a page
        within a few hundred rows. SQLite's FTS5 index gives its matches newest first,
        so reading them is never the slower."""
        if not capped or _uses_fts5(connection.vendor) or not lies_densely(counted, reach):
            return None
        return self.holds_every_term(terms)

    def matches(self, terms: Sequence[str], *, field: str = "pk") -> Q:
        """A filter keeping the objects whose text holds every term, for a queryset of
        the indexed model (one query: the index is a subquery)."""
        sql, params = self.matching_sql(terms)
        # The SQL is ours (table and column names); every value is a bound parameter.
        return Q(**{f"{field}__in": RawSQL(sql, params)})  # noqa: S611

    def count_matches(
        self, queryset: QuerySet[Any], terms: Sequence[str], *, limit: int
    ) -> tuple[int, int]:
        """How many objects of ``queryset`` hold every term, counting no further than
        ``limit`` (the capped count of a text search), and the largest id among those
        counted (0 for none): however they were found, at least that many of the objects
        up to that id match, a floor on how densely matches lie.

        The matches are read as they come from the index and each looked up in
        ``queryset`` (``core.candidates``), stopping at ``limit``."""
        matched_sql, matched_params = self.matching_sql(terms)
        return count_candidates(queryset, matched_sql, matched_params, limit=limit)

    def newest_matches(self, queryset: QuerySet[Any], terms: Sequence[str], *, limit: int) -> Q:
        """A filter keeping the ``limit`` newest objects of ``queryset`` (largest ids) that
        hold every term, read from the index's matches newest first (``core.candidates``)
        instead of gathering every match of a common word and sorting it."""
        matched_sql, matched_params = self.matching_sql(terms)
        sql, params = newest_candidates(queryset, matched_sql, matched_params, limit=limit)
        # The SQL is ours (names and an alias); every value is a bound parameter.
        return Q(pk__in=RawSQL(sql, params))  # noqa: S611

    def bodies(self, object_ids: Iterable[int]) -> dict[int, str]:
        rows = self._run_for_ids(
            "SELECT {id}, body FROM {table} WHERE {id} IN ({marks})", object_ids
        )
        return {int(object_id): body for object_id, body in rows}

    def _run_for_ids(self, statement: str, object_ids: Iterable[int]) -> list[Any]:
        """``statement`` (with ``{table}``, ``{id}`` and ``{marks}`` for the ids' places)
        run for these ids; the rows it returns."""
        ids = list(object_ids)
        if not ids:
            return []
        sql = statement.format(table=self.table, id=self._id, marks=", ".join(["%s"] * len(ids)))
        with connection.cursor() as cursor:
            cursor.execute(sql, ids)
            return cursor.fetchall() if cursor.description else []


def snippet(body: str, terms: Sequence[str], *, width: int = 160) -> str:
    """The stretch of ``body`` around the first term found, about ``width`` characters."""
    folded = body.casefold()
    at = min((i for i in (folded.find(t.casefold()) for t in terms) if i >= 0), default=0)
    start = max(0, at - width // 3)
    end = min(len(body), start + width)
    text = " ".join(body[start:end].split())
    return ("…" if start else "") + text + ("…" if end < len(body) else "")
