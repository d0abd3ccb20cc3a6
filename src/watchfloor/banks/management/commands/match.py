"""`watchfloor match [--bank BANK] HASH...`: one JSON line per query."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from watchfloor.banks.api import result_out
from watchfloor.banks.match_work import QueryContext, record_matches
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank, MatchChannel


class Command(BaseCommand):
    help = "Match PDQ hashes (or md5:/sha256:/url:/domain:/text: values) against the banks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("values", nargs="+", metavar="HASH")
        parser.add_argument("--bank", action="append", default=[], help="only this bank")
        parser.add_argument("--market", default="", help="the market the items come from")

    def handle(self, *args, **options) -> None:
        queries = []
        for value in options["values"]:
            kind, _, rest = value.partition(":")
            queries.append(Query(signal_type=kind, value=rest) if rest else Query("pdq", value))
        failed = False
        results = match(queries=queries, banks=Bank.objects.all(), only=options["bank"])
        # Recorded like the API's: each match becomes a signal and meets the action rules.
        record_matches(
            results=results,
            contexts=[QueryContext(market=options["market"].upper())] * len(results),
            actor=None,
            channel=MatchChannel.CLI,
        )
        for result in results:
            failed = failed or result.error is not None
            self.stdout.write(json.dumps(result_out(result).model_dump()))
        if failed:
            raise SystemExit(1)
