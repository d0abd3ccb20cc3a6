"""Turning pydantic's validation errors into problems a person can act on.

Used for every configuration file read through :mod:`watchfloor.catalog.loader`: a
message names the field and the value, lists the fields a mapping may have, and tells
YAML's surprises apart (``no`` read as false, a bare number read as a number).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Location


def describe_error(error: Mapping[str, Any], root: type[BaseModel], location: Location) -> str:
    """What one pydantic ``error`` at ``location`` under the model ``root`` means, in words."""
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return f"missing required field '{location[-1]}'"
    if kind == "extra_forbidden":
        model = _model_at(root, location[:-1])
        allowed = f"; the fields here are {', '.join(model.model_fields)}" if model else ""
        return f"unknown field '{location[-1]}'{allowed}"
    if kind in ("value_error", "assertion_error"):
        return str(error["ctx"]["error"])
    if kind == "string_type" and isinstance(value, bool | int | float | date):
        read_as = "true/false" if isinstance(value, bool) else type(value).__name__
        return f"expected text, but YAML read {value!r} as {read_as}; put the value in quotes"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields (key: value), got {_describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {_describe(value)}"
    if isinstance(value, str | int | float | bool | date):
        return f"{error['msg']} (got {value!r})"
    return str(error["msg"])


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (it is empty)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(root: type[BaseModel], location: Location) -> type[BaseModel] | None:
    """The model that validates the mapping at ``location``, to list its fields."""
    annotation: Any = root
    for part in location:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def locate_rubric_problems(data: Any) -> Iterator[tuple[Location, str]]:
    """Where the rules that ``Rubric`` checks on the file as a whole are broken.

    ``Rubric`` says what is wrong but, checking the whole file at once, not where;
    this finds the entries at fault so the loader can give their lines. Yields
    nothing when it cannot tell, and the loader then keeps Rubric's own message.
    """
    if not isinstance(data, dict):
        return
    severities = data.get("severities")
    severities = severities if isinstance(severities, list) else []
    previous_score: int | None = None
    for i, severity in enumerate(severities):
        if not isinstance(severity, dict):
            continue
        if severity.get("level") != i:
            yield (
                ("severities", i, "level"),
                f"expected level {i}: list severities SEV0 first, numbered 0, 1, 2, …",
            )
        score = severity.get("min_score")
        if isinstance(score, int):
            if previous_score is not None and score >= previous_score:
                yield (
                    ("severities", i, "min_score"),
                    f"min_score {score} must be lower than the previous severity's "
                    f"({previous_score}): scores fall from SEV0 to the mildest severity",
                )
            previous_score = score
    if severities and isinstance(severities[-1], dict):
        last_score = severities[-1].get("min_score")
        if isinstance(last_score, int) and last_score != 0:
            yield (
                ("severities", len(severities) - 1, "min_score"),
                "the mildest severity must have min_score 0, so that every score has a band",
            )

    factors = data.get("factors")
    factors = factors if isinstance(factors, list) else []
    answers: dict[Any, list[Any]] = {}  # keyed by what the file gives as a code
    for i, factor in enumerate(factors):
        if not isinstance(factor, dict):
            continue
        code = factor.get("code")
        if code in answers:
            yield (("factors", i, "code"), f"factor code '{code}' is used twice")
        options = factor.get("options")
        if not isinstance(options, list):
            options = []
        answers[code] = [o.get("value") for o in options if isinstance(o, dict)]

    floors = data.get("floors")
    for i, floor in enumerate(floors if isinstance(floors, list) else []):
        if not isinstance(floor, dict):
            continue
        minimum = floor.get("min_severity")
        if isinstance(minimum, int) and severities and minimum >= len(severities):
            yield (
                ("floors", i, "min_severity"),
                f"there is no SEV{minimum}; the mildest severity is SEV{len(severities) - 1}",
            )
        when = floor.get("when")
        if not isinstance(when, dict):
            when = {}
        at_least = when.get("factors_at_least")
        for code, value in (at_least if isinstance(at_least, dict) else {}).items():
            where = ("floors", i, "when", "factors_at_least", code)
            if code not in answers:
                yield (
                    where,
                    f"unknown factor '{code}'; the factors are {', '.join(map(str, answers))}",
                )
            elif value not in answers[code]:
                yield (
                    where,
                    f"'{value}' is not an answer of factor '{code}'; choose one of "
                    f"{', '.join(map(str, answers[code]))}",
                )
