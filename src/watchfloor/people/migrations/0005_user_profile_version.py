from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_account_access_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="profile_version",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
