from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0005_rotation_shift_graphic_content_duty"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="profile_version",
            field=models.PositiveIntegerField(default=1),
        ),
    ]
