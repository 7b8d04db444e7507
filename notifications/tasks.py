import logging

from celery import shared_task

from notifications.backends import TransientSmsError
from notifications.services import sms_reconcile_stuck, sms_send

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(TransientSmsError,),
    retry_backoff=30,  # 30 s, 60 s, 120 s, ... with jitter
    retry_backoff_max=1800,
    max_retries=None,  # sms_send gives up after SMS_MAX_ATTEMPTS
)
def send_sms(self, message_id: int) -> str:
    """Send one message; a duplicate or retried task finds it claimed or sent and does nothing."""
    return sms_send(message_id=message_id).status


@shared_task
def reconcile_stuck_sms() -> int:
    moved = sms_reconcile_stuck()
    if moved:
        logger.info("reconciled %d SMS stuck in sending", moved)
    return moved
