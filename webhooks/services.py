import datetime as dt
import json
import logging
import secrets
import time

import requests
from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.encryption import decrypt, encrypt
from accounts.models import CreditAgreement, Institution, Patient
from creditcare.backoff import retry_delay
from notifications.services import sms_queue
from webhooks.models import (
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from webhooks.signing import HEADER, signature

logger = logging.getLogger(__name__)

ANSWER_KEPT = 2000  # characters of an endpoint's answer kept on the delivery


def endpoint_create(
    *, institution: Institution, url: str, events: list[str], contact_phone: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is shown this once."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        institution=institution,
        url=url,
        events=events,
        secret=encrypt(secret),
        contact_phone=contact_phone,
    )
    return endpoint, secret


def institutions_wanting(type: str) -> set[int]:
    """The institutions with an active endpoint that wants ``type``."""
    return set(
        WebhookEndpoint.objects.filter(is_active=True, events__contains=[type]).values_list(
            "institution_id", flat=True
        )
    )


def event_emit(
    *, type: str, institution_id: int, data: dict, bill_id: int | None = None
) -> WebhookEvent | None:
    """Record an event in the caller's transaction, for every active endpoint of the
    institution that wants it; each is sent after commit. Nothing is written when no
    endpoint wants it."""
    events = events_emit_many(type=type, events=[(institution_id, bill_id, data)])
    return events[0] if events else None


def events_emit_many(
    *, type: str, events: list[tuple[int, int | None, dict]]
) -> list[WebhookEvent]:
    """``event_emit`` for many ``(institution id, bill id or None, data)`` in a few
    statements (the overdue sweep's chunk of bills)."""
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        institution_id__in={institution for institution, _bill, _data in events},
        is_active=True,
        events__contains=[type],
    ):
        endpoints.setdefault(endpoint.institution_id, []).append(endpoint)
    rows = WebhookEvent.objects.bulk_create(
        WebhookEvent(
            type=type,
            institution_id=institution,
            bill_id=bill,
            data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        )
        for institution, bill, data in events
        if institution in endpoints
    )
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now)
        for event in rows
        for endpoint in endpoints[event.institution_id]
    )
    for delivery in deliveries:
        # robust: a broker hiccup must not fail the cause; the beat task sends it later.
        transaction.on_commit(lambda pk=delivery.pk: deliver_webhook.delay(pk), robust=True)
    return rows


AGREEMENT_EVENTS = {
    "suspend": EventType.AGREEMENT_SUSPENDED,
    "reactivate": EventType.AGREEMENT_REACTIVATED,
}


def agreements_moved(agreements: list[CreditAgreement], transition: str) -> None:
    """Tell every institution that asked: a suspended patient can open no visit anywhere."""
    type = AGREEMENT_EVENTS.get(transition)
    wanting = institutions_wanting(type) if type else set()
    if not wanting:
        return
    cards = dict(
        Patient.objects.filter(pk__in=[a.patient_id for a in agreements]).values_list(
            "pk", "citizen_card"
        )
    )
    events_emit_many(
        type=type,
        events=[
            (
                institution,
                None,
                {
                    "agreement": {
                        "id": agreement.pk,
                        "citizen_card": cards[agreement.patient_id],
                        "status": agreement.status,
                        "for_overdue": agreement.suspended_for_overdue,
                    }
                },
            )
            for agreement in agreements
            for institution in sorted(wanting)
        ],
    )


def event_body(event: WebhookEvent) -> bytes:
    """What is posted: the same bytes at every attempt, so that a receiver's check of the
    signature and its de-duplication by ``id`` see one event."""
    return json.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "created": event.created_at.isoformat(),
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Post a pending delivery that is due, and record the answer. Safe to run twice and on
    two workers at once: the delivery's row is locked while it is posted, and a delivery
    sent or not yet due is left alone. Waits while an earlier event of the same bill to
    the same endpoint is pending, so a bill's events arrive in order."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        if _waits_for_earlier(delivery):
            delivery.next_attempt_at = now + dt.timedelta(seconds=30)
            delivery.save(update_fields=["next_attempt_at"])
            return delivery
        _post(delivery, now=now)
        delivery.save()
        if delivery.status == DeliveryStatus.GIVEN_UP:
            _endpoint_disable(delivery.endpoint, delivery=delivery)
    if delivery.status == DeliveryStatus.DELIVERED and delivery.event.bill_id:
        _send_next_of_bill(delivery)
    return delivery


