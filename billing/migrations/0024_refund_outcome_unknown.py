"""A refund whose outcome is unknown (the channel never answered, nor could say later whether
it made it) gets its own status instead of the window queue; finance may ask the channel
again about it (``query_refund``)."""

import django_fsm
from django.db import migrations, models

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0023_payment_link_label"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="bill",
            options={
                "ordering": ["-closed_at", "-pk"],
                "permissions": [
                    ("write_off_bill", "Can write off overdue bills"),
                    ("take_window_payment", "Can take payments at the window"),
                    ("print_invoice", "Can mark invoices printed"),
                    ("pay_out_refund", "Can pay out refunds at the window"),
                    ("query_refund", "Can ask a channel again about a refund"),
                ],
                "verbose_name": "bill",
                "verbose_name_plural": "bills",
            },
        ),
        migrations.AddField(
            model_name="refund",
            name="queried_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="channel last asked"),
        ),
        migrations.AlterField(
            model_name="refund",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("pending", "Pending"),
                    ("succeeded", "Refunded"),
                    ("at_window", "At the window"),
                    ("paid_out", "Paid out at the window"),
                    ("unknown", "Outcome unknown"),
                ],
                default="pending",
                max_length=50,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
