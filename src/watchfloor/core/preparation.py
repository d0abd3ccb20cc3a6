"""Preparing a database for use: migrate, then let each app make sure its own reference
data is there (the catalog, the playbook library).

Apps register a preparer in their ``AppConfig.ready()``; any command that needs a usable
database (serve, demo, drills, ingest) calls :func:`prepare_database`, so none of them
has to know which apps keep reference data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from django.core.management import call_command


class Output(Protocol):
    def write(self, msg: str = "", /, *args: object, **kwargs: object) -> None: ...


# A preparer returns a line to show when it did something, or None when all was there.
Preparer = Callable[[], "str | None"]

_preparers: list[tuple[str, Preparer]] = []


def register_preparer(name: str, preparer: Preparer) -> None:
    """Add (or replace, by name) a step run after migrating; order of registration is
    the order of running, which follows INSTALLED_APPS."""
    for index, (existing, _) in enumerate(_preparers):
        if existing == name:
            _preparers[index] = (name, preparer)
            return
    _preparers.append((name, preparer))


def prepare_database(*, stdout: Output | None = None) -> None:
    """Migrate and run every registered preparer. Safe to run on every start."""
    call_command("migrate", interactive=False, verbosity=0)
    for _name, preparer in _preparers:
        said = preparer()
        if said and stdout is not None:
            stdout.write(said)
