from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.audit.heads import (
    HeadFileError,
    check_signatures,
    compare_with_heads,
    current_signed_head,
    parse_heads,
)
from watchfloor.audit.keys import configured_keyring
from watchfloor.audit.selectors import last_published_head_lost, verify_chain
from watchfloor.audit.services import export_head, head_destinations
from watchfloor.core import clock
from watchfloor.core.preparation import PreparesDatabase


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Audit log tools. `audit verify` checks the keyed hash chain end to end (with "
        "--expect-head FILE, also against heads published earlier); `audit head` prints "
        "the signed head to keep elsewhere; `audit export-head` publishes it now to the "
        "configured file and webhook."
    )

    # These read the log: they migrate a new database but write nothing into it.
    prepares_reference_data = False

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser(
            "verify", help="recompute the hash chain and report the first broken link"
        )
        verify.add_argument(
            "--expect-head",
            metavar="FILE",
            type=Path,
            help="a head printed by `audit head`, or a file of heads one per line (the "
            "export's file): fail unless the chain still holds each of them",
        )
        sub.add_parser("head", help="print the chain's signed head as one line of JSON")
        sub.add_parser("export-head", help="publish the signed head now to every configured place")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "head":
            self.stdout.write(current_signed_head(keyring=configured_keyring()).as_json())
        elif subcommand == "export-head":
            self._export_head()
        else:
            self._verify(options.get("expect_head"))

    def _verify(self, heads_file: Path | None) -> None:
        keyring = configured_keyring()
        heads = []
        if heads_file is not None:
            try:
                heads = parse_heads(heads_file.read_text(encoding="utf-8"))
                check_signatures(heads, keyring=keyring)
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"--expect-head {heads_file}: cannot read it: {exc}") from None
            except HeadFileError as exc:
                raise CommandError(f"--expect-head {heads_file}: {exc}") from None
        report = verify_chain()
        if report.missing_key:
            raise CommandError(
                f"cannot verify the audit chain from event #{report.broken_at_sequence}: "
                f"{report.problem} ({report.events_checked} events verified before it; if "
                "every key this installation used is configured, the key id was altered)"
            )
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event #{report.broken_at_sequence}: {report.problem} "
                f"({report.events_checked} events verified before it)"
            )
        if not heads:
            self.stdout.write(f"audit chain intact: {report.events_checked} events verified")
            return
        against = compare_with_heads(heads, chain=report)
        if not against.ok:
            raise CommandError(
                f"audit chain does not match its published heads at event "
                f"#{against.broken_at_sequence}: {against.problem}"
            )
        latest = max(heads, key=lambda head: head.sequence)
        self.stdout.write(
            f"audit chain intact: {report.events_checked} events verified; it holds "
            f"{len(heads)} published head(s), the latest at #{latest.sequence} signed at "
            f"{latest.signed_at}"
        )

    def _export_head(self) -> None:
        if not head_destinations():
            raise CommandError(
                "no place to publish audit heads: set WATCHFLOOR_AUDIT_HEAD_FILE and/or "
                "WATCHFLOOR_AUDIT_HEAD_WEBHOOK_URL"
            )
        lost = last_published_head_lost()
        if lost:
            # The operator's way past a refused scheduled export (after a restore from a
            # backup, say): said out loud, and published all the same.
            self.stderr.write(f"warning: {lost}; publishing the current head anyway")
        attempts = export_head(now=clock.now(), only_due=False)
        for attempt in attempts:
            outcome = "published" if attempt.succeeded else f"FAILED ({attempt.error})"
            self.stdout.write(
                f"head #{attempt.sequence} to {attempt.destination} {attempt.target}: {outcome}"
            )
        if not all(attempt.succeeded for attempt in attempts):
            raise CommandError("the audit head was not published everywhere")
