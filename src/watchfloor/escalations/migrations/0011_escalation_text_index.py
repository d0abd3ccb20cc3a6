"""The text index of escalations (docs/search.md): pg_trgm on PostgreSQL, FTS5 with the
trigram tokenizer on SQLite; filled from the escalations already stored."""

from django.db import migrations

from watchfloor.core.fulltext import CreateTextIndex
from watchfloor.core.pg_operations import TrigramExtensionIfPostgres


def index_existing(apps, schema_editor):
    from watchfloor.escalations.text_index import ESCALATION_TEXT

    ESCALATION_TEXT.rebuild(models=apps)


class Migration(migrations.Migration):
    dependencies = [("escalations", "0010_queue_deadline_and_approvals")]

    operations = [
        # A no-op on SQLite, both ways.
        TrigramExtensionIfPostgres(),
        CreateTextIndex(table="escalations_search_text"),
        migrations.RunPython(index_existing, migrations.RunPython.noop, elidable=True),
    ]