def _waits_for_earlier(delivery: WebhookDelivery) -> bool:
    return bool(delivery.event.bill_id) and (
        WebhookDelivery.objects.filter(
            endpoint=delivery.endpoint,
            status=DeliveryStatus.PENDING,
            event__bill_id=delivery.event.bill_id,
            event__created_at__lt=delivery.event.created_at,
        ).exists()
    )


def _post(delivery: WebhookDelivery, *, now: dt.datetime) -> None:
    body = event_body(delivery.event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "CreditCare-Webhooks/1",
        "CreditCare-Event-Id": str(delivery.event.id),
        "CreditCare-Event-Type": delivery.event.type,
        HEADER: signature(
            secret=decrypt(delivery.endpoint.secret), timestamp=int(time.time()), body=body
        ),
    }
    delivery.attempts += 1
    delivery.last_attempt_at = now
    try:
        answer = requests.post(
            delivery.endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        delivery.response_status, delivery.response_body = None, ""
        delivery.error = f"{type(error).__name__}: {error}"[:300]
        ok = False
    else:
        delivery.response_status = answer.status_code
        delivery.response_body = answer.text[:ANSWER_KEPT]
        delivery.error = ""
        ok = 200 <= answer.status_code < 300
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            DeliveryStatus.DELIVERED,
            now,
            None,
        )
        return
    retry_at = now + retry_delay(delivery.attempts)
    if retry_at > delivery.event.created_at + settings.WEBHOOK_RETRY_FOR:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.GIVEN_UP, None
    else:
        delivery.next_attempt_at = retry_at
    logger.info(
        "webhook %s to %s failed (%s), attempt %d",
        delivery.event.id,
        delivery.endpoint.url,
        delivery.response_status or delivery.error,
        delivery.attempts,
    )


def _endpoint_disable(endpoint: WebhookEndpoint, *, delivery: WebhookDelivery) -> None:
    """An endpoint that failed an event for WEBHOOK_RETRY_FOR stops receiving: its
    institution's contact is told, and an administrator turns it on again."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False,
        disabled_reason=f"event {delivery.event.id} failed for {settings.WEBHOOK_RETRY_FOR}",
    )
    if endpoint.contact_phone:
        sms_queue(
            to=endpoint.contact_phone,
            template="webhook_disabled",
            context={"institution": endpoint.institution.name, "url": endpoint.url},
            dedup_key=f"webhook-disabled:{endpoint.pk}:{delivery.pk}",
        )


def _send_next_of_bill(delivery: WebhookDelivery) -> None:
    """The bill's next event to this endpoint, if one waited for this one."""
    following = (
        WebhookDelivery.objects.filter(
            endpoint=delivery.endpoint,
            status=DeliveryStatus.PENDING,
            event__bill_id=delivery.event.bill_id,
        )
        .order_by("event__created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if following:
        WebhookDelivery.objects.filter(pk=following).update(next_attempt_at=timezone.now())
        deliver_webhook.delay(following)


def deliveries_due(*, limit: int = 500) -> list[int]:
    """The pending deliveries whose time has come, oldest first (the beat task's)."""
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (the admin's action), given up or not."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk), robust=True)
    delivery.refresh_from_db()
    return delivery


@shared_task(name="webhooks.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str | None:
    """Post one delivery if it is due (safe to run twice)."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task(name="webhooks.tasks.deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Every minute: the deliveries whose retry time has come, and any whose task was lost."""
    due = deliveries_due()
    for pk in due:
        deliver_webhook.delay(pk)
    return len(due)
