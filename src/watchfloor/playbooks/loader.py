"""Reading a playbook library: one YAML file per playbook, one per communication template.

Every problem names the file, the path inside it and the line, like the catalog's::

    violent_attack_content.yaml:41: steps[3].owner.team: unknown team 'comms'; ...

Parsing and line mapping are the catalog loader's (``parse_yaml_file``); this module
adds what is particular to a library: a file per code, and the cross-checks of
:mod:`watchfloor.playbooks.consistency` against the catalog and the templates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from django.conf import settings
from pydantic import ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, YamlFile, parse_yaml_file
from watchfloor.catalog.schema import Catalog
from watchfloor.playbooks.consistency import References, playbook_problems, template_problems
from watchfloor.playbooks.schema import PlaybookSpec, TemplateSpec

SpecT = TypeVar("SpecT", PlaybookSpec, TemplateSpec)
YAML_SUFFIXES = (".yaml", ".yml")


def default_playbook_dir() -> Path:
    return Path(settings.WATCHFLOOR_CATALOG_DIR) / "playbooks"


def default_comms_dir(playbook_dir: Path | None = None) -> Path:
    """Templates live beside the playbooks: ``<library>/comms`` next to ``<library>/playbooks``."""
    base = Path(playbook_dir) if playbook_dir is not None else default_playbook_dir()
    return base.parent / "comms"


class PlaybookLibraryError(ConfigFileError):
    """The library cannot be used."""

    code = "invalid_playbooks"
    subject = "the playbook library in {where}"


@dataclass(frozen=True)
class LoadedFile(Generic[SpecT]):
    spec: SpecT
    digest: str
    source_text: str
    path: Path


@dataclass(frozen=True)
class Library:
    playbooks: list[LoadedFile[PlaybookSpec]]
    templates: list[LoadedFile[TemplateSpec]]
    playbook_dir: Path
    comms_dir: Path


def read_library(
    *, catalog: Catalog, playbook_dir: Path | None = None, comms_dir: Path | None = None
) -> Library:
    """Read and check every template and playbook; raise with all problems found.

    Without a templates directory there is nothing to check the playbooks' template names
    against, so that alone is reported, saying what was expected where.
    """
    playbook_dir = Path(playbook_dir) if playbook_dir is not None else default_playbook_dir()
    given = comms_dir is not None
    comms_dir = Path(comms_dir) if comms_dir is not None else default_comms_dir(playbook_dir)
    if not comms_dir.is_dir():
        raise PlaybookLibraryError(
            [Problem(str(comms_dir), "", None, _missing_comms(comms_dir, playbook_dir, given))],
            where=playbook_dir,
        )
    problems: list[Problem] = []

    templates: list[LoadedFile[TemplateSpec]] = []
    for file, raw in _files(comms_dir, "communication template", problems):
        loaded = _validated(file, raw, TemplateSpec, comms_dir, problems)
        if loaded is not None:
            problems.extend(
                file.problem_at(loc, msg) for loc, msg in template_problems(loaded.spec)
            )
            templates.append(loaded)
    _no_duplicate_codes(templates, problems)

    references = References.from_catalog(catalog, templates=[t.spec.code for t in templates])
    playbooks: list[LoadedFile[PlaybookSpec]] = []
    for file, raw in _files(playbook_dir, "playbook", problems):
        playbook = _validated(file, raw, PlaybookSpec, playbook_dir, problems)
        if playbook is not None:
            problems.extend(
                file.problem_at(loc, msg)
                for loc, msg in playbook_problems(playbook.spec, references)
            )
            playbooks.append(playbook)
    _no_duplicate_codes(playbooks, problems)

    if problems:
        problems.sort(key=lambda p: (p.file, p.line or 0))
        raise PlaybookLibraryError(problems, where=playbook_dir)
    return Library(
        playbooks=playbooks,
        templates=templates,
        playbook_dir=playbook_dir.resolve(),
        comms_dir=comms_dir.resolve(),
    )


def _missing_comms(comms_dir: Path, playbook_dir: Path, given: bool) -> str:
    if given:
        return (
            "expected the communication templates directory (one YAML file per template) "
            "here, but there is no such directory"
        )
    return (
        "expected the communication templates here: playbooks name templates, which are "
        "read from the `comms` directory beside the playbooks directory "
        f"({playbook_dir}), and there is none. Create {comms_dir} with the templates "
        "(the defaults are in the catalog's comms folder), or name another directory "
        "with --comms DIR"
    )


def _files(directory: Path, what: str, problems: list[Problem]) -> list[tuple[YamlFile, bytes]]:
    if not directory.is_dir():
        problems.append(
            Problem(str(directory), "", None, f"is not a directory of {what} files (*.yaml)")
        )
        return []
    paths = sorted(p for p in directory.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
    if not paths:
        problems.append(Problem(str(directory), "", None, f"holds no {what} files (*.yaml)"))
    files = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(path.name, "", None, f"cannot be read: {exc.strerror or exc}"))
            continue
        file = parse_yaml_file(path.name, raw)
        problems.extend(file.problems)
        files.append((file, raw))
    return files


def _validated(
    file: YamlFile, raw: bytes, model: type[SpecT], directory: Path, problems: list[Problem]
) -> LoadedFile[SpecT] | None:
    if not file.readable:
        return None
    if file.data is None:
        problems.append(file.problem_at((), "the file is empty"))
        return None
    try:
        spec = model.model_validate(file.data)
    except ValidationError as exc:
        problems.extend(file.schema_problems(exc, model))
        return None
    stem = Path(file.name).stem
    if spec.code != stem:
        problems.append(
            file.problem_at(
                ("code",),
                f"code '{spec.code}' differs from the file name; name the file "
                f"{spec.code}.yaml or change the code to '{stem}'",
            )
        )
        return None
    return LoadedFile(
        spec=spec,
        digest=hashlib.sha256(raw).hexdigest(),
        source_text=raw.decode("utf-8"),
        path=(directory / file.name).resolve(),
    )


def _no_duplicate_codes(files: Sequence[LoadedFile], problems: list[Problem]) -> None:
    # A file per code makes duplicates impossible on a case-sensitive file system, but
    # "a.yaml" and "a.yml" can both exist.
    seen: dict[str, str] = {}
    for loaded in files:
        code = loaded.spec.code
        if code in seen:
            problems.append(
                Problem(loaded.path.name, "code", 1, f"'{code}' is also defined in {seen[code]}")
            )
        else:
            seen[code] = loaded.path.name
