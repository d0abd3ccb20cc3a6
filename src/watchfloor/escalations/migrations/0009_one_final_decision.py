"""At most one final decision per escalation, held by the database. Its own migration, so
that on PostgreSQL the index is built in a transaction of its own, after the rows that
0006 marked superseded are committed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0008_decision_supersedes"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.UniqueConstraint(condition=models.Q(('state', 'final')), fields=('escalation',), name='one_final_decision_per_escalation'),
        ),
    ]
