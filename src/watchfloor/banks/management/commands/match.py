"""`watchfloor match [--bank BANK] HASH...`: one JSON line per query."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from watchfloor.banks.api import result_out
from watchfloor.banks.matcher import Query, match
from watchfloor.banks.models import Bank


class Command(BaseCommand):
    help = "Match PDQ hashes (or md5:/sha256:/url:/domain:/text: values) against the banks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("values", nargs="+", metavar="HASH")
        parser.add_argument("--bank", action="append", default=[], help="only this bank")

    def handle(self, *args, **options) -> None:
        queries = []
        for value in options["values"]:
            kind, _, rest = value.partition(":")
            queries.append(Query(signal_type=kind, value=rest) if rest else Query("pdq", value))
        failed = False
        for result in match(queries=queries, banks=Bank.objects.all(), only=options["bank"]):
            failed = failed or result.error is not None
            self.stdout.write(json.dumps(result_out(result).model_dump()))
        if failed:
            raise SystemExit(1)
