"""What every app's JSON API shares: identifiers, bounded text, times, the input base
that refuses unknown fields, the error shape and the error responses each operation
declares. One home, so every endpoint validates and fails the same way.

The actor of a request is ``people.auth.request_actor``; the error mapping itself is
``watchfloor.api``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol, overload

from annotated_types import GroupedMetadata
from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StringConstraints

from watchfloor.core.validation import TIME_RANGE, control_character_problem, within_time_range


class Person(Protocol):
    """What an API response shows of a person (``people.models.User`` has it)."""

    @property
    def username(self) -> str: ...

    @property
    def display_name(self) -> str: ...


# Ids fit every database's 64-bit integers and JavaScript's exact integers; anything
# larger is refused by validation instead of overflowing inside the database driver.
MAX_ID = 2**53 - 1
MAX_OFFSET = 1_000_000


def storable(value: str) -> str:
    """Refuse text no database can store faithfully (PostgreSQL rejects NUL outright) or
    that carries control characters into what people read (``core.validation``)."""
    problem = control_character_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


@dataclass(frozen=True)
class text(GroupedMetadata):
    """Bounded, storable text: ``Annotated[str, text(500, min_length=1)]``.

    The bounds are metadata of ``str`` rather than a type made by a call, so the type
    checker sees a ``str`` and pydantic sees the length limits and the storability check.
    """

    max_length: int
    min_length: int = 0

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(storable)


def _within_calendar(value: datetime) -> datetime:
    # Checked before converting: near the ends of the calendar the conversion overflows.
    if not within_time_range(value):
        raise ValueError(f"times must fall in {TIME_RANGE}; check the year")
    return value.astimezone(UTC)


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Code = Annotated[str, text(80)]
Username = Annotated[str, text(150)]
# RFC 3339: a time with its UTC offset ("Z" or "+09:00"). Naive times are refused because
# a statutory clock that silently ran in the wrong zone is worse than an error.
Moment = Annotated[AwareDatetime, AfterValidator(_within_calendar)]
UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
SeverityLevel = Annotated[int, Field(ge=0, le=4)]


class Input(Schema):
    # A misspelt field ("rubric_answer") is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str = Field(description="machine-readable, e.g. invalid, not_found, conflict")
    message: str = Field(description="what is wrong and how to fix it")
    field: str | None = Field(description="dotted location of the field at fault, if any")


class PersonOut(Schema):
    username: str
    display_name: str

    @overload
    @classmethod
    def build(cls, user: Person) -> PersonOut: ...

    @overload
    @classmethod
    def build(cls, user: None) -> None: ...

    @overload
    @classmethod
    def build(cls, user: Person | None) -> PersonOut | None: ...

    @classmethod
    def build(cls, user: Person | None) -> PersonOut | None:
        if user is None:
            return None
        return cls(username=user.username, display_name=user.display_name)


READ_ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
}
WRITE_ERRORS: dict[int, type[Schema]] = {**READ_ERRORS, 409: ErrorOut}
