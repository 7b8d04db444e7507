"""Notifications: the SMS outbox.

Design overview
---------------
Every SMS is a ``SmsMessage`` row written in the same transaction as what causes it (a visit
opened, a visit closed), with a unique ``dedup_key`` such as ``visit-closed:<visit id>``: it
exists if and only if its cause committed, and never twice. A Celery task, enqueued on
commit, claims it (``queued`` -> ``sending``, compare-and-swap), calls the backend and records
the answer (``sent`` with the provider's id, back to ``queued`` to retry, or ``failed``).
Delivery receipts move ``sent`` to ``delivered`` or ``failed``. A row left in ``sending`` (a
worker died mid-call) is reconciled by a periodic task: found at the provider -> ``sent``,
not found -> ``queued`` again. A message whose cause has gone by the time a worker claims it
(a reminder for a bill paid meanwhile) is ``cancelled`` instead of sent: see ``send_check``.
Messages written in a batch (``bulk``: the morning's reminders) are sent, and sent again, in
chunks from a queue of their own, so that they never hold up a verification code.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition


class SmsStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")  # waiting for a worker
    SENDING = "sending", _("Sending")  # a worker claimed it and is calling the provider
    SENT = "sent", _("Sent")  # the provider accepted it
    DELIVERED = "delivered", _("Delivered")  # the provider reports it reached the phone
    FAILED = "failed", _("Failed")  # given up (permanent error, too many attempts, undelivered)
    CANCELLED = "cancelled", _("Cancelled")  # no longer wanted when its turn came (a bill paid)


class SmsMessage(models.Model):
    to = models.CharField(_("to"), max_length=20, db_index=True)  # E.164
    template = models.CharField(_("template"), max_length=50)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=10)
    status = FSMField(_("status"), default=SmsStatus.QUEUED, choices=SmsStatus.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_message_id = models.CharField(
        _("provider id"), max_length=64, null=True, blank=True, unique=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    dedup_key = models.CharField(_("dedup key"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    # Held until then (a reminder whose turn came in quiet hours); the sweep sends it after.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    # Written in a batch (sms_queue_many: reminders): sent, and sent again by the sweep, in
    # chunks on the sms-bulk queue, never on the queue of codes and receipts.
    bulk = models.BooleanField(_("sent in bulk"), default=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS outbox")
        indexes = [
            models.Index(fields=["status", "claimed_at"]),
            # By time, with the status: the SMS report counts from the index alone.
            models.Index(fields=["created_at"], include=["status"], name="sms_created_status"),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.to}: {self.get_status_display()}"

    @transition(field=status, source=SmsStatus.SENT, target=SmsStatus.DELIVERED)
    def deliver(self) -> None:
        pass

    @transition(field=status, source=[SmsStatus.SENT, SmsStatus.DELIVERED], target=SmsStatus.FAILED)
    def undeliver(self) -> None:
        pass


class VerificationCode(models.Model):
    """A 6-digit code sent by SMS. Only an HMAC of it is stored.

    ``purpose`` names what it unlocks (``pay:<link id>``); checks are counted on the row,
    so the limits hold across processes.
    """

    phone = models.CharField(max_length=20, db_index=True, verbose_name=_("mobile phone"))
    purpose = models.CharField(max_length=64, db_index=True, verbose_name=_("purpose"))
    code_hash = models.CharField(max_length=64, verbose_name=_("code hash"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    checks = models.PositiveSmallIntegerField(default=0, verbose_name=_("checks"))
    last_checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last checked at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")

    def __str__(self) -> str:
        return f"code for {self.purpose}"


class VerificationThrottle(models.Model):
    """One row per phone and per purpose, locked while codes are sent or checked for it, so
    the limits hold when requests arrive at the same moment."""

    key = models.CharField(max_length=100, unique=True, verbose_name=_("key"))

    def __str__(self) -> str:
        return self.key
