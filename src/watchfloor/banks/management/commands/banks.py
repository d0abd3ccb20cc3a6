"""`watchfloor banks import|export|stats|exchanges|add-exchange|fetch`: run by an operator,
recorded as the system."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from watchfloor.banks import services
from watchfloor.banks.models import Bank, Exchange, ExchangeKind
from watchfloor.banks.stix import export_stix, import_stix
from watchfloor.core.errors import WatchfloorError

FORMATS = ["csv", "pytx", "hma", "stix"]


class Command(BaseCommand):
    help = "Import, export and count hash banks."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        load = actions.add_parser("import", help="import a file (creates the bank when missing)")
        load.add_argument("bank")
        load.add_argument("file")
        load.add_argument("--format", choices=FORMATS, default="csv")
        dump = actions.add_parser("export", help="print a bank's enabled entries")
        dump.add_argument("bank")
        dump.add_argument("--format", choices=FORMATS, default="csv")
        actions.add_parser("stats", help="one JSON line per bank with its entry counts")
        actions.add_parser("exchanges", help="one JSON line per exchange with its last fetch")
        add = actions.add_parser("add-exchange", help="fetch an exchange into a bank")
        add.add_argument("name")
        add.add_argument("--kind", required=True, choices=[kind.value for kind in ExchangeKind])
        add.add_argument("--bank", required=True)
        add.add_argument("--location", default="", help="the file (file) or API address")
        add.add_argument(
            "--credentials-env", default="", help="environment variable holding the credentials"
        )
        add.add_argument("--every", type=int, default=60, help="minutes between fetches")
        add.add_argument(
            "--privacy-group", type=int, default=None, help="ThreatExchange's privacy group id"
        )
        fetch = actions.add_parser("fetch", help="fetch an exchange now, from its checkpoint")
        fetch.add_argument("name")

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, f"_{options['action'].replace('-', '_')}")(options)
        except WatchfloorError as error:
            where = f" ({error.field})" if error.field else ""
            raise CommandError(f"{error.message}{where}") from error

    def _import(self, options) -> None:
        try:
            with open(options["file"], encoding="utf-8") as stream:
                text = stream.read()
        except OSError as error:
            raise CommandError(f"cannot read {options['file']}: {error.strerror}") from error
        if options["format"] == "pytx":
            from watchfloor.banks.pytx import import_signal_file

            read = import_signal_file(bank_name=options["bank"], text=text, actor=None)
            for line, reason in read.skipped:
                self.stderr.write(f"{options['file']}:{line}: skipped: {reason}")
            if read.bank is None:
                raise CommandError(f"{options['file']}: no signal could be read")
            bank, created = read.bank, read.added
        elif options["format"] == "hma":
            from watchfloor.banks.hma_bank_file import import_hma_file

            loaded = import_hma_file(bank_name=options["bank"], text=text, actor=None)
            for line, reason in loaded.skipped:
                self.stderr.write(f"{options['file']}:{line}: skipped: {reason}")
            if loaded.bank is None:
                raise CommandError(f"{options['file']}: no bank content could be read")
            bank, created = loaded.bank, loaded.added
        elif options["format"] == "stix":
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
        if options["format"] == "pytx":
            from watchfloor.banks.pytx import export_signal_file

            self.stdout.write(export_signal_file(bank=bank, actor=None), ending="")
        elif options["format"] == "hma":
            from watchfloor.banks.hma_bank_file import export_hma_file

            self.stdout.write(export_hma_file(bank=bank, actor=None), ending="")
        elif options["format"] == "stix":
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

    def _exchanges(self, options) -> None:
        for exchange in Exchange.objects.select_related("bank").order_by("name"):
            self.stdout.write(
                json.dumps(
                    {
                        "exchange": exchange.name,
                        "kind": exchange.kind,
                        "bank": exchange.bank.name,
                        "enabled": exchange.is_enabled,
                        "fetch_every_minutes": exchange.fetch_every_minutes,
                        "last_fetched_at": exchange.last_fetched_at.isoformat()
                        if exchange.last_fetched_at
                        else None,
                        "privacy_group": exchange.privacy_group,
                        "last_error": exchange.last_error,
                        "checkpoint": exchange.checkpoint,
                    }
                )
            )

    def _add_exchange(self, options) -> None:
        from watchfloor.banks.exchanges import create_exchange

        bank = Bank.objects.filter(name=options["bank"]).first()
        if bank is None:
            raise CommandError(f"no bank named {options['bank']!r} (see `watchfloor banks stats`)")
        exchange = create_exchange(
            name=options["name"],
            kind=options["kind"],
            bank=bank,
            actor=None,
            location=options["location"],
            credentials_env=options["credentials_env"],
            fetch_every=timedelta(minutes=options["every"]),
            privacy_group=options["privacy_group"],
        )
        self.stderr.write(f"{exchange.name}: fetched into {bank.name} every {options['every']} min")

    def _fetch(self, options) -> None:
        from watchfloor.banks.exchange_feedback import send_feedback
        from watchfloor.banks.exchanges import fetch_exchange

        exchange = Exchange.objects.select_related("bank").filter(name=options["name"]).first()
        if exchange is None:
            raise CommandError(
                f"no exchange named {options['name']!r} (see `watchfloor banks exchanges`)"
            )
        result = fetch_exchange(exchange=exchange, actor=None)
        for signal_type, value, reason in result.skipped:
            self.stderr.write(f"skipped {signal_type} {value}: {reason}")
        sent = send_feedback(exchange=exchange)
        self.stdout.write(result.summary())
        if any(sent.values()):
            self.stdout.write(f"opinions: {sent}")
        if result.error:
            raise CommandError(result.error)
