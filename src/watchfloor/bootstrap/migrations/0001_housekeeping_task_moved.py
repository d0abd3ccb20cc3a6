"""The housekeeping sweep moved from notify.tasks to bootstrap.scheduler: a waiting row
written by an older version names the old path, so point it at the new one (and back,
when migrating down)."""

from django.db import migrations

OLD = "watchfloor.notify.tasks.housekeeping_sweep"
NEW = "watchfloor.bootstrap.scheduler.housekeeping_sweep"


def _rename(apps, old: str, new: str) -> None:
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    DBTaskResult.objects.filter(task_path=old).update(task_path=new)


def forwards(apps, schema_editor):
    _rename(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _rename(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("django_tasks_database", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
