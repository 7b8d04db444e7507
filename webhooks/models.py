"""Webhooks: what happened, told to the hospitals' systems (HIS) that asked to hear it.

Design overview
---------------
An institution registers ``WebhookEndpoint`` s in the admin: a URL, the events it wants, and
a secret we sign with. Each event (``bill.paid``, ...) is a ``WebhookEvent`` row written in
the same transaction as its cause (an outbox: it exists if and only if the cause committed),
with one ``WebhookDelivery`` per endpoint that wants it. A Celery task, enqueued on commit,
posts it, signed (``webhooks.signing``), and records the answer; a failure is tried again
with backoff for up to ``WEBHOOK_RETRY_FOR`` (3 days), and a beat task sends what is due.
The receiver de-duplicates by the event's id, and the events of one bill reach an endpoint
in the order they happened: a delivery waits while an earlier one of the same bill to the
same endpoint is still pending. An endpoint whose deliveries are given up is disabled, and
its institution's contact is told.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import AppendOnlyModel


class EventType(models.TextChoices):
    BILL_PAID = "bill.paid", _("Bill paid")
    BILL_OVERDUE = "bill.overdue", _("Bill overdue")
    BILL_WRITTEN_OFF = "bill.written_off", _("Bill written off")
    REFUND_SUCCEEDED = "refund.succeeded", _("Refund succeeded")
    INVOICE_ISSUED = "invoice.issued", _("Invoice issued")
    AGREEMENT_SUSPENDED = "agreement.suspended", _("Agreement suspended")
    AGREEMENT_REACTIVATED = "agreement.reactivated", _("Agreement reactivated")


class WebhookEndpoint(models.Model):
    """Where an institution's system hears of events: a URL, the events it wants, and the
    secret its signatures are made with (shown once, when the endpoint is created)."""

    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
        verbose_name=_("institution"),
    )
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)  # EventType values
    # Encrypted at rest (accounts.encryption): we need it back to sign.
    secret = models.TextField(_("signing secret"), editable=False)
    # Told by SMS when the endpoint is disabled for failing.
    contact_phone = models.CharField(_("contact's phone"), max_length=20, blank=True)
    is_active = models.BooleanField(pgettext_lazy("webhook endpoint", "active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["institution", "url"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return f"{self.institution}: {self.url}"


class WebhookEvent(AppendOnlyModel):
    """One event, as its receivers get it: ``id`` is what they de-duplicate by."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("event"), max_length=32, choices=EventType.choices)
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("institution"),
    )
    # The events of one bill reach each endpoint in order (null: not about a bill).
    bill_id = models.BigIntegerField(_("bill"), null=True, blank=True)
    data = models.JSONField(_("data"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("webhook delivery", "Pending")  # to send, or again
    DELIVERED = "delivered", pgettext_lazy("webhook delivery", "Delivered")  # answered 2xx
    GIVEN_UP = "given_up", _("Given up")  # failed for WEBHOOK_RETRY_FOR


class WebhookDelivery(models.Model):
    """One event to one endpoint, and what the endpoint answered last."""

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("event")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.PROTECT,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("answer"), null=True, blank=True)
    response_body = models.TextField(_("answer's text"), blank=True)  # the first 2,000
    error = models.CharField(_("error"), max_length=300, blank=True)  # no answer: why
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint}"
