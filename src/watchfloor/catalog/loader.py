"""Reading a catalog directory: YAML files in, one validated :class:`Catalog` out.

Every problem names the file, the dotted path inside it and the line, so a reviewer
goes straight to it::

    rubric.yaml:74: factors[2].options[1].points: ...

YAML is composed into nodes first (which carry their line), then constructed into
plain data, so each path in the data can be traced back to a line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from watchfloor.catalog.schema import (
    CATALOG_FILES,
    Catalog,
    CatalogSchemaError,
    Location,
    format_location,
    validate_catalog,
)
from watchfloor.catalog.schema_messages import describe_error
from watchfloor.core.errors import InvalidInput

# Bounds of every YAML file read (catalog, playbooks, rotas, rules, drills, policies):
# a reviewed file is a few thousand values, a few levels deep, with few aliases if any.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1_000
MAX_YAML_NODES = 200_000


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigFileError(InvalidInput):
    """A configuration file (or a directory of them) cannot be used; ``problems`` lists
    everything found, in file order. Each kind of file subclasses it with its own error
    ``code`` and the words that name it (``subject``, with ``{where}`` for its path)."""

    code = "invalid_config"
    subject = "the configuration in {where}"
    # "has 3 problems" or "have 3 problems", after the subject's number.
    verb = "has"

    def __init__(self, problems: Sequence[Problem], *, where: Path | None = None):
        self.problems = list(problems)
        self.where = where
        count = len(self.problems)
        super().__init__(
            f"{self.subject.format(where=where)} {self.verb} {count} "
            f"problem{'s' if count != 1 else ''}:\n"
            + "\n".join(str(problem) for problem in self.problems)
        )


class CatalogError(ConfigFileError):
    """The catalog cannot be used."""

    code = "invalid_catalog"
    subject = "the catalog in {where}"


@dataclass(frozen=True)
class LoadedCatalog:
    catalog: Catalog
    # SHA-256 over the catalog files in name order: what a CatalogVersion is keyed by.
    digest: str
    directory: Path


@dataclass
class _ParsedFile:
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _UnreadableFile(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def read_catalog(directory: Path) -> LoadedCatalog:
    """Read and validate every catalog file in ``directory``.

    Raises :class:`CatalogError` with all the problems found: missing files, YAML
    that does not parse, and schema and cross-file problems of the files that do.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError(
            [
                Problem(
                    str(directory),
                    "",
                    None,
                    "is not a directory; give the folder that holds "
                    f"{', '.join(CATALOG_FILES.values())}",
                )
            ],
            where=directory,
        )
    problems: list[Problem] = []
    parsed: dict[str, _ParsedFile] = {}
    digest = hashlib.sha256()
    for name in sorted(CATALOG_FILES.values()):
        path = directory / name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            problems.append(Problem(name, "", None, "file is missing; every catalog needs it"))
            continue
        except OSError as exc:
            problems.append(Problem(name, "", None, f"cannot be read: {exc.strerror or exc}"))
            continue
        # Name and length go in too, so moving text from one file to another changes it.
        digest.update(f"{name}\0{len(raw)}\0".encode())
        digest.update(raw)
        try:
            parsed[name] = _parse_yaml(name, raw)
        except _UnreadableFile as exc:
            problems.append(Problem(name, "", exc.line, exc.message))
            continue
        problems.extend(parsed[name].problems)

    catalog: Catalog | None = None
    try:
        catalog = validate_catalog({name: file.data for name, file in parsed.items()})
    except CatalogSchemaError as exc:
        unreadable = set(CATALOG_FILES.values()) - set(parsed)
        for problem in exc.problems:
            if problem.file in unreadable and not problem.location:
                continue  # a missing or unreadable file, reported above
            line = None
            if problem.file in parsed:  # an empty file has no lines to point at: say line 1
                line = _line_for(parsed[problem.file].lines, problem.location) or 1
            problems.append(
                Problem(problem.file, format_location(problem.location), line, problem.message)
            )
    if problems or catalog is None:
        problems.sort(key=lambda p: (p.file, p.line or 0))
        raise CatalogError(problems, where=directory)
    return LoadedCatalog(catalog=catalog, digest=digest.hexdigest(), directory=directory.resolve())


