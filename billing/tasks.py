import logging

from celery import shared_task

from billing.idempotency import idempotency_purge

logger = logging.getLogger(__name__)


@shared_task
def purge_idempotency_records() -> int:
    """Hourly: forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (at least 24)."""
    deleted = idempotency_purge()
    logger.info("purged %d idempotency record(s)", deleted)
    return deleted
