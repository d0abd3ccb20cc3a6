"""Search across everything: the query, the results, and the registry of providers.

"Have we seen this before?" One query is read once here (:func:`read_query`: bounded,
its identifiers recognised) and handed to each registered provider, one per kind of
thing (escalations, crises, clusters, evidence, bank entries). Each domain app owns its
provider (``APP/search.py``) and registers it in its ``AppConfig.ready()``, so this
module, low in the floors, never imports them; the page and the API compose the
providers' answers through :func:`search_everything`.

A provider applies its app's need-to-know selector first. For an administrator, whose
selectors show everything, the restricted hits they hold no grant for are counted and not
listed (:func:`withheld_for_admin`): search never puts a restricted title in front of
anyone who would not otherwise be shown it (docs/search.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from watchfloor.core.errors import InvalidInput
from watchfloor.core.fulltext import TextIndex, query_terms, snippet
from watchfloor.core.roles import is_admin
from watchfloor.core.validation import refuse_control_characters
from watchfloor.web.pagination import capped, capped_count, capped_text

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
RESULTS_PER_KIND = 10
# A kind's figure reads "100+" past this: a count stops reading rows there.
COUNT_CAP = 100

# WF-13, CR-4, C-88, EV-7: a reference to one thing, looked up by its id.
_REFERENCE = re.compile(r"^(WF|CR|C|EV)-?(\d{1,15})$", re.IGNORECASE)
# An MD5 (32), SHA-256 or PDQ (64) in hexadecimal.
_HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{64})$", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchQuery:
    """What was asked, read once for every provider."""

    text: str
    terms: tuple[str, ...]
    # ("WF", 13) for "WF-13" (or "wf13"): an exact lookup, not a text search.
    reference: tuple[str, int] | None = None
    # Lower-case hexadecimal, when the query is an MD5, SHA-256 or PDQ hash.
    hex_digest: str | None = None
    url: str | None = None

    def references(self, prefix: str) -> int | None:
        """The id of a reference with this prefix ("WF"), else None."""
        if self.reference and self.reference[0] == prefix:
            return self.reference[1]
        return None

    def refers_elsewhere(self, prefix: str) -> bool:
        """Whether the query is a reference to another kind ("CR-4" for escalations)."""
        return self.reference is not None and self.reference[0] != prefix


def read_query(raw: str | None, *, field_name: str = "q") -> SearchQuery:
    """The query, bounded; errors name the field."""
    text = " ".join((raw or "").split())
    if not text:
        raise InvalidInput("type something to search for", field=field_name)
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            f"a search is at most {MAX_QUERY_LENGTH} characters; this one has {len(text)}",
            field=field_name,
        )
    refuse_control_characters(text, field=field_name)
    reference = None
    if match := _REFERENCE.match(text):
        reference = (match.group(1).upper(), int(match.group(2)))
    hex_digest = text.lower() if _HEX_DIGEST.match(text) else None
    url = text if _URL.match(text) else None
    return SearchQuery(
        text=text,
        terms=query_terms(text, max_terms=MAX_TERMS),
        reference=reference,
        hex_digest=hex_digest,
        url=url,
    )


@dataclass(frozen=True)
class SearchHit:
    reference: str
    title: str
    url: str
    # Where the query matched (a stretch of the text), or what the thing is.
    detail: str = ""
    # Facts shown beside it ("SEV2", "investigating", "closed").
    badges: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def flags(thing: Any) -> tuple[str, ...]:
    """The badges "restricted" and "drill", where ``thing`` is one."""
    return tuple(
        name
        for name, is_set in (
            ("restricted", getattr(thing, "is_restricted", False)),
            ("drill", getattr(thing, "is_drill", False)),
        )
        if is_set
    )


@dataclass(frozen=True)
class KindResults:
    kind: str
    label: str
    hits: tuple[SearchHit, ...] = ()
    total: int = 0
    total_is_capped: bool = False
    # Administrators only: restricted matches withheld from the list (a number, no titles).
    restricted: int = 0
    restricted_is_capped: bool = False

    @property
    def total_shown(self) -> str:
        return capped_text(self.total, self.total_is_capped)

    @property
    def restricted_shown(self) -> str:
        return capped_text(self.restricted, self.restricted_is_capped)


@dataclass(frozen=True)
class SearchProvider:
    kind: str
    label: str
    # Where the kind's group is shown, lowest first.
    position: int
    search: Callable[..., KindResults | None] = field(compare=False)


_providers: dict[str, SearchProvider] = {}


def register_search_provider(provider: SearchProvider) -> None:
    """Called by each app's ``AppConfig.ready()``; registering a kind again replaces it."""
    _providers[provider.kind] = provider


def search_providers() -> list[SearchProvider]:
    return sorted(_providers.values(), key=lambda p: (p.position, p.kind))


def search_everything(*, user: Any, query: SearchQuery) -> list[KindResults]:
    """Each provider's answer for ``user``, in the providers' order; kinds with nothing
    found (nothing listed and nothing withheld) are left out."""
    results = []
    for provider in search_providers():
        found = provider.search(user=user, query=query)
        if found is not None and (found.total or found.restricted):
            results.append(found)
    return results


