"""Migration operations for PostgreSQL-only features that must stay no-ops on SQLite.

Imported by migrations only: ``django.contrib.postgres`` has no place at start-up.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import TrigramExtension


class TrigramExtensionIfPostgres(TrigramExtension):
    """Django's ``TrigramExtension``, a no-op on SQLite both ways: Django's own skips
    SQLite going forwards but looks the extension up in ``pg_extension`` going back."""

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
