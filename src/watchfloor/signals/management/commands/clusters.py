from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core import clock
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.signals import services
from watchfloor.signals.exports import (
    CLUSTER_FIELDS,
    FORMATS,
    cluster_records,
    parse_since,
    write_records,
)


class _Stdout:
    """csv.writer and json want a file; the command's stdout adds line endings itself."""

    def __init__(self, out):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


def export(command: BaseCommand, *, what: str, records, fields, options) -> None:
    """Shared by `clusters export` and `surges export`: stream, count, audit."""
    output = options["output"]
    since = options["since"]
    fmt = options["format"]
    if output:
        try:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = write_records(records, stream=stream, fields=fields, format=fmt)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
    else:
        count = write_records(records, stream=_Stdout(command.stdout), fields=fields, format=fmt)
    services.record_export(
        what=what,
        rows=count,
        options={"format": fmt, "since": since.isoformat() if since else None, "output": output},
        actor=None,
    )
    where = f" to {output}" if output else ""
    command.stderr.write(f"exported {count} {what}{where} ({fmt})")


def add_export_arguments(parser, *, since_help: str) -> None:
    parser.add_argument("--since", default=None, help=since_help)
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--output", "-o", default=None, help="a file (default: standard output)")


def since_option(value: str | None):
    if not value:
        return None
    try:
        return parse_since(value, now=clock.now())
    except ValueError as exc:
        raise CommandError(f"--since: {exc}") from exc


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Clusters. `clusters export [--since T] [--format jsonl|csv] [--output FILE]` writes "
        "each cluster with its id, the kind of key it formed on, its representative, counts, "
        "markets, languages and the ids of its signals. T is a time with its offset "
        "(2026-11-24T09:00:00+09:00), a date (UTC) or a span back from now (24h, 7d, PT6H)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        add_export_arguments(
            sub.add_parser("export", help="write the clusters as JSON Lines or CSV"),
            since_help="only clusters with a signal since this time",
        )

    def handle(self, *args, subcommand: str, **options):
        options["since"] = since_option(options.get("since"))
        export(
            self,
            what="clusters",
            records=cluster_records(since=options["since"]),
            fields=CLUSTER_FIELDS,
            options=options,
        )
