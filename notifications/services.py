from django.db import transaction

from notifications.models import Event


def event_record(*, kind: str, dedup_key: str, payload: dict) -> Event:
    """Record an event inside the caller's transaction; it is processed after commit.

    The same ``dedup_key`` twice gives the first event back: one cause, one event.
    """
    event, created = Event.objects.get_or_create(
        dedup_key=dedup_key, defaults={"kind": kind, "payload": payload}
    )
    if created:
        from notifications.tasks import process_event

        transaction.on_commit(lambda: process_event.delay(event.pk))
    return event
