from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    """The "Integration staff" role: an institution's IT staff manage its endpoints."""

    dependencies = [
        ("webhooks", "0001_initial"),
        ("billing", "0036_einvoices"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
