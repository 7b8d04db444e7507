import django.db.models.deletion
from django.db import migrations, models

# Every payment takes its bill's institution: added empty, filled from the bills in one
# statement, then required.
FILL = """
UPDATE billing_payment p SET institution_id = b.institution_id
FROM billing_bill b WHERE b.id = p.bill_id AND p.institution_id IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_report_indexes"),
        ("billing", "0034_report_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="institution",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.institution",
                verbose_name="institution",
            ),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="payment",
            name="institution",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.institution",
                verbose_name="institution",
            ),
        ),
    ]
