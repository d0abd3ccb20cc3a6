"""Reads shared for the length of one unit of work, such as a reaction pass.

A pass of the reactions may fire hundreds of rules, and each firing files an
escalation, which reads the catalog in force and the playbook library again: the same
rows, a statement and a few model instances each time. Inside :func:`shared_reads`,
a function marked :func:`shared_within` runs once per set of arguments and its answer
is reused until the block ends; outside one it runs every time, as before.

So a pass sees one catalog and one playbook library from start to end, as if a catalog
loaded meanwhile had been loaded a moment after the pass began. Only reads whose answer
callers do not change belong here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_answers: ContextVar[dict[Hashable, Any] | None] = ContextVar("shared_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Share the answers of ``shared_within`` reads until the block ends (nested blocks
    share the outer one's)."""
    if _answers.get() is not None:
        yield
        return
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def shared_within(function: Callable[P, R]) -> Callable[P, R]:
    """Mark a read whose answer may be shared inside :func:`shared_reads`; its arguments
    must be hashable. An error is not kept: the next call reads again."""

    @wraps(function)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        answers = _answers.get()
        if answers is None:
            return function(*args, **kwargs)
        key = (function.__module__, function.__qualname__, args, tuple(sorted(kwargs.items())))
        if key not in answers:
            answers[key] = function(*args, **kwargs)
        answer: R = answers[key]
        return answer

    return read
