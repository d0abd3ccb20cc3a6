"""The starter list of term variants: spellings of one word that a watchlist term should
match together (``バカ`` and ``馬鹿``; ``시발``, ``ㅅㅂ`` and ``씨발``).

Matching already folds what can be folded by rule (katakana and hiragana, full and half
width, case, Latin diacritics, spaces between East Asian letters; see
``crises.matching``). What no rule can tell, such as a kanji spelling of a kana word or
a consonant-only abbreviation of a Korean word, is listed in ``term_variants.yaml``: in
the catalog directory (``WATCHFLOOR_CATALOG_DIR``) when it has one, else the file
shipped in the package. When a term is added to a watchlist without variants of its
own, the other spellings of its group are added as its variants (and shown and audited
with it); the analyst can give others, or none.

The file is validated like the other settings files: every problem names the file, the
line and the path, and ``watchfloor crises check`` reports them::

    term_variants.yaml:7: groups[1].spellings[2]: '!!' has no letters or digits ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from watchfloor.catalog.loader import ConfigFileError, Problem, YamlFile, parse_yaml_file
from watchfloor.core.errors import InvalidInput
from watchfloor.crises.matching import VALUE_MAX, normalise_term

__all__ = [
    "VARIANTS_FILE",
    "VARIANTS_MAX",
    "TermVariants",
    "TermVariantsError",
    "read_term_variants",
    "starter_variants",
    "term_variants",
    "variants_path",
]

VARIANTS_FILE = "term_variants.yaml"
# Spellings per group, and variants per watchlist entry.
VARIANTS_MAX = 20
PACKAGE_DEFAULTS = Path(__file__).resolve().parent.parent / "defaults"

Spelling = Annotated[str, Field(min_length=1, max_length=VALUE_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariantGroup(_Strict):
    spellings: list[Spelling] = Field(min_length=2, max_length=VARIANTS_MAX)
    meaning: str = Field(default="", max_length=200)


class VariantsFile(_Strict):
    groups: list[VariantGroup] = Field(default_factory=list)


@dataclass(frozen=True)
class TermVariants:
    """The groups, and for each normalised spelling the group it belongs to."""

    groups: tuple[VariantGroup, ...]
    group_of: dict[str, int]
    path: Path

    def others(self, normalised: str) -> list[str]:
        """The spellings of ``normalised``'s group that match differently from it."""
        index = self.group_of.get(normalised)
        if index is None:
            return []
        return [
            spelling
            for spelling in self.groups[index].spellings
            if normalise_term(spelling) != normalised
        ]


class TermVariantsError(ConfigFileError):
    """The starter list of term variants cannot be used."""

    code = "invalid_term_variants"
    subject = "the term variants in {where}"
    verb = "have"


def variants_path() -> Path:
    catalog = Path(settings.WATCHFLOOR_CATALOG_DIR) / VARIANTS_FILE
    return catalog if catalog.is_file() else PACKAGE_DEFAULTS / VARIANTS_FILE


def read_term_variants(path: Path) -> TermVariants:
    """The file at ``path``, validated (raises :class:`TermVariantsError`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = Problem(path.name, "", None, f"cannot be read: {exc.strerror or exc}")
        raise TermVariantsError([problem], where=path) from exc
    file = parse_yaml_file(path.name, raw)
    problems = list(file.problems)
    parsed = _validated(file, problems)
    groups = parsed.groups if parsed is not None else []
    group_of: dict[str, int] = {}
    for index, group in enumerate(groups):
        problems_before = len(problems)
        forms: set[str] = set()
        for position, spelling in enumerate(group.spellings):
            location = ("groups", index, "spellings", position)
            normalised = normalise_term(spelling)
            if not normalised:
                problems.append(file.problem_at(location, f"'{spelling}' has no letters or digits"))
                continue
            earlier = group_of.get(normalised)
            if earlier is not None and earlier != index:
                problems.append(
                    file.problem_at(
                        location,
                        f"'{spelling}' is also in groups[{earlier}]; a spelling belongs to "
                        "one group (merge the two)",
                    )
                )
                continue
            group_of[normalised] = index
            forms.add(normalised)
        if len(forms) == 1 and len(problems) == problems_before:
            problems.append(
                file.problem_at(
                    ("groups", index, "spellings"),
                    "these spellings already match each other (katakana and hiragana, "
                    "width, case and spaces are folded); list only spellings that differ",
                )
            )
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise TermVariantsError(problems, where=path)
    return TermVariants(groups=tuple(groups), group_of=group_of, path=path)


def _validated(file: YamlFile, problems: list[Problem]) -> VariantsFile | None:
    if not file.readable:
        return None
    if file.data is None:
        return VariantsFile()
    try:
        return VariantsFile.model_validate(file.data)
    except ValidationError as exc:
        problems.extend(file.schema_problems(exc, VariantsFile))
        return None


# Parsed once per file version: a changed file (size or time) is read again.
_cache: dict[Path, tuple[tuple[int, int], TermVariants]] = {}


def term_variants(path: Path | None = None) -> TermVariants:
    """The starter list in force (raises :class:`TermVariantsError`)."""
    path = path or variants_path()
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = (0, -1)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = read_term_variants(path)
    _cache[path] = (stamp, loaded)
    return loaded


def starter_variants(normalised: str) -> list[str]:
    """The starter list's other spellings of a normalised term (none when it is not
    listed). A broken file is an error naming the file, not a silent empty list."""
    try:
        return term_variants().others(normalised)
    except TermVariantsError as exc:
        raise InvalidInput(str(exc), field="variants") from exc
