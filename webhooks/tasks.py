from celery import shared_task

from webhooks.services import deliveries_due, delivery_attempt


@shared_task
def deliver_webhook(delivery_id: int) -> str | None:
    """Post one delivery if it is due (safe to run twice)."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task
def deliver_due_webhooks() -> int:
    """Every minute: the deliveries whose retry time has come, and any whose task was lost."""
    due = deliveries_due()
    for pk in due:
        deliver_webhook.delay(pk)
    return len(due)
