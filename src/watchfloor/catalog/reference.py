"""How an app writes its section of the catalog's reference data.

The catalog sits below the apps whose rows it describes (policy, markets, people,
escalations), so it cannot write them itself: each of those apps registers an applier in
its ``AppConfig.ready()``, and ``catalog.services.load_catalog`` runs every applier
inside its transaction. :class:`Upserter` is the shared way to write rows by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import models

from watchfloor.severity.rubric import parse_iso_duration

if TYPE_CHECKING:
    from watchfloor.catalog.schema import Catalog


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows in the database that the catalog no longer lists; kept, never deleted.
    not_in_catalog: int = 0


class Upserter:
    """Creates or updates the rows of one model by key, writing only what changed."""

    def __init__(self, model: type[models.Model], rows: dict[Any, models.Model]):
        self.model = model
        self.rows = rows
        self.seen: set[Any] = set()
        self.tally = Tally()

    @classmethod
    def by_code(cls, model: type[models.Model]) -> Upserter:
        rows: Iterable[Any] = model._default_manager.all()  # models with a ``code`` field
        return cls(model, {row.code: row for row in rows})

    def upsert(self, key: Any, values: dict[str, Any]) -> models.Model:
        self.seen.add(key)
        row = self.rows.get(key)
        if row is None:
            row = self.model._default_manager.create(**values)
            self.rows[key] = row
            self.tally.created += 1
            return row
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, values[name])
            row.save(update_fields=changed)
            self.tally.updated += 1
        else:
            self.tally.unchanged += 1
        return row

    def done(self) -> Tally:
        self.tally.not_in_catalog = len(set(self.rows) - self.seen)
        return self.tally


def duration(text: str | None) -> timedelta | None:
    """An optional ISO 8601 duration from a catalog file."""
    return parse_iso_duration(text) if text is not None else None


# An applier writes one app's rows for a validated catalog and says what changed, keyed
# by kind of row ("markets", "statutory_rules", ...).
ReferenceDataApplier = Callable[["Catalog"], dict[str, Tally]]

_appliers: dict[str, ReferenceDataApplier] = {}


def register_reference_data(name: str, applier: ReferenceDataApplier) -> None:
    """Register (or replace, by name) an app's applier; they run in registration order,
    which is the order of INSTALLED_APPS."""
    _appliers[name] = applier


def reference_data_appliers() -> list[ReferenceDataApplier]:
    return list(_appliers.values())
