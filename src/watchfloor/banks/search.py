"""Bank entries in search (docs/search.md): an exact lookup of a hash (PDQ, MD5 or
SHA-256, hexadecimal) among the entries of the banks the searcher may see
(``banks_visible_to``); for an administrator, entries of restricted banks they hold no
grant for are counted, not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.urls import reverse

from watchfloor.banks.models import Bank, BankEntry
from watchfloor.banks.selectors import banks_visible_to
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


def _restricted_without_grant(user: User) -> Q:
    withheld = restricted_without_grant(
        user=user,
        access_list=Bank.access_list.through,
        object_field="bank_id",
        outer="bank_id",
        restricted_field="bank__is_restricted",
    )
    if user.team_id:  # a bank's owner team sees it, restricted or not
        withheld &= ~Q(bank__owner_team_id=user.team_id)
    return withheld


def search_bank_entries(*, user: User, query: SearchQuery) -> KindResults | None:
    if query.hex_digest is None:
        return None
    matches = BankEntry.objects.filter(
        value=query.hex_digest, bank__in=banks_visible_to(user)
    ).select_related("bank")
    listed, withheld = withheld_for_admin(
        user=user, matches=matches, restricted=_restricted_without_grant(user)
    )

    def hits(rows: list[BankEntry]) -> list[SearchHit]:
        return [
            SearchHit(
                reference=f"{entry.bank.name} #{entry.pk}",
                title=(
                    entry.note[:200] or ", ".join(entry.labels) or entry.get_signal_type_display()
                ),
                url=reverse("bank-detail", args=[entry.bank.name]),
                detail=f"in bank {entry.bank.name}",
                badges=(
                    entry.get_signal_type_display(),
                    *(["disabled"] if entry.disabled_at else []),
                    *(["allow bank"] if entry.bank.is_allow_bank else []),
                ),
            )
            for entry in rows
        ]

    return kind_results(
        kind="bank_entries",
        label="Bank entries",
        listed=listed.order_by("-pk"),
        withheld=withheld,
        hits=hits,
    )
