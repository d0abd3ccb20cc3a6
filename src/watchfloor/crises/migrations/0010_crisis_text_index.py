"""The text index of crises (docs/search.md): pg_trgm on PostgreSQL, FTS5 with the
trigram tokenizer on SQLite; filled from the crises already stored."""

from django.db import migrations

from watchfloor.core.fulltext import CreateTextIndex
from watchfloor.core.pg_operations import TrigramExtensionIfPostgres


def index_existing(apps, schema_editor):
    from watchfloor.crises.search import CRISIS_TEXT

    CRISIS_TEXT.rebuild(models=apps)


class Migration(migrations.Migration):
    dependencies = [("crises", "0009_watchlist_entry_variants")]

    operations = [
        # A no-op on SQLite.
        TrigramExtensionIfPostgres(),
        CreateTextIndex(table="crises_search_text"),
        migrations.RunPython(index_existing, migrations.RunPython.noop, elidable=True),
    ]
