import logging

from celery import shared_task

from billing.gateways import GatewayError
from billing.idempotency import idempotency_purge
from billing.overdue import overdue_sweep, reminders_send
from billing.payments import payments_settle_pending
from billing.refunds import refund_send, refunds_resend_pending

logger = logging.getLogger(__name__)


@shared_task
def purge_idempotency_records() -> int:
    """Hourly: forget idempotency keys older than IDEMPOTENCY_KEY_TTL_HOURS (at least 24)."""
    deleted = idempotency_purge()
    logger.info("purged %d idempotency record(s)", deleted)
    return deleted


@shared_task
def settle_pending_payments() -> int:
    """Every minute: ask the channels about payments whose notification has not come, and
    again for refunds whose task was lost."""
    settled = payments_settle_pending()
    resent = refunds_resend_pending()
    if settled or resent:
        logger.info("settled %d pending payment(s), resent %d refund(s)", settled, resent)
    return settled


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(GatewayError,),
    retry_backoff=60,  # 60 s, 120 s, 240 s, ... with jitter
    retry_backoff_max=3600,
    max_retries=None,  # refund_send gives up after REFUND_MAX_ATTEMPTS
)
def send_refund(self, refund_id: int) -> str:
    """Ask the channel for one refund; a retried or doubled task refunds once."""
    return refund_send(refund_id=refund_id).status


@shared_task
def sweep_overdue() -> str:
    """Daily: mark bills past due ``overdue``; suspend, reactivate, lower limits."""
    return overdue_sweep().summary()


@shared_task
def send_reminders() -> int:
    """Every half hour: queue the reminders that are due (only in sending hours)."""
    return reminders_send()
