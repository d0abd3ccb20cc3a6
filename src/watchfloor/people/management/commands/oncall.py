from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core import clock
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.core.validation import time_range_problem, within_time_range
from watchfloor.people import selectors
from watchfloor.people.oncall import on_call
from watchfloor.people.rota_calendar import DEFAULT_WEEKS_AHEAD, ExportWindow, rotation_calendar
from watchfloor.people.rota_changes import record_rota_export


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"'{value}' is not a time such as 2026-11-26T09:00+09:00") from exc
    if moment.tzinfo is None:
        raise CommandError(f"'{value}' needs its offset or zone, e.g. 2026-11-26T09:00+09:00")
    if not within_time_range(moment):
        raise CommandError(time_range_problem("--at", value))
    return moment


class Command(PreparesDatabase, BaseCommand):
    help = (
        "Who is on call. `oncall now [--team CODE] [--market JP] [--at TIME]` answers the "
        "question; `oncall export ROTATION [--from DATE] [--weeks N] [-o FILE]` writes the "
        "rotation as an iCalendar file (to standard output without -o)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        now = sub.add_parser("now", help="who is on call")
        now.add_argument("--team", default="")
        now.add_argument("--market", default="")
        now.add_argument("--at", default="", help="a time with its offset (default: now)")
        export = sub.add_parser("export", help="a rotation as iCalendar (.ics)")
        export.add_argument("rotation")
        export.add_argument(
            "--from",
            dest="start",
            default="",
            help="first day, YYYY-MM-DD in UTC (default: a week ago)",
        )
        export.add_argument("--weeks", type=int, default=DEFAULT_WEEKS_AHEAD)
        export.add_argument("-o", "--output", type=Path, default=None)

    def handle(self, *args, subcommand: str, **options):
        try:
            if subcommand == "now":
                self._now(options)
            else:
                self._export(options)
        except WatchfloorError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc

    def _now(self, options) -> None:
        at = _instant(options["at"]) if options["at"] else clock.now()
        for answer in on_call(
            team_code=options["team"] or None, market=options["market"] or None, at=at
        ):
            self.stdout.write(f"{answer.team.name} ({answer.basis}):")
            if not answer.entries:
                self.stdout.write("  nobody")
            for entry in answer.entries:
                local = at.astimezone(ZoneInfo(entry.user.time_zone))
                shift = f" {entry.shift_label}" if entry.shift_label else ""
                instead = (
                    f" (instead of {entry.scheduled.username}: {entry.override_reason})"
                    if entry.is_override
                    else ""
                )
                self.stdout.write(
                    f"  {entry.user.username:<16} {entry.user.display_name} · "
                    f"{local:%a %H:%M} {entry.user.time_zone} · "
                    f"{entry.rotation.code}{shift}{instead}"
                )

    def _export(self, options) -> None:
        now = clock.now()
        if options["start"]:
            try:
                day = datetime.strptime(options["start"], "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError as exc:
                raise CommandError(f"--from '{options['start']}' is not a date YYYY-MM-DD") from exc
            if not within_time_range(day):
                raise CommandError(time_range_problem("--from", options["start"]))
            window = ExportWindow.starting(day, weeks=options["weeks"])
        else:
            window = ExportWindow.around(now, weeks=options["weeks"])
        rotation = selectors.get_rotation(
            options["rotation"], window=(window.starts_at, window.ends_at)
        )
        content = rotation_calendar(
            rotation,
            plan=selectors.rotation_plan(rotation),
            window=window,
            generated_at=now,
        )
        record_rota_export(
            rotation=rotation,
            actor=None,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            channel="cli",
        )
        if options["output"]:
            options["output"].write_bytes(content)
            self.stderr.write(f"{rotation.code}: written to {options['output']}")
        else:
            self.stdout.write(content.decode(), ending="")
