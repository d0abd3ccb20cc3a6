"""The shape every configuration command shares: ``NAME validate [TARGET]`` checks a
file (or directory) and reports each problem with its file and line; ``NAME load
[TARGET]`` validates, then applies it. Subclasses say what they read and what to print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from watchfloor.catalog.loader import CatalogError, ConfigFileError, read_catalog
from watchfloor.catalog.schema import Catalog
from watchfloor.catalog.selectors import active_catalog_version, catalog_for
from watchfloor.core.errors import NotFound


class ConfigFileCommand(BaseCommand):
    # The positional argument ("file" or "directory") and its help.
    target_name = "file"
    target_help = ""
    validate_help = "check without changing anything"
    # None for files that are read again whenever they change (no load step).
    load_help: str | None = "validate, then apply"

    def add_target_options(self, parser: CommandParser) -> None:
        """Options beside the target (e.g. another directory); none by default."""

    def default_target(self, **options: Any) -> Path:
        raise NotImplementedError

    def validate(self, target: Path, **options: Any) -> None:
        raise NotImplementedError

    def load(self, target: Path, **options: Any) -> None:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        actions = [("validate", self.validate_help)]
        if self.load_help is not None:
            actions.append(("load", self.load_help))
        for name, help_text in actions:
            command = sub.add_parser(name, help=help_text)
            command.add_argument(
                self.target_name, nargs="?", type=Path, default=None, help=self.target_help
            )
            self.add_target_options(command)

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        target = options.pop(self.target_name) or self.default_target(**options)
        try:
            if subcommand == "validate":
                self.validate(target, **options)
            else:
                self.load(target, **options)
        except ConfigFileError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            outcome = (
                "nothing was loaded" if subcommand == "load" else "fix them and validate again"
            )
            raise CommandError(
                f"{exc.subject.format(where=target)} {exc.verb} {count} "
                f"problem{'s' if count != 1 else ''}; {outcome}"
            ) from exc
        except NotFound as exc:
            raise CommandError(exc.message) from exc


def catalog_to_check_against() -> Catalog:
    """What configuration files may name (types, markets, policies): the active catalog
    when one is loaded, else the catalog files, so validation works before any database
    exists."""
    try:
        return catalog_for(active_catalog_version())
    except (NotFound, DatabaseError):  # no catalog loaded yet, or no database at all
        try:
            return read_catalog(Path(settings.WATCHFLOOR_CATALOG_DIR)).catalog
        except CatalogError as exc:
            raise CommandError(
                "the catalog has problems; run `watchfloor config validate` first"
            ) from exc
