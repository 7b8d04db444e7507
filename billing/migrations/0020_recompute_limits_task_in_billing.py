"""The nightly recomputation of credit limits moved from accounts.tasks to billing.tasks (it
reads the repayment record from bills): a schedule row kept under the old name follows."""

from django.db import migrations
from django.utils import timezone

OLD, NEW = "accounts.tasks.recompute_credit_limits", "billing.tasks.recompute_credit_limits"


def rename(apps, schema_editor, old=OLD, new=NEW):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(task=old).update(task=new):
        # What PeriodicTasks.update_changed() does: a running beat reloads its schedule.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0019_one_charges_path"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
