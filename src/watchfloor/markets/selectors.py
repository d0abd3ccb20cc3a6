"""Reading markets: the lookups other apps' services make on what a person typed."""

from __future__ import annotations

from collections.abc import Iterable

from watchfloor.core.errors import InvalidInput
from watchfloor.core.shared_reads import shared_within
from watchfloor.markets.models import Market


@shared_within
def markets_named(codes: frozenset[str]) -> dict[str, Market]:
    """The markets among ``codes`` (exact codes), by code. Shared within a reaction pass
    (``core.shared_reads``): its firings ask for the same few markets again and again.
    Callers must not change the markets it returns."""
    return {market.code: market for market in Market.objects.filter(code__in=codes)}


def markets_by_code(codes: Iterable[str | None], *, field: str = "markets") -> list[Market]:
    """The markets named (case-insensitively, without repeats, in the order given), or an
    error naming the first unknown one."""
    wanted = [code.strip().upper() for code in codes if code and code.strip()]
    found = markets_named(frozenset(wanted))
    for index, code in enumerate(wanted):
        if code not in found:
            raise InvalidInput(f"unknown market '{code}'", field=f"{field}[{index}]")
    return [found[code] for code in dict.fromkeys(wanted)]
