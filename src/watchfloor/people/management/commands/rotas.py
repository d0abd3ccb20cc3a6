from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.core.preparation import PreparesDatabase
from watchfloor.people.rotafile import RotaFileError, default_rota_file, read_rota_file
from watchfloor.people.selectors import rota_references
from watchfloor.people.services import load_rotas


class Command(PreparesDatabase, BaseCommand):
    help = (
        "On-call rotations as code. `rotas validate [FILE]` checks the rota file and reports "
        "each problem with its line and path; `rotas load [FILE]` applies it: teams' working "
        "hours and regions, missing people, and the rotations (those no longer in the file "
        "are retired). FILE defaults to rotations.yaml in WATCHFLOOR_CATALOG_DIR."
    )

    def needs_database(self, options):
        return options.get("subcommand") == "load"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, help_text in (
            ("validate", "check the rota file without changing anything"),
            ("load", "validate, then apply the rota file"),
        ):
            command = sub.add_parser(name, help=help_text)
            command.add_argument("file", nargs="?", type=Path, default=None)

    def handle(self, *args, subcommand: str, file: Path | None, **options):
        path = file or default_rota_file()
        try:
            if subcommand == "validate":
                loaded = read_rota_file(path, references=rota_references())
                spec = loaded.spec
                self.stdout.write(
                    f"{loaded.path}: valid — {len(spec.rotations)} rotation(s), "
                    f"{len(spec.teams)} team(s), {len(spec.people)} person(s)"
                )
                for rotation in spec.rotations:
                    shifts = rotation.planned_shifts()
                    self.stdout.write(
                        f"  {rotation.code}: {rotation.team}, {rotation.kind.replace('_', ' ')}, "
                        f"{len(shifts)} shift(s), "
                        f"{sum(len(s.members) for s in shifts)} place(s) in the rota"
                    )
                return
            result = load_rotas(path=path, actor=None)
        except RotaFileError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            outcome = (
                "nothing was loaded" if subcommand == "load" else "fix them and validate again"
            )
            raise CommandError(
                f"the rota file {path} has {count} problem{'s' if count != 1 else ''}; {outcome}"
            ) from exc
        self.stdout.write(
            f"rotas loaded from {result.path}: {len(result.created)} new, "
            f"{len(result.changed)} changed, {len(result.unchanged)} unchanged, "
            f"{len(result.retired)} retired; {len(result.people_created)} account(s) created"
        )
        for label, codes in (
            ("new", result.created),
            ("changed", result.changed),
            ("retired", result.retired),
            ("accounts created (no password: set one in the admin)", result.people_created),
        ):
            if codes:
                self.stdout.write(f"  {label}: {', '.join(codes)}")
