"""Reading drill scenario files: the scenarios directory, one file or many, a scenario by
its code. Scenarios live in ``drills/`` of the catalog directory
(``WATCHFLOOR_CATALOG_DIR``); a catalog directory without one uses the scenarios shipped
in the package (``defaults/drills/``). Every problem names the file, the path inside it
and the line, as the catalog's do::

    jp_livestream_attack.yaml:41: injects[3].at: '15 minutes' is not an offset; ...
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from pydantic import ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, YamlFile, parse_yaml_file
from watchfloor.core.errors import InvalidInput
from watchfloor.drills.scenario_checks import catalog_problems, scenario_problems
from watchfloor.drills.scenarios import Scenario

PACKAGE_SCENARIOS = Path(__file__).resolve().parent.parent / "defaults" / "drills"
SCENARIOS_DIR = "drills"


@dataclass(frozen=True)
class LoadedScenario:
    spec: Scenario
    # SHA-256 of the file as read: a drill run keeps it beside its snapshot.
    digest: str
    path: Path

    @property
    def code(self) -> str:
        return self.spec.code


class ScenarioError(ConfigFileError):
    """A scenario cannot be used."""

    code = "invalid_scenario"
    subject = "the drill scenarios"
    verb = "have"


def scenarios_directory() -> Path:
    catalog = Path(settings.WATCHFLOOR_CATALOG_DIR) / SCENARIOS_DIR
    return catalog if catalog.is_dir() and any(catalog.glob("*.yaml")) else PACKAGE_SCENARIOS


def scenario_paths(directory: Path | None = None) -> list[Path]:
    directory = directory or scenarios_directory()
    return sorted(directory.glob("*.yaml"))


def read_scenario(path: Path, *, check_catalog: bool = False) -> LoadedScenario:
    """Read and check one scenario file (raises :class:`ScenarioError`)."""
    loaded, problems = _read(Path(path), check_catalog=check_catalog)
    if problems or loaded is None:
        raise ScenarioError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return loaded


def read_scenarios(
    paths: Iterable[Path], *, check_catalog: bool = False
) -> tuple[list[LoadedScenario], list[Problem]]:
    """Every file read, and every problem found across them (codes must be unique)."""
    loaded: list[LoadedScenario] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in paths:
        scenario, found = _read(Path(path), check_catalog=check_catalog)
        problems.extend(found)
        if scenario is None or found:
            continue
        if scenario.code in seen:
            problems.append(
                Problem(
                    path.name,
                    "code",
                    None,
                    f"code '{scenario.code}' is also the code of {seen[scenario.code].name}",
                )
            )
            continue
        seen[scenario.code] = path
        loaded.append(scenario)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return loaded, problems


def find_scenario(code_or_path: str, *, directory: Path | None = None) -> LoadedScenario:
    """A scenario by its code (in the scenarios directory) or by its file's path."""
    candidate = Path(code_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise InvalidInput(f"no such file: {candidate}", field="scenario")
        return read_scenario(candidate, check_catalog=True)
    for path in scenario_paths(directory):
        if path.stem == code_or_path:
            return read_scenario(path, check_catalog=True)
    known = ", ".join(p.stem for p in scenario_paths(directory)) or "(none)"
    raise InvalidInput(f"no drill scenario '{code_or_path}'; use one of {known}", field="scenario")


def _read(path: Path, *, check_catalog: bool) -> tuple[LoadedScenario | None, list[Problem]]:
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, "", None, f"cannot be read: {exc.strerror or exc}")]
    file: YamlFile = parse_yaml_file(name, raw)
    problems = list(file.problems)
    if not file.readable:
        return None, problems
    if file.data is None:
        return None, [*problems, file.problem_at((), "the file is empty")]
    try:
        spec = Scenario.model_validate(file.data)
    except ValidationError as exc:
        return None, [*problems, *file.schema_problems(exc, Scenario)]
    problems.extend(file.problem_at(where, message) for where, message in scenario_problems(spec))
    if spec.code != path.stem:
        problems.append(
            file.problem_at(
                ("code",),
                f"code '{spec.code}' differs from the file name; name the file "
                f"{spec.code}.yaml or change the code to '{path.stem}'",
            )
        )
    if check_catalog and not problems:
        problems.extend(
            file.problem_at(where, message) for where, message in catalog_problems(spec)
        )
    if problems:
        return None, problems
    return LoadedScenario(spec=spec, digest=hashlib.sha256(raw).hexdigest(), path=path), []