def withheld_for_admin(
    *, user: Any, matches: QuerySet[Any], restricted: Q
) -> tuple[QuerySet[Any], QuerySet[Any] | None]:
    """``(listed, withheld)``: for an administrator, the matches the ``restricted``
    condition covers (restricted, and no grant of their own) are withheld from the list,
    to be counted only; for anyone else the selector behind ``matches`` has already hidden
    what they may not see, and nothing is withheld (None: not even counted)."""
    if not is_admin(user):
        return matches, None
    return matches.exclude(restricted), matches.filter(restricted)


def count_capped(queryset: QuerySet[Any]) -> tuple[int, bool]:
    return capped_count(queryset, cap=COUNT_CAP)


def kind_results(
    *,
    kind: str,
    label: str,
    listed: QuerySet[Any],
    withheld: QuerySet[Any] | None,
    hits: Callable[[list[Any]], list[SearchHit]],
) -> KindResults:
    """The shape every provider answers in: the first :data:`RESULTS_PER_KIND` listed
    objects (``listed`` in its order) turned into hits, their capped count, and the
    capped count withheld."""
    rows = list(listed[:RESULTS_PER_KIND])
    return _kind_results(
        kind=kind,
        label=label,
        rows=rows,
        hits=hits,
        total=(len(rows), False) if len(rows) < RESULTS_PER_KIND else count_capped(listed),
        restricted=count_capped(withheld) if withheld is not None else (0, False),
    )


def _kind_results(
    *,
    kind: str,
    label: str,
    rows: list[Any],
    hits: Callable[[list[Any]], list[SearchHit]],
    total: tuple[int, bool],
    restricted: tuple[int, bool],
) -> KindResults:
    """``rows`` turned into hits, with the (count, capped) of all and of those withheld."""
    return KindResults(
        kind=kind,
        label=label,
        hits=tuple(hits(rows)) if rows else (),
        total=total[0],
        total_is_capped=total[1],
        restricted=restricted[0],
        restricted_is_capped=restricted[1],
    )


def restricted_without_grant(
    *,
    user: Any,
    access_list: type[Model],
    object_field: str,
    outer: str = "pk",
    restricted_field: str = "is_restricted",
) -> Q:
    """The condition "restricted, and ``user`` is not on its access list", for
    :func:`withheld_for_admin`. ``access_list`` is the access list's through model, whose
    ``object_field`` points at the row ``outer`` names."""
    granted = Exists(
        access_list._default_manager.filter(**{object_field: OuterRef(outer), "user_id": user.pk})
    )
    return Q(**{restricted_field: True}) & ~Q(granted)


def search_indexed_kind(
    *,
    user: Any,
    query: SearchQuery,
    kind: str,
    label: str,
    prefix: str,
    visible: QuerySet[Any],
    index: TextIndex,
    restricted: Q,
    to_hit: Callable[[Any, str], SearchHit],
) -> KindResults | None:
    """A kind with a reference (``prefix``-N) and a text index, newest first: by reference
    when the query is one, else by text; ``to_hit`` turns a row and the stretch of its text
    where the query matched (past its title, which the hit shows already) into a hit."""
    if query.refers_elsewhere(prefix):
        return None
    wanted = query.references(prefix)

    def hits(rows: list[Any]) -> list[SearchHit]:
        bodies = {} if wanted is not None else index.bodies(row.pk for row in rows)
        return [
            to_hit(
                row,
                snippet(bodies[row.pk].removeprefix(row.title), query.terms)
                if row.pk in bodies
                else "",
            )
            for row in rows
        ]

    if wanted is not None:
        listed, withheld = withheld_for_admin(
            user=user, matches=visible.filter(pk=wanted), restricted=restricted
        )
        return kind_results(
            kind=kind, label=label, listed=listed.order_by("-pk"), withheld=withheld, hits=hits
        )
    # By text, counted first: the index's matches as they come, each looked up in what
    # the user may see (core.candidates), up to the cap. Then the newest, read from the
    # index's matches newest first or, where that would sort a common word's every match,
    # found by walking the visible rows newest first (TextIndex.newest_walk). Filtering
    # the visible rows by "id in the matches" listed every match first (100,000 at a
    # million).
    listed, withheld = withheld_for_admin(user=user, matches=visible, restricted=restricted)
    total, reach = index.count_matches(listed, query.terms, limit=COUNT_CAP + 1)
    walk = index.newest_walk(query.terms, counted=total, reach=reach, capped=total > COUNT_CAP)
    if walk is not None:
        rows = list(listed.filter(walk).order_by("-pk")[:RESULTS_PER_KIND])
    else:
        newest = index.newest_matches(listed, query.terms, limit=RESULTS_PER_KIND)
        rows = list(listed.filter(newest).order_by("-pk"))
    held = (
        index.count_matches(withheld, query.terms, limit=COUNT_CAP + 1)[0]
        if withheld is not None
        else 0
    )
    return _kind_results(
        kind=kind,
        label=label,
        rows=rows,
        hits=hits,
        total=capped(total, cap=COUNT_CAP),
        restricted=capped(held, cap=COUNT_CAP),
    )
