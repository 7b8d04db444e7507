import logging

from celery import shared_task

from notifications.services import send_sms, send_sms_chunk, sms_reconcile_stuck

logger = logging.getLogger(__name__)

# Queued by sms_queue and sms_queue_many, which define them beside themselves (no import
# cycle); listed here with the app's other tasks.
__all__ = ["send_sms", "send_sms_chunk"]


@shared_task
def reconcile_stuck_sms() -> int:
    moved = sms_reconcile_stuck()
    if moved:
        logger.info("reconciled %d SMS stuck in sending", moved)
    return moved
