"""API tokens get scopes, an expiry and who revoked them.

Tokens made before could do everything the API offered then (read, write, ingest), so
they keep those scopes; they never expired, so they get 90 days from this migration to be
replaced rather than stopping at once."""

from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def grandfather_existing_tokens(apps, schema_editor):
    APIToken = apps.get_model("people", "APIToken")
    expires_at = timezone.now() + timedelta(days=90)
    APIToken.objects.filter(expires_at__isnull=True).update(
        scopes=["read", "write", "ingest"], expires_at=expires_at
    )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0002_rotas_and_working_hours"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="apitoken",
            options={"verbose_name": "API token"},
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list, help_text="TokenScope values"),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(grandfather_existing_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
