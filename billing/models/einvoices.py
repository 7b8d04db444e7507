"""Government-supervised electronic invoices (财政电子票据): one per paid bill (blue), and a
red-letter reversal (红字) for each refunded part; the provincial platform issues them. The
sandbox platform's own books are here too (``SandboxEInvoice``)."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel
from billing.models.payments import Invoice, Refund


class EInvoiceStatus(models.TextChoices):
    # Asked of the platform (again, after a timeout), or waiting for it to finish.
    REQUESTED = "requested", pgettext_lazy("e-invoice status", "Requested")
    ISSUED = "issued", pgettext_lazy("e-invoice status", "Issued")
    # The platform refused it: finance looks at the reason and retries.
    FAILED = "failed", pgettext_lazy("e-invoice status", "Failed")
    # A blue invoice whose whole self-pay amount red invoices have reversed.
    REVERSED = "reversed", pgettext_lazy("e-invoice status", "Reversed")


class EInvoice(models.Model):
    """An e-invoice as asked of the platform. Its ``id`` is the request's number there: the
    platform answers a repeated request with the same invoice, so asking again after a lost
    answer is safe. What it shows (payer, items, amounts) is kept as it was asked for: the
    invoice is a document, and does not change when the patient's record does. A red
    invoice's amounts are negative."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="einvoices", verbose_name=_("invoice")
    )
    red = models.BooleanField(_("red-letter reversal"), default=False)
    original = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("reverses"),
    )
    refund = models.OneToOneField(
        Refund,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="einvoice",
        verbose_name=_("refund"),
    )
    provider = models.CharField(_("platform"), max_length=20)
    status = FSMField(_("status"), default=EInvoiceStatus.REQUESTED, choices=EInvoiceStatus.choices)
    payer_name = models.CharField(_("payer"), max_length=100)
    payer_id_masked = models.CharField(_("payer's ID number"), max_length=40)
    # [[charge category, "amount"], ...], one per category, as on the invoice.
    items = models.JSONField(_("items"))
    total = models.DecimalField(_("total"), **MONEY)
    insurance_fund = models.DecimalField(_("insurance fund"), **MONEY)
    personal_account = models.DecimalField(_("personal account"), **MONEY)
    self_pay = models.DecimalField(_("self-pay"), **MONEY)
    code = models.CharField(_("invoice code"), max_length=20, blank=True)
    number = models.CharField(_("invoice number"), max_length=20, blank=True)
    check_code = models.CharField(_("check code"), max_length=20, blank=True)
    issued_on = models.DateField(_("invoice date"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When to ask the platform next; none once it answered for good.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("e-invoice")
        verbose_name_plural = _("e-invoices")
        permissions = [("retry_einvoice", _("Can ask the platform again for an e-invoice"))]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(red=False), name="einvoice_one_blue"
            ),
            models.UniqueConstraint(
                fields=["code", "number"], condition=~Q(number=""), name="einvoice_number"
            ),
            models.CheckConstraint(
                condition=Q(red=False, original=None, total__gt=0)
                | Q(red=True, original__isnull=False, total__lt=0),
                name="einvoice_red_reverses_an_original",
            ),
            models.CheckConstraint(
                condition=Q(
                    total=models.F("insurance_fund")
                    + models.F("personal_account")
                    + models.F("self_pay")
                ),
                name="einvoice_parts_make_total",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="requested"),
                name="einvoice_due",
            ),
            models.Index(fields=["status", "created_at"], name="einvoice_status"),
        ]

    def __str__(self) -> str:
        # Before the platform numbers it: the invoice it is for.
        return f"{self.code} {self.number}" if self.number else self.invoice.number

    @transition(field=status, source=EInvoiceStatus.REQUESTED, target=EInvoiceStatus.ISSUED)
    def issue(self) -> None:
        self.next_attempt_at = None

    @transition(field=status, source=EInvoiceStatus.REQUESTED, target=EInvoiceStatus.FAILED)
    def fail(self) -> None:
        self.next_attempt_at = None

    @transition(field=status, source=EInvoiceStatus.FAILED, target=EInvoiceStatus.REQUESTED)
    def ask_again(self) -> None:
        self.attempts, self.last_error = 0, ""

    @transition(field=status, source=EInvoiceStatus.ISSUED, target=EInvoiceStatus.REVERSED)
    def reverse(self) -> None:
        pass


class EInvoiceEventKind(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("e-invoice event", "Requested")
    NOT_ANSWERED = "not_answered", pgettext_lazy("e-invoice event", "Platform did not answer")
    ISSUED = "issued", pgettext_lazy("e-invoice event", "Issued")
    REFUSED = "refused", pgettext_lazy("e-invoice event", "Refused by the platform")
    RETRIED = "retried", pgettext_lazy("e-invoice event", "Asked again")
    REVERSED = "reversed", pgettext_lazy("e-invoice event", "Reversed in full")


class EInvoiceEvent(AppendOnlyModel):
    """What happened to an e-invoice: who (a staff member, or none for the system), what,
    when and why."""

    einvoice = models.ForeignKey(
        EInvoice, on_delete=models.PROTECT, related_name="events", verbose_name=_("e-invoice")
    )
    kind = models.CharField(_("what"), max_length=20, choices=EInvoiceEventKind.choices)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("e-invoice event")
        verbose_name_plural = _("e-invoice events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


class SandboxEInvoice(models.Model):
    """The sandbox platform's books: what it was asked (by request number), the number it
    gave from its range, and when the invoice is ready."""

    request_id = models.CharField(_("request number"), max_length=40, unique=True)
    red = models.BooleanField(_("red-letter reversal"), default=False)
    code = models.CharField(_("invoice code"), max_length=20)
    number = models.CharField(_("invoice number"), max_length=20)
    check_code = models.CharField(_("check code"), max_length=20)
    total = models.DecimalField(_("total"), **MONEY)
    issued_on = models.DateField(_("invoice date"))
    ready_at = models.DateTimeField(_("ready"))
    # The request as the platform keeps it, for its download.
    document = models.JSONField(_("document"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox e-invoice")
        verbose_name_plural = _("sandbox e-invoices")
        constraints = [
            models.UniqueConstraint(fields=["code", "number"], name="sandbox_einvoice_number")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.number}"