def _parse_yaml(name: str, raw: bytes) -> _ParsedFile:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _UnreadableFile(line, "is not UTF-8 text; save the file as UTF-8") from None
    if len(raw) > MAX_YAML_BYTES:
        raise _UnreadableFile(
            None,
            f"is {len(raw):,} bytes; a reviewed file is far smaller (the limit is "
            f"{MAX_YAML_BYTES:,})",
        )
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:  # characters YAML does not allow, e.g. control codes
        line = text[: exc.position].count("\n") + 1
        raise _UnreadableFile(line, f"not valid YAML: {exc.reason}") from None
    try:
        node = loader.get_single_node()
        # Before anything walks the document: an alias is a reference, so nine aliases of
        # nine aliases of ... make a few hundred bytes that expand to billions of nodes.
        if node is not None:
            _check_expanded_size(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise _UnreadableFile(mark.line + 1 if mark else None, _describe_yaml_error(exc)) from None
    finally:
        loader.dispose()
    parsed = _ParsedFile(data=data)
    if node is not None:
        _index_lines(name, node, (), parsed, frozenset())
    return parsed


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents nested deeper than ``MAX_YAML_DEPTH``
    (its composer recurses, and would exhaust the stack) or using more than
    ``MAX_YAML_ALIASES`` aliases, as it composes them."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _UnreadableFile(
                    event.start_mark.line + 1 if event.start_mark is not None else None,
                    f"uses more than {MAX_YAML_ALIASES} aliases (*name); write the values out",
                )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _UnreadableFile(
                    event.start_mark.line + 1,
                    f"is nested more than {MAX_YAML_DEPTH} levels deep",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document with more than ``MAX_YAML_NODES`` nodes, or nested deeper than
    ``MAX_YAML_DEPTH``, once its aliases are expanded; each distinct node is measured
    once, so the cost is the file's, not the expansion's. A node that refers back to its
    own ancestor counts once, as ``_index_lines`` walks it."""
    measured: dict[int, tuple[int, int]] = {}  # id → (nodes, depth) once expanded

    def measure(node: yaml.Node, on_path: frozenset[int]) -> tuple[int, int]:
        known = measured.get(id(node))
        if known is not None:
            return known
        if id(node) in on_path:
            return 1, 1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        inner = on_path | {id(node)}
        nodes, depth = 1, 1
        for child in children:
            child_nodes, child_depth = measure(child, inner)
            nodes += child_nodes
            depth = max(depth, child_depth + 1)
            if nodes > MAX_YAML_NODES:
                raise _UnreadableFile(
                    node.start_mark.line + 1,
                    f"expands to more than {MAX_YAML_NODES:,} values once its aliases (*name) "
                    "are followed; write the values out or use fewer aliases",
                )
            if depth > MAX_YAML_DEPTH:
                raise _UnreadableFile(
                    child.start_mark.line + 1,
                    f"is nested more than {MAX_YAML_DEPTH} levels deep once its aliases "
                    "(*name) are followed",
                )
        measured[id(node)] = (nodes, depth)
        return nodes, depth

    measure(root, frozenset())


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "unexpected text"
    message = f"not valid YAML: {problem}"
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark is not exc.problem_mark:
            context += f" that starts on line {exc.context_mark.line + 1}"
        message += f" ({context})"
    if "'\\t'" in problem:
        message += "; indent with spaces, not tabs"
    elif "found ','" in problem or "mapping values are not allowed" in problem:
        message += "; put text that contains ': ' or ',' in quotes"
    return message


def _index_lines(
    name: str, node: yaml.Node, location: Location, parsed: _ParsedFile, on_path: frozenset[int]
) -> None:
    """Record the line of every path in the document, and flag repeated keys."""
    parsed.lines.setdefault(location, node.start_mark.line + 1)
    if id(node) in on_path:  # an alias that refers back to its own ancestor
        return
    on_path = on_path | {id(node)}
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            child = (*location, key)
            if key in first_line:
                parsed.problems.append(
                    Problem(
                        name,
                        format_location(child),
                        line,
                        f"'{key}' is given twice (first on line {first_line[key]}); "
                        "YAML would silently keep only the last",
                    )
                )
            else:
                first_line[key] = line
            # A key's own line, not its value's: a nested block starts on the next line.
            parsed.lines[child] = line
            _index_lines(name, value_node, child, parsed, on_path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(name, item, (*location, index), parsed, on_path)


def _line_for(lines: dict[Location, int], location: Location) -> int | None:
    """The line of ``location``, or of its nearest ancestor when it is absent (a missing field)."""
    for end in range(len(location), -1, -1):
        line = lines.get(location[:end])
        if line is not None:
            return line
    return None


# For other loaders of reviewed YAML files (playbooks, communication templates): the same
# parsing, line mapping and wording of schema errors as the catalog's own files.


@dataclass(frozen=True)
class YamlFile:
    """One YAML file, parsed, with the line of every path in it.

    ``problems`` holds what parsing found (repeated keys, or the one problem that kept
    the file from parsing, in which case ``data`` is None and ``readable`` is False).
    """

    name: str
    data: Any
    lines: dict[Location, int]
    problems: list[Problem]
    readable: bool

    def problem_at(self, location: Location, message: str) -> Problem:
        """A problem at ``location``, on its line (or its nearest ancestor's)."""
        line = (_line_for(self.lines, location) or 1) if self.readable else None
        return Problem(self.name, format_location(location), line, message)

    def schema_problems(self, error: ValidationError, model: type[BaseModel]) -> list[Problem]:
        """pydantic's errors for this file, worded as the catalog words its own."""
        return [
            self.problem_at(tuple(item["loc"]), describe_error(item, model, tuple(item["loc"])))
            for item in error.errors()
        ]


def parse_yaml_file(name: str, raw: bytes) -> YamlFile:
    """Parse ``raw`` as the file called ``name``; never raises for bad content."""
    try:
        parsed = _parse_yaml(name, raw)
    except _UnreadableFile as exc:
        return YamlFile(name, None, {}, [Problem(name, "", exc.line, exc.message)], False)
    return YamlFile(name, parsed.data, parsed.lines, list(parsed.problems), True)
