"""The drill models (DrillRun, DrillInject) move to the drills app.

State only: their tables (crises_drillrun, crises_drillinject) and every row stay where
they are; ``drills.0001_initial`` takes the models over with the same table names.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crises", "0004_decision_log_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="DrillInject"),
                migrations.DeleteModel(name="DrillRun"),
            ],
            database_operations=[],
        ),
    ]
