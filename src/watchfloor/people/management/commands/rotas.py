from __future__ import annotations

from pathlib import Path
from typing import Any

from watchfloor.catalog.commands import ConfigFileCommand
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.people.rota_changes import load_rotas
from watchfloor.people.rotafile import default_rota_file, read_rota_file
from watchfloor.people.selectors import rota_references


class Command(PreparesDatabase, ConfigFileCommand):
    help = (
        "On-call rotations as code. `rotas validate [FILE]` checks the rota file and reports "
        "each problem with its line and path; `rotas load [FILE]` applies it: teams' working "
        "hours and regions, missing people, and the rotations (those no longer in the file "
        "are retired). FILE defaults to rotations.yaml in WATCHFLOOR_CATALOG_DIR."
    )

    def needs_database(self, options: dict[str, Any]) -> bool:
        return options.get("subcommand") == "load"

    validate_help = "check the rota file without changing anything"
    load_help = "validate, then apply the rota file"

    def default_target(self, **options: Any) -> Path:
        return default_rota_file()

    def validate(self, target: Path, **options: Any) -> None:
        loaded = read_rota_file(target, references=rota_references())
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

    def load(self, target: Path, **options: Any) -> None:
        result = load_rotas(path=target, actor=None)
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
