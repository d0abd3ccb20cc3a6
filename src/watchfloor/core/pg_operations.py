"""Migration operations for PostgreSQL-only features that must stay no-ops on SQLite.

Imported by migrations only: ``django.contrib.postgres`` has no place at start-up.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import TrigramExtension


class TrigramExtensionIfPostgres(TrigramExtension):
    """Django's ``TrigramExtension`` (a no-op on SQLite), kept when migrating back.

    Several apps' text indexes use the extension, so the migration of one of them going
    back cannot drop it (PostgreSQL refuses while another index depends on it); an
    installed extension nothing uses costs nothing. Django's own operation would also
    look the extension up in ``pg_extension`` on SQLite going back, and fail.
    """

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None
