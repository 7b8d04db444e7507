from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("accounts", "0004_institutionapikey"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
