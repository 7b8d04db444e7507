import logging

from celery import shared_task
from django.utils import timezone

from notifications.models import Event

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def process_event(event_id: int) -> bool:
    """Claim the event once (compare-and-swap), so a retried or duplicated task is a no-op.

    Sending the SMS for it comes with the SMS outbox.
    """
    claimed = Event.objects.filter(pk=event_id, processed_at=None).update(
        processed_at=timezone.now()
    )
    if claimed:
        logger.info("event %s processed", event_id)
    return bool(claimed)
