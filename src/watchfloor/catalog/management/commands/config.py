from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from watchfloor.catalog.loader import CatalogError, read_catalog
from watchfloor.catalog.schema import Catalog
from watchfloor.catalog.selectors import catalog_for
from watchfloor.catalog.services import load_catalog
from watchfloor.core.preparation import PreparesDatabase

_COUNT_LABELS = {
    "policy_areas": ("policy area", "policy areas"),
    "policies": ("policy", "policies"),
    "policy_versions": ("policy version", "policy versions"),
    "escalation_types": ("escalation type", "escalation types"),
    "severities": ("severity", "severities"),
    "factors": ("rubric factor", "rubric factors"),
    "floor_rules": ("floor rule", "floor rules"),
    "enforcement_actions": ("enforcement action", "enforcement actions"),
    "teams": ("team", "teams"),
    "markets": ("market", "markets"),
    "statutory_rules": ("statutory rule", "statutory rules"),
}


def describe_counts(catalog: Catalog) -> str:
    parts = []
    for key, count in catalog.counts().items():
        singular, plural = _COUNT_LABELS.get(key, (key, key))
        parts.append(f"{count} {singular if count == 1 else plural}")
    return ", ".join(parts)


class Command(PreparesDatabase, BaseCommand):
    help = (
        "The configuration catalog. `config validate [DIR]` checks the files and reports "
        "each problem with its file and line; `config load [DIR]` applies them and makes "
        "them the active catalog. DIR defaults to WATCHFLOOR_CATALOG_DIR (the built-in defaults)."
    )

    prepares_reference_data = False  # it loads a catalog of its own

    def needs_database(self, options):
        return options.get("subcommand") == "load"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, help_text in (
            ("validate", "check the catalog files without changing anything"),
            ("load", "validate the catalog files, then load them as the active catalog"),
        ):
            command = sub.add_parser(name, help=help_text)
            command.add_argument(
                "directory",
                nargs="?",
                type=Path,
                default=None,
                help="the catalog directory (default: WATCHFLOOR_CATALOG_DIR)",
            )

    def handle(self, *args, subcommand: str, directory: Path | None, **options):
        directory = directory or Path(settings.WATCHFLOOR_CATALOG_DIR)
        try:
            if subcommand == "validate":
                self._validate(directory)
            else:
                self._load(directory)
        except CatalogError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            outcome = (
                "nothing was loaded" if subcommand == "load" else "fix them and validate again"
            )
            raise CommandError(
                f"the catalog in {directory} has {count} problem{'s' if count != 1 else ''}; "
                f"{outcome}"
            ) from exc

    def _validate(self, directory: Path) -> None:
        loaded = read_catalog(directory)
        catalog = loaded.catalog
        self.stdout.write(
            f"{loaded.directory}: catalog '{catalog.label}' {catalog.version} is valid "
            f"(digest {loaded.digest[:12]})"
        )
        self.stdout.write(f"  {describe_counts(catalog)}")

    def _load(self, directory: Path) -> None:
        version = load_catalog(directory=directory, actor=None)
        self.stdout.write(
            f"catalog '{version.label}' (digest {version.digest[:12]}) is now active: "
            f"version #{version.pk}, first loaded {version.loaded_at:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(f"  {describe_counts(catalog_for(version))}")
