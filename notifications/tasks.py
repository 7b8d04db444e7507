import logging

from celery import shared_task

from notifications.services import send_sms, sms_reconcile_stuck

logger = logging.getLogger(__name__)

# Queued by sms_queue, which defines it beside itself (no import cycle); listed here with the
# app's other tasks.
__all__ = ["send_sms"]


@shared_task
def reconcile_stuck_sms() -> int:
    moved = sms_reconcile_stuck()
    if moved:
        logger.info("reconciled %d SMS stuck in sending", moved)
    return moved
