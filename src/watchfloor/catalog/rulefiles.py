"""Reviewed YAML files of rules beside the catalog (signal rules, bank action rules):
read with the catalog's YAML reader, validated by a pydantic model
and by the file's own further checks, every problem at its line, versioned by the
file's SHA-256, and read again only when the file changes on disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, parse_yaml_file
from watchfloor.catalog.schema import Catalog, Location
from watchfloor.severity.rubric import parse_iso_duration

logger = logging.getLogger(__name__)

_RULE_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _rule_code(value: str) -> str:
    if not _RULE_CODE.match(value):
        raise ValueError(
            f"'{value}' is not a rule code: use lower-case letters, digits and single hyphens, "
            "e.g. trusted-source-direct"
        )
    return value


def _positive_duration(value: str) -> str:
    if parse_iso_duration(value) <= timedelta(0):
        raise ValueError(f"'{value}' must be longer than zero, e.g. PT12H or P1D")
    return value


RuleCode = Annotated[str, AfterValidator(_rule_code)]
IsoDuration = Annotated[str, AfterValidator(_positive_duration)]

SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass(frozen=True)
class CheckedFile(Generic[SpecT]):
    """A validated rules file, with the version every firing records."""

    spec: SpecT
    # SHA-256 of the file's bytes: which text applied.
    digest: str
    path: Path | None

    @property
    def version(self) -> str:
        """``<version>@<first 12 hex digits of the file's SHA-256>``: which text applied."""
        spec: Any = self.spec  # every kind of rules file has a version and its rules
        return f"{spec.version}@{self.digest[:12]}"

    @property
    def rules(self) -> list[Any]:
        spec: Any = self.spec
        return [rule for rule in spec.rules if rule.enabled]


class RuleFileKind(Generic[SpecT]):
    """One kind of rules file: its schema, its error, its further checks (given the
    catalog, when there is one to check against), where it lives by default (the setting
    ``setting``, else ``file_name`` in the catalog directory) and the rules in force."""

    def __init__(
        self,
        *,
        model: type[SpecT],
        error: type[ConfigFileError],
        checks: Callable[[SpecT, Catalog | None], Iterable[tuple[Location, str]]],
        setting: str,
        file_name: str,
        what: str,
    ) -> None:
        self.model = model
        self.error = error
        self.checks = checks
        self.setting = setting
        self.file_name = file_name
        self.what = what
        self.empty: CheckedFile[SpecT] = CheckedFile(
            model.model_validate({"version": "none"}), hashlib.sha256(b"").hexdigest(), None
        )
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int, int, str], CheckedFile[SpecT]] = {}

    def default_path(self) -> Path:
        configured = os.environ.get(self.setting) or getattr(settings, self.setting, None)
        if configured:
            return Path(configured)
        return Path(settings.WATCHFLOOR_CATALOG_DIR) / self.file_name

    def parse(
        self, name: str, raw: bytes, *, catalog: Catalog | None, path: Path | None = None
    ) -> CheckedFile[SpecT]:
        """Parse and check ``raw``; raise the kind's error with every problem, in line order."""
        file = parse_yaml_file(name, raw)
        problems = list(file.problems)
        spec: SpecT | None = None
        if file.readable:
            if file.data is None:
                problems.append(
                    file.problem_at((), "the file is empty; it needs version and rules")
                )
            else:
                try:
                    spec = self.model.model_validate(file.data)
                except ValidationError as exc:
                    problems.extend(file.schema_problems(exc, self.model))
        if spec is not None:
            problems.extend(
                file.problem_at(location, message)
                for location, message in self.checks(spec, catalog)
            )
        if problems or spec is None:
            problems.sort(key=lambda p: p.line or 0)
            raise self.error(problems, where=path or Path(name))
        return CheckedFile(spec=spec, digest=hashlib.sha256(raw).hexdigest(), path=path)

    def read(self, path: Path | None = None, *, catalog: Catalog | None) -> CheckedFile[SpecT]:
        """Read and check a file (the default one when ``path`` is None)."""
        path = Path(path) if path is not None else self.default_path()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            problem = Problem(path.name, "", None, f"no such file in {path.parent}")
            raise self.error([problem], where=path) from None
        except OSError as exc:
            problem = Problem(path.name, "", None, f"cannot be read: {exc.strerror or exc}")
            raise self.error([problem], where=path) from None
        return self.parse(path.name, raw, catalog=catalog, path=path)

    def in_force(self, catalog: Catalog | None, *, catalog_key: str = "") -> CheckedFile[SpecT]:
        """The default file, read on first use and again whenever it (or the catalog it
        is checked against) changes. A missing file means no rules; so does a broken one,
        logged as an error: the work the rules act on (signals stored, matches answered)
        never fails because of a file, and its validate command says what is wrong."""
        path = self.default_path()
        try:
            stat = path.stat()
        except FileNotFoundError:
            return self.empty
        key = (str(path), stat.st_mtime_ns, stat.st_size, catalog_key)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self.read(path, catalog=catalog)
            except self.error as exc:
                logger.error("%s are off: %s", self.what, exc.message)
                cached = self.empty
            with self._lock:
                self._cache.clear()
                self._cache[key] = cached
        return cached


# ---------------------------------------------------------------- references to the catalog


def repeated_code_problems(codes: Iterable[str]) -> Iterator[tuple[Location, str]]:
    """``rules[i].code`` given to an earlier rule too."""
    seen: dict[str, int] = {}
    for index, code in enumerate(codes):
        if code in seen:
            yield ("rules", index, "code"), f"'{code}' is also the code of rules[{seen[code]}]"
        else:
            seen[code] = index


def listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def escalation_type_problems(
    catalog: Catalog, located_codes: Iterable[tuple[Location, str]]
) -> Iterator[tuple[Location, str]]:
    types = {t.code for t in catalog.escalation_types.escalation_types}
    for location, code in located_codes:
        if code not in types:
            yield location, f"unknown escalation type '{code}'; use one of {listing(types)}"


def rubric_answer_problems(
    catalog: Catalog, where: Location, answers: Mapping[str, str]
) -> Iterator[tuple[Location, str]]:
    """Pre-filled rubric answers (``factor: answer``) that the rubric does not know."""
    factors = {factor.code: factor for factor in catalog.rubric.factors}
    for factor_code, answer in answers.items():
        factor = factors.get(factor_code)
        if factor is None:
            yield (
                (*where, factor_code),
                f"'{factor_code}' is not a rubric factor; use one of {listing(factors)}",
            )
        elif answer not in {option.value for option in factor.options}:
            yield (
                (*where, factor_code),
                f"'{answer}' is not an answer to {factor_code}; use one of "
                f"{', '.join(option.value for option in factor.options)}",
            )


def market_problems(
    catalog: Catalog, where: Location, codes: Iterable[str], *, noun: str = "market"
) -> Iterator[tuple[Location, str]]:
    markets = {market.code for market in catalog.markets.markets}
    for index, code in enumerate(codes):
        if code not in markets:
            yield (*where, index), f"unknown {noun} '{code}'; use one of {listing(markets)}"
