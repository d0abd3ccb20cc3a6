"""The drill models, taken over from the crises app with their tables and rows.

``crises.0002_watchlists_clusters_drills`` created the tables ``crises_drillrun`` and
``crises_drillinject``; ``crises.0005_drills_move_to_their_own_app`` let go of the models
in the migration state. Here they enter the drills app's state with the same tables
(``db_table``), so nothing in the database changes. The content types follow, so
permissions and admin log entries on drill runs keep pointing at them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("drillrun", "drillinject")


def content_types_to_drills(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(
        ContentType.objects.using(db)
        .filter(app_label="drills", model__in=MODELS)
        .values_list("model", flat=True)
    )
    ContentType.objects.using(db).filter(app_label="crises", model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label="drills")


def content_types_to_crises(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(
        ContentType.objects.using(db)
        .filter(app_label="crises", model__in=MODELS)
        .values_list("model", flat=True)
    )
    ContentType.objects.using(db).filter(app_label="drills", model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label="crises")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("crises", "0005_drills_move_to_their_own_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DrillRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("scenario_code", models.SlugField(max_length=64)),
                        ("scenario_title", models.CharField(max_length=200)),
                        ("scenario", models.JSONField(default=dict)),
                        ("scenario_digest", models.CharField(max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("running", "Running"),
                                    ("finished", "Finished"),
                                    ("abandoned", "Abandoned"),
                                ],
                                default="running",
                                max_length=10,
                            ),
                        ),
                        ("autoplay", models.BooleanField(default=False)),
                        ("sim_started_at", models.DateTimeField()),
                        ("sim_now", models.DateTimeField()),
                        ("started_at", models.DateTimeField()),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("score", models.JSONField(blank=True, default=dict)),
                        (
                            "crisis",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="drill",
                                to="crises.crisis",
                            ),
                        ),
                        (
                            "started_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "crises_drillrun",
                        "ordering": ["-started_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="DrillInject",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("sequence", models.PositiveIntegerField()),
                        ("offset", models.DurationField()),
                        ("kind", models.SlugField(max_length=40)),
                        ("title", models.CharField(max_length=300)),
                        ("payload", models.JSONField(default=dict)),
                        ("due_at", models.DateTimeField()),
                        ("injected_at", models.DateTimeField(blank=True, null=True)),
                        ("outcome", models.JSONField(blank=True, default=dict)),
                        (
                            "run",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="injects",
                                to="drills.drillrun",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "crises_drillinject",
                        "ordering": ["sequence"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("run", "sequence"), name="drill_inject_sequence"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_drills, content_types_to_crises),
    ]
