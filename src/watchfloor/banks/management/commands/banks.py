"""`watchfloor banks import|export|stats`: run by an operator, recorded as the system."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from watchfloor.banks import services
from watchfloor.banks.models import Bank
from watchfloor.banks.stix import export_stix, import_stix
from watchfloor.core.errors import WatchfloorError


class Command(BaseCommand):
    help = "Import, export and count hash banks."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        load = actions.add_parser("import", help="import a file (creates the bank when missing)")
        load.add_argument("bank")
        load.add_argument("file")
        load.add_argument("--format", choices=["csv", "stix"], default="csv")
        dump = actions.add_parser("export", help="print a bank's enabled entries")
        dump.add_argument("bank")
        dump.add_argument("--format", choices=["csv", "stix"], default="csv")
        actions.add_parser("stats", help="one JSON line per bank with its entry counts")

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except WatchfloorError as error:
            where = f" ({error.field})" if error.field else ""
            raise CommandError(f"{error.message}{where}") from error

    def _import(self, options) -> None:
        try:
            with open(options["file"], encoding="utf-8") as stream:
                text = stream.read()
        except OSError as error:
            raise CommandError(f"cannot read {options['file']}: {error.strerror}") from error
        if options["format"] == "stix":
            imported = import_stix(bank_name=options["bank"], text=text, actor=None)
            for object_id, reason in imported.skipped:
                self.stderr.write(f"{object_id}: skipped: {reason}")
            bank, created = imported.bank, imported.added
        else:
            bank, created = services.import_csv(bank_name=options["bank"], text=text, actor=None)
        self.stderr.write(f"{bank.name}: {len(created)} entries added")

    def _export(self, options) -> None:
        bank = Bank.objects.filter(name=options["bank"]).first()
        if bank is None:
            raise CommandError(f"no bank named {options['bank']!r} (see `watchfloor banks stats`)")
        if options["format"] == "stix":
            self.stdout.write(export_stix(bank=bank, actor=None))
        else:
            self.stdout.write(services.export_csv(bank=bank, actor=None), ending="")

    def _stats(self, options) -> None:
        banks = Bank.objects.annotate(
            enabled_entries=Count("entries", filter=Q(entries__disabled_at__isnull=True)),
            disabled_entries=Count("entries", filter=Q(entries__disabled_at__isnull=False)),
        ).order_by("name")
        for bank in banks:
            self.stdout.write(
                json.dumps(
                    {
                        "bank": bank.name,
                        "signal_type": bank.signal_type,
                        "enabled": bank.is_enabled,
                        "allow_bank": bank.is_allow_bank,
                        "threshold": bank.threshold,
                        "entries": bank.enabled_entries,
                        "disabled_entries": bank.disabled_entries,
                    }
                )
            )
