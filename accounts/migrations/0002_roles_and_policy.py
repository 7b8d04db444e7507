from django.db import migrations

from accounts.roles import sync_roles


def create_policy(apps, schema_editor):
    apps.get_model("accounts", "CreditPolicy").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
        migrations.RunPython(create_policy, migrations.RunPython.noop),
    ]
