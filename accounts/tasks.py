import logging

from celery import shared_task

from accounts.models import AgreementStatus, Patient
from accounts.services import credit_limits_recompute

logger = logging.getLogger(__name__)


@shared_task
def recompute_credit_limits() -> int:
    """Nightly: apply the credit policy to every signed patient. Safe to run twice (a limit
    that already matches the policy is left alone and writes no history)."""
    changed = 0
    patients = Patient.objects.filter(
        agreement__status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
    ).order_by("pk")
    for patient in patients.iterator(chunk_size=500):
        changed += len(credit_limits_recompute(patient=patient))
    logger.info("recompute_credit_limits: %d limit(s) changed", changed)
    return changed
