"""The markets app's section of the catalog: markets and their statutory rules
(registered with ``catalog.reference`` in ``apps.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchfloor.catalog.reference import Tally, Upserter, duration
from watchfloor.markets.models import Market, StatutoryRule

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Catalog


def apply_markets(catalog: Catalog) -> dict[str, Tally]:
    markets = Upserter.by_code(Market)
    for market in catalog.markets.markets:
        markets.upsert(
            market.code,
            {
                "code": market.code,
                "name": market.name,
                "time_zones": list(market.time_zones),
                "languages": list(market.languages),
                "regulators": list(market.regulators),
            },
        )

    rules = Upserter.by_code(StatutoryRule)
    for rule in catalog.statutory_rules.rules:
        rules.upsert(
            rule.id,
            {
                "code": rule.id,
                "jurisdiction": rule.jurisdiction,
                "market_id": markets.rows[rule.jurisdiction].pk,
                "instrument": rule.instrument,
                "trigger": rule.trigger,
                "action": rule.action,
                "deadline_kind": rule.deadline_kind,
                "deadline": duration(rule.deadline),
                "previous_deadline": duration(rule.previously),
                "effective_from": rule.effective_from,
                "internal_target": duration(rule.internal_target),
                "needs_verification": rule.verify,
                "min_severity": rule.min_severity,
                "note": rule.note,
                "sources": list(rule.sources),
            },
        )
    return {"markets": markets.done(), "statutory_rules": rules.done()}
