import logging

from celery import shared_task

from accounts.models import AgreementStatus, Patient
from accounts.services import credit_limits_recompute
from creditcare.batching import batched

logger = logging.getLogger(__name__)

CHUNK = 500


@shared_task
def recompute_credit_limits() -> int:
    """Nightly: apply the credit policy to every signed patient, in chunks that workers share.

    Safe to run twice: a limit that already matches the policy is left alone and writes no
    history. Returns how many chunks were queued.
    """
    ids = (
        Patient.objects.filter(
            agreement__status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunks = 0
    for chunk in batched(ids.iterator(chunk_size=CHUNK), CHUNK):
        recompute_credit_limits_chunk.delay(chunk)
        chunks += 1
    logger.info("recompute_credit_limits: %d chunk(s) queued", chunks)
    return chunks


@shared_task
def recompute_credit_limits_chunk(patient_ids: list[int]) -> int:
    changed = 0
    for patient in Patient.objects.filter(pk__in=patient_ids).order_by("pk"):
        changed += len(credit_limits_recompute(patient=patient))
    logger.info("recompute_credit_limits_chunk: %d limit(s) changed", changed)
    return changed
