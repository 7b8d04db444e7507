from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import AgreementStatus, Patient
from billing.credit import credit_limits_recompute_many
from creditcare.batching import ProgressBar, batched


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
        changed = done = 0
        ids = patients.values_list("pk", flat=True).iterator(chunk_size=settings.SWEEP_CHUNK)
        for chunk in batched(ids, settings.SWEEP_CHUNK):
            with transaction.atomic():  # as the nightly task's chunks
                changed += credit_limits_recompute_many(patient_ids=chunk)
            done += len(chunk)
            bar(done, total)
        bar.close()
        self.stdout.write(f"recompute_limits: {total} patient(s), {changed} limit(s) changed")
