"""Clusters in search (docs/search.md): exact lookups on the keys clustering already
keeps, never a text scan.

A cluster is found by its id (``C-88``), or by one of its exact keys (``ClusterKey``,
unique on kind and value, so each lookup is one index probe): a subject ("@tanaka_01", or
"account:@tanaka_01" naming the kind), a URL (normalised as intake normalises it, so
tracking parameters and case do not matter) and a media file's MD5 or SHA-256.
Partners see no clusters (``clusters_visible_to``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.urls import reverse

from watchfloor.signals import clustering
from watchfloor.signals.contract import SUBJECT_KINDS
from watchfloor.signals.models import Cluster, ClusterKey
from watchfloor.signals.selectors import clusters_visible_to
from watchfloor.signals.urls import normalise_url
from watchfloor.web.search import KindResults, SearchHit, SearchQuery, kind_results

if TYPE_CHECKING:
    from watchfloor.people.models import User


def _key_lookups(query: SearchQuery) -> Q:
    text = query.text
    kind, _, ref = text.partition(":")
    subjects = (
        [clustering.subject_key(kind, ref)]
        if kind in SUBJECT_KINDS and ref
        else [clustering.subject_key(k, text) for k in SUBJECT_KINDS]
    )
    wanted = Q(kind=clustering.SUBJECT, value__in=subjects)
    url = normalise_url(query.url or "") if query.url or "." in text else None
    if url is None and "." in text and "/" not in text.split(".", 1)[0]:
        url = normalise_url(f"https://{text}")
    if url:
        wanted |= Q(kind=clustering.URL, value=clustering.exact_key_value(url))
    if query.hex_digest and len(query.hex_digest) == 32:
        wanted |= Q(kind=clustering.MD5, value=query.hex_digest)
    elif query.hex_digest:
        wanted |= Q(kind=clustering.SHA256, value=query.hex_digest)
    return wanted


def search_clusters(*, user: User, query: SearchQuery) -> KindResults | None:
    if query.refers_elsewhere("C"):
        return None
    wanted = query.references("C")
    found = (
        Q(pk=wanted)
        if wanted is not None
        else Q(pk__in=ClusterKey.objects.filter(_key_lookups(query)).values("cluster_id"))
    )
    matches = clusters_visible_to(user).filter(found)

    def hits(rows: list[Cluster]) -> list[SearchHit]:
        return [
            SearchHit(
                reference=f"C-{c.pk}",
                title=(c.representative_text or c.subject_ref or c.representative_url)[:200],
                url=reverse("cluster-detail", args=[c.pk]),
                detail=f"{c.subject_kind}: {c.subject_ref}" if c.subject_ref else "",
                badges=(
                    c.get_state_display(),
                    f"{c.signal_count} signal{'s' if c.signal_count != 1 else ''}",
                ),
                languages=tuple(c.languages or ()),
            )
            for c in rows
        ]

    return kind_results(
        kind="clusters",
        label="Clusters",
        listed=matches.order_by("-last_seen_at", "-pk"),
        withheld=None,
        hits=hits,
    )
