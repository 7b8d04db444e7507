from django.core.management.base import BaseCommand

from accounts.models import AgreementStatus, Patient
from billing.credit import credit_limits_recompute
from creditcare.batching import ProgressBar


class Command(BaseCommand):
    help = (
        "Apply the credit policy to every signed patient from their repayment record and "
        "latest score (what the nightly task does). Staff overrides stand. Safe to run again."
    )

    def handle(self, *args, **options):
        patients = Patient.objects.filter(
            agreement__status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
        ).order_by("pk")
        total = patients.count()
        bar = ProgressBar("recompute_limits")
        changed = 0
        for done, patient in enumerate(patients.iterator(chunk_size=500), 1):
            changed += len(credit_limits_recompute(patient=patient))
            bar(done, total)
        bar.close()
        self.stdout.write(f"recompute_limits: {total} patient(s), {changed} limit(s) changed")
