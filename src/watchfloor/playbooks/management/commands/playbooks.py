from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from watchfloor.catalog.loader import CatalogError, read_catalog
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core.errors import NotFound
from watchfloor.core.preparation import PreparesDatabase
from watchfloor.playbooks.loader import (
    Library,
    PlaybookLibraryError,
    default_playbook_dir,
    read_library,
)
from watchfloor.playbooks.services import load_playbooks


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


class Command(PreparesDatabase, BaseCommand):
    help = (
        "The playbook library. `playbooks validate [DIR]` checks every playbook and "
        "communication template and reports each problem with its file, path and line; "
        "`playbooks load [DIR]` records a version of each changed file and makes the library "
        "the one in force. DIR is the playbooks directory (default: the playbooks folder of "
        "WATCHFLOOR_CATALOG_DIR); templates are read from the `comms` folder beside it."
    )

    skipped_preparers = ("playbooks",)  # `load` brings the library itself

    def needs_database(self, options):
        return options.get("subcommand") == "load"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, help_text in (
            ("validate", "check the playbooks and templates without changing anything"),
            ("load", "validate, then record new versions and make them the ones in force"),
        ):
            command = sub.add_parser(name, help=help_text)
            command.add_argument("directory", nargs="?", type=Path, default=None)
            command.add_argument(
                "--comms",
                type=Path,
                default=None,
                help="the communication templates directory (default: DIR/../comms)",
            )

    def handle(self, *args, subcommand: str, directory: Path | None, comms: Path | None, **options):
        directory = directory or default_playbook_dir()
        # Left unset when not given, so a missing templates directory is explained as the
        # default place beside DIR.
        try:
            if subcommand == "validate":
                library = read_library(
                    catalog=self._catalog(), playbook_dir=directory, comms_dir=comms
                )
                self.stdout.write(f"{library.playbook_dir}: the playbook library is valid")
                for line in describe_library(library):
                    self.stdout.write(line)
            else:
                result = load_playbooks(playbook_dir=directory, comms_dir=comms, actor=None)
                self.stdout.write(
                    f"playbook library loaded from {directory}: "
                    f"{len(result.new_playbook_versions)} new playbook version(s), "
                    f"{len(result.new_template_versions)} new template version(s), "
                    f"{len(result.retired_playbooks)} playbook(s) retired"
                )
                if result.library is not None:
                    for line in describe_library(result.library):
                        self.stdout.write(line)
        except PlaybookLibraryError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            outcome = (
                "nothing was loaded" if subcommand == "load" else "fix them and validate again"
            )
            raise CommandError(
                f"the playbook library in {directory} has {count} "
                f"problem{'s' if count != 1 else ''}; {outcome}"
            ) from exc
        except NotFound as exc:
            raise CommandError(exc.message) from exc

    def _catalog(self):
        """The catalog names what playbooks may refer to: the active one when loaded,
        else the catalog files, so validation works before any database exists."""
        try:
            return catalog_for(active_catalog_version())
        except (NotFound, DatabaseError):  # no catalog loaded yet, or no database at all
            try:
                return read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR)).catalog
            except CatalogError as exc:
                raise CommandError(
                    "the catalog has problems; run `watchfloor config validate` first"
                ) from exc
