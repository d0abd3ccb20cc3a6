from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from watchfloor.catalog.commands import ConfigFileCommand, catalog_to_check_against
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.playbooks.library import load_playbooks
from watchfloor.playbooks.loader import (
    Library,
    default_playbook_dir,
    read_library,
)


def describe_library(library: Library) -> list[str]:
    lines = [
        f"  {len(library.playbooks)} playbook{'s' if len(library.playbooks) != 1 else ''}, "
        f"{len(library.templates)} communication template"
        f"{'s' if len(library.templates) != 1 else ''}"
    ]
    for loaded in library.playbooks:
        spec = loaded.spec
        lines.append(
            f"  {spec.code}: {len(spec.steps)} steps"
            f"{', auto-start' if spec.auto_start else ''} ({loaded.digest[:12]})"
        )
    return lines


class Command(PreparesDatabase, ConfigFileCommand):
    help = (
        "The playbook library. `playbooks validate [DIR]` checks every playbook and "
        "communication template and reports each problem with its file, path and line; "
        "`playbooks load [DIR]` records a version of each changed file and makes the library "
        "the one in force. DIR is the playbooks directory (default: the playbooks folder of "
        "WATCHFLOOR_CATALOG_DIR); templates are read from the `comms` folder beside it."
    )

    skipped_preparers = ("playbooks",)  # `load` brings the library itself
    target_name = "directory"
    validate_help = "check the playbooks and templates without changing anything"
    load_help = "validate, then record new versions and make them the ones in force"

    def add_target_options(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--comms",
            type=Path,
            default=None,
            help="the communication templates directory (default: DIR/../comms)",
        )

    def needs_database(self, options: dict[str, Any]) -> bool:
        return options.get("subcommand") == "load"

    def default_target(self, **options: Any) -> Path:
        return default_playbook_dir()

    def validate(self, target: Path, *, comms: Path | None = None, **options: Any) -> None:
        library = read_library(
            catalog=catalog_to_check_against(),
            playbook_dir=target,
            comms_dir=comms,
        )
        self.stdout.write(f"{library.playbook_dir}: the playbook library is valid")
        for line in describe_library(library):
            self.stdout.write(line)

    def load(self, target: Path, *, comms: Path | None = None, **options: Any) -> None:
        result = load_playbooks(playbook_dir=target, comms_dir=comms, actor=None)
        self.stdout.write(
            f"playbook library loaded from {target}: "
            f"{len(result.new_playbook_versions)} new playbook version(s), "
            f"{len(result.new_template_versions)} new template version(s), "
            f"{len(result.retired_playbooks)} playbook(s) retired"
        )
        if result.library is not None:
            for line in describe_library(result.library):
                self.stdout.write(line)
