from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.crises.config import CrisisConfigError, config_directory, read_crisis_config


class Command(BaseCommand):
    help = (
        "Crisis settings. `crises check [--directory DIR]` reads crisis.yaml and the sitrep "
        "templates in DIR/sitreps (default: WATCHFLOOR_CATALOG_DIR, or the shipped defaults "
        "when it has no crisis.yaml) and reports each problem with its file, line and path."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        check = sub.add_parser("check", help="validate the crisis settings and sitrep templates")
        check.add_argument("--directory", type=Path, default=None)

    def handle(self, *args, subcommand: str, directory: Path | None = None, **options):
        directory = directory or config_directory()
        try:
            config = read_crisis_config(directory)
        except CrisisConfigError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            raise CommandError(
                f"the crisis settings in {directory} have {count} problem"
                f"{'s' if count != 1 else ''}; fix them and check again"
            ) from exc
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
