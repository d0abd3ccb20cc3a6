"""Two indexes for counting a market's open queue (issue 16): each of the market's
escalations is found from the market's side and looked up among the open, non-drill ones,
both from an index alone.

The market links are Django's own table for ``Escalation.markets`` (no model of ours to
declare an index on), hence SQL; its name and columns are the same on both databases.
"""

from django.db import migrations, models

MARKET_LINKS_INDEX = "escalation_markets_by_market"


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0013_drop_redundant_queue_order"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(
                condition=models.Q(("is_drill", False), ("is_open", True)),
                fields=["id", "is_restricted"],
                name="open_queue_ids",
            ),
        ),
        migrations.RunSQL(
            sql=(
                f"CREATE INDEX IF NOT EXISTS {MARKET_LINKS_INDEX} "
                "ON escalations_escalation_markets (market_id, escalation_id)"
            ),
            reverse_sql=f"DROP INDEX IF EXISTS {MARKET_LINKS_INDEX}",
        ),
    ]
