from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.catalog.loader import ConfigFileError
from watchfloor.crises.config import CrisisConfigError, config_directory, read_crisis_config
from watchfloor.crises.variants import (
    PACKAGE_DEFAULTS,
    VARIANTS_FILE,
    TermVariantsError,
    read_term_variants,
    variants_path,
)


class Command(BaseCommand):
    help = (
        "Crisis settings. `crises check [--directory DIR]` reads crisis.yaml and the sitrep "
        "templates in DIR/sitreps (default: WATCHFLOOR_CATALOG_DIR, or the shipped defaults "
        "when it has no crisis.yaml), and the starter list of term variants "
        "(DIR/term_variants.yaml, or the shipped one), and reports each problem with its file, "
        "line and path."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        check = sub.add_parser("check", help="validate the crisis settings and sitrep templates")
        check.add_argument("--directory", type=Path, default=None)

    def handle(self, *args, subcommand: str, directory: Path | None = None, **options):
        self._check_variants(directory)
        directory = directory or config_directory()
        try:
            config = read_crisis_config(directory)
        except CrisisConfigError as exc:
            raise self._refusal(exc, f"the crisis settings in {directory}") from exc
        settings = config.settings
        self.stdout.write(f"{directory}: the crisis settings are valid")
        for level, level_settings in settings.levels.items():
            self.stdout.write(f"  {level}: a sitrep every {level_settings.sitrep_every or '—'}")
        self.stdout.write(
            f"  {len(config.templates)} sitrep templates: "
            + ", ".join(
                f"{code} ({', '.join(t.spec.bodies)})"
                for code, t in sorted(config.templates.items())
            )
        )
        self.stdout.write(
            "  handoffs: "
            + " → ".join(
                f"{r.name} {r.handoff_at} {r.time_zone}" for r in settings.handoffs.regions
            )
        )

    def _check_variants(self, directory: Path | None) -> None:
        path = directory / VARIANTS_FILE if directory else variants_path()
        path = path if path.is_file() else PACKAGE_DEFAULTS / VARIANTS_FILE
        try:
            variants = read_term_variants(path)
        except TermVariantsError as exc:
            raise self._refusal(exc, f"the term variants in {path}") from exc
        self.stdout.write(f"{path}: {len(variants.groups)} groups of term variants are valid")

    def _refusal(self, error: ConfigFileError, subject: str) -> CommandError:
        """Each problem on stderr, and the error that ends the command."""
        for problem in error.problems:
            self.stderr.write(str(problem))
        count = len(error.problems)
        return CommandError(
            f"{subject} have {count} problem{'s' if count != 1 else ''}; fix them and check again"
        )
