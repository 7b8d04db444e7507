from django.db import migrations

from creditcare.db import append_only


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_invoice_payment_creditentry_payment_and_more")]

    operations = [migrations.RunPython(*append_only("billing_paymentnotification"))]
