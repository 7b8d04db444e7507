"""The database itself refuses UPDATE and DELETE on the append-only records, so a bulk
``QuerySet.update()`` or a hand-written statement cannot rewrite history either."""

from django.db import migrations

from creditcare.db import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_roles"),
        ("accounts", "0004_institutionapikey"),
    ]

    operations = [
        migrations.RunPython(
            *append_only(
                "accounts_agreementevent",
                "accounts_creditlimitchange",
                "accounts_creditscore",
                "billing_charge",
                "billing_chargevoid",
                "billing_creditentry",
            )
        )
    ]
