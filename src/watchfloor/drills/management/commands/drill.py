from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from watchfloor.catalog.models import CatalogVersion
from watchfloor.core.errors import InvalidInput
from watchfloor.drills.scenario_files import (
    ScenarioError,
    find_scenario,
    read_scenarios,
    scenario_paths,
    scenarios_directory,
)
from watchfloor.drills.scoring import NOT_SCORED

# Exit codes: 1 when a scenario's `expect` is not met (a playbook regression), 2 when a
# scenario file is unusable.
EXPECTATION_NOT_MET = 1
BAD_FILE = 2


class Command(BaseCommand):
    help = (
        "Crisis drills (docs/drills.md). `drill list` shows the scenarios; `drill validate "
        "[FILES]` checks them (each problem with its file and line); `drill run SCENARIO "
        "--autoplay [--json]` plays one with its scripted responses on a simulated clock and "
        "prints the score (`--all` plays every scenario). Exits 1 when a scenario's expect "
        "block is not met, 2 on a bad file."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        listing = sub.add_parser("list", help="the scenarios in the drills directory")
        listing.add_argument("--directory", type=Path, default=None)
        validate = sub.add_parser("validate", help="check scenario files")
        validate.add_argument("files", nargs="*", type=Path)
        validate.add_argument("--directory", type=Path, default=None)
        run = sub.add_parser("run", help="play scenarios")
        run.add_argument("scenarios", nargs="*", help="scenario codes or files")
        run.add_argument("--all", action="store_true", help="every scenario in the directory")
        run.add_argument("--autoplay", action="store_true", help="play the scripted responses")
        run.add_argument("--json", action="store_true", help="print the scores as JSON")
        run.add_argument("--directory", type=Path, default=None)

    def handle(self, *args, subcommand: str, **options):
        return getattr(self, f"_{subcommand}")(**options)

    # ------------------------------------------------------------ list

    def _list(self, *, directory: Path | None, **options) -> None:
        directory = directory or scenarios_directory()
        loaded, problems = read_scenarios(scenario_paths(directory))
        self.stdout.write(f"drill scenarios in {directory}:")
        for scenario in loaded:
            spec = scenario.spec
            self.stdout.write(
                f"  {spec.code:<28} {spec.title}\n"
                f"  {'':<28} {len(spec.injects)} injects, {len(spec.responses)} scripted "
                f"responses, {spec.duration} · markets {', '.join(spec.markets)} · "
                f"languages {', '.join(spec.languages)}"
            )
        self._problems(problems)

    # ------------------------------------------------------------ validate

    def _validate(self, *, files: list[Path], directory: Path | None, **options) -> None:
        paths = files or scenario_paths(directory)
        if not paths:
            raise CommandError("no scenario files to check", returncode=BAD_FILE)
        check_catalog = CatalogVersion.objects.filter(is_active=True).exists()
        loaded, problems = read_scenarios(paths, check_catalog=check_catalog)
        for scenario in loaded:
            self.stdout.write(f"{scenario.path.name}: {scenario.code} is valid")
        if not check_catalog:
            self.stdout.write(
                "no catalog is loaded: the names of types, markets, rules and playbook steps "
                "were not checked (run `watchfloor config load` first)"
            )
        self._problems(problems)

    def _problems(self, problems) -> None:
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            count = len(problems)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} in the drill scenarios",
                returncode=BAD_FILE,
            )

    # ------------------------------------------------------------ run

    def _run(
        self,
        *,
        scenarios: list[str],
        all: bool,
        autoplay: bool,
        json: bool,
        directory: Path | None,
        **options,
    ) -> None:
        from watchfloor.core.preparation import prepare_database
        from watchfloor.drills.autoplay import autoplay_drill

        if not autoplay:
            raise CommandError(
                "a drill played by people starts from the Drills page (/crises/drills/); "
                "here, add --autoplay to play the scripted responses",
                returncode=BAD_FILE,
            )
        if all:
            scenarios = [str(path) for path in scenario_paths(directory)]
        if not scenarios:
            raise CommandError("name a scenario (see `drill list`) or give --all", returncode=2)
        prepare_database(stdout=self.stderr if json else self.stdout)
        loaded = []
        for name in scenarios:
            try:
                loaded.append(find_scenario(name, directory=directory))
            except ScenarioError as error:
                self._problems(error.problems)
            except InvalidInput as error:
                raise CommandError(error.message, returncode=BAD_FILE) from error
        results = [autoplay_drill(scenario=scenario) for scenario in loaded]
        if json:
            self.stdout.write(
                _json_dumps(
                    [
                        {**result.score, "passed": result.passed, "failures": result.failures}
                        for result in results
                    ]
                )
            )
        else:
            for result in results:
                self._print_score(result)
        failed = [r.run.scenario_code for r in results if not r.passed]
        if failed:
            raise CommandError(
                f"expectations not met: {', '.join(failed)}", returncode=EXPECTATION_NOT_MET
            )

    def _print_score(self, result) -> None:
        score = result.score
        figures = score["figures"]
        write = self.stdout.write
        write("")
        write(f"DRILL {score['scenario']}: {score['title']}")
        write(
            f"  drill {result.run.pk} · {result.run.crisis.reference} · simulated from "
            f"{score['sim_started_at']} for {score['elapsed']}"
        )
        if result.created_accounts:
            write(f"  cast accounts created (no password): {', '.join(result.created_accounts)}")
        languages = ", ".join(f"{k} {v:,}" for k, v in figures["signals_by_language"].items())
        responses = (score.get("autoplay") or {}).get("responses", [])
        failed = [r for r in responses if not r["ok"]]
        write(
            f"  injects {figures['injected']}/{figures['injects']} · responses {len(responses)} "
            f"({len(failed)} failed) · drill signals {figures['signals']:,}"
            + (f" ({languages})" if languages else "")
        )
        write("")
        write(f"  {'due':>8}  {'done':>8}  {'result':<12} item")
        for item in score["items"]:
            write(
                f"  {item['due']:>8}  {item['done'] or '—':>8}  {item['result_label']:<12} "
                f"{item['key']}: {item['label']} [{item['kind']}]"
            )
        totals = score["totals"]
        write("")
        write(
            f"  {_score_line(score)}  (on time {totals['on_time']}, late {totals['late']}, "
            f"missed {totals['missed']}; not yet due {totals['not_due']}, skipped "
            f"{totals['skipped']})"
        )
        if result.passed:
            write("  expect: met")
        else:
            for failure in result.failures:
                write(f"  expect NOT met: {failure}")


def _score_line(score) -> str:
    return f"score {score['percent']}%" if score.get("scored") else NOT_SCORED


def _json_dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
