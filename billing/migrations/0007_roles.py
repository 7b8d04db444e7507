from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_payment_notifications_append_only")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
