"""Evidence in search (docs/search.md): exact lookups on the hashes kept for every item,
never a text scan: ``EV-7``, or a SHA-256, MD5 or PDQ (hexadecimal) of the original
bytes. Need to know comes from ``evidence_visible_to`` (an item is seen by whoever sees
its escalation); for an administrator, items of restricted escalations they hold no grant
for are counted, not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.urls import reverse

from watchfloor.escalations.models import Escalation
from watchfloor.evidence.models import EvidenceItem
from watchfloor.evidence.selectors import evidence_visible_to
from watchfloor.web.search import (
    KindResults,
    SearchHit,
    SearchQuery,
    kind_results,
    restricted_without_grant,
    withheld_for_admin,
)

if TYPE_CHECKING:
    from watchfloor.people.models import User


def search_evidence(*, user: User, query: SearchQuery) -> KindResults | None:
    wanted = query.references("EV")
    digest = query.hex_digest
    if wanted is not None:
        found = Q(pk=wanted)
    elif digest is not None and len(digest) == 32:
        found = Q(md5=digest)
    elif digest is not None:
        found = Q(sha256=digest) | Q(pdq=digest)
    else:
        return None
    listed, withheld = withheld_for_admin(
        user=user,
        matches=evidence_visible_to(user).filter(found),
        restricted=restricted_without_grant(
            user=user,
            access_list=Escalation.access_list.through,
            object_field="escalation_id",
            outer="escalation_id",
            restricted_field="escalation__is_restricted",
        ),
    )

    def hits(rows: list[EvidenceItem]) -> list[SearchHit]:
        return [
            SearchHit(
                reference=f"EV-{item.pk}",
                title=item.description or item.original_name or item.get_kind_display(),
                url=reverse("evidence-detail", args=[item.pk]),
                detail=f"on WF-{item.escalation_id}",
                badges=(item.get_kind_display(), *(["purged"] if item.purged_at else [])),
            )
            for item in rows
        ]

    return kind_results(
        kind="evidence",
        label="Evidence",
        listed=listed.order_by("-pk"),
        withheld=withheld,
        hits=hits,
    )
