"""Paying bills: payment links, payments, refunds, the channels' notifications, invoices,
and the sandbox channel's own books.
"""

from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel
from accounts.realname import RealNameAnswer
from billing.models.bills import Bill

if TYPE_CHECKING:
    from billing.models.einvoices import EInvoice


class PaymentLink(models.Model):
    """The link in the visit-ended SMS: ``/p/<token>``. The token is 192 random bits and
    carries no personal data; the link works until the bill is paid or it expires."""

    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="payment_links", verbose_name=_("bill")
    )
    # Set for an instalment of a payment plan: the link pays that instalment.
    instalment = models.OneToOneField(
        "Instalment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_link",
        verbose_name=_("instalment"),
    )
    token = models.CharField(max_length=64, unique=True, verbose_name=_("token"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        constraints = [
            models.UniqueConstraint(
                fields=["bill"], condition=Q(instalment=None), name="payment_link_one_per_bill"
            )
        ]

    def __str__(self) -> str:
        return _("Payment link of bill %(number)s") % {"number": self.bill_id}

    @property
    def amount_due(self) -> Decimal:
        """What paying through this link pays now."""
        if self.instalment_id is None:
            return self.bill.amount_due
        if self.instalment.paid_at or not self.bill.is_owed:
            return Decimal("0.00")
        return min(self.instalment.amount, self.bill.amount_due)


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")  # recorded, the patient not yet sent to the channel
    PENDING = "pending", pgettext_lazy("payment status", "Pending")  # at the checkout
    SUCCEEDED = "succeeded", _("Succeeded")  # the channel says the money was taken
    FAILED = "failed", _("Failed")  # the channel refused it
    CANCELLED = "cancelled", _("Cancelled")  # the patient gave up
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class WindowMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    SCAN = "scan", _("Payment code scanned")


# A payment that took the patient's money: what a refund can give back from.
MONEY_TAKEN = [PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED]


class StrongCheckAttempt(AppendOnlyModel):
    """One answer to the stronger check a large bill asks for after the SMS code (the last 6
    characters of the patient's ID number, and a real-name check where a service is
    configured): kept whether right or wrong, and counted for the lock."""

    link = models.ForeignKey(
        PaymentLink,
        on_delete=models.PROTECT,
        related_name="strong_checks",
        db_index=False,  # strong_check_link_time serves it
        verbose_name=_("payment link"),
    )
    passed = models.BooleanField(_("passed"))
    # The real-name service's answer, if it was asked.
    realname = models.CharField(
        _("real-name check"), max_length=20, blank=True, choices=RealNameAnswer.choices
    )
    client_ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("stronger check")
        verbose_name_plural = _("stronger checks")
        indexes = [models.Index(fields=["link", "created_at"], name="strong_check_link_time")]

    def __str__(self) -> str:
        return f"{self.link_id} {self.created_at:%Y-%m-%d %H:%M} {self.passed}"


class Payment(models.Model):
    """One attempt to pay a bill through a channel. ``out_trade_no`` is ours (sent to the
    channel); ``gateway_trade_no`` is the channel's, unique per channel."""

    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="payments", verbose_name=_("bill")
    )
    # The bill's, kept here too (set on save) so that an institution's payments over a
    # period are read without joining every bill it ever had.
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # read by period (the BRIN on succeeded_at), then by institution
        verbose_name=_("institution"),
    )
    channel = models.CharField(_("channel"), max_length=20)
    out_trade_no = models.CharField(_("our order number"), max_length=40, unique=True)
    gateway_trade_no = models.CharField(
        _("channel's transaction number"), max_length=64, null=True, blank=True
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    status = FSMField(_("status"), default=PaymentStatus.CREATED, choices=PaymentStatus.choices)
    # At a window: how it was paid and who took it.
    method = models.CharField(_("method"), max_length=20, choices=WindowMethod.choices, blank=True)
    taken_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    # The patient's address when paying online (WeChat H5 checks it against the payer's).
    client_ip = models.GenericIPAddressField(_("payer's address"), null=True, blank=True)
    # The link it was made through (an instalment's link pays that instalment).
    link = models.ForeignKey(
        PaymentLink,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("payment link"),
    )
    duplicate = models.BooleanField(
        _("duplicate"),
        default=False,
        help_text=_(
            "Set when the payment succeeded for a bill already paid; such a payment is "
            "refunded automatically."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("succeeded"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "gateway_trade_no"], name="payment_gateway_trade_no_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_gt_0"),
        ]
        # The payments report's days (see Bill's indexes).
        indexes = [BrinIndex(fields=["succeeded_at"], name="payment_succeeded_brin")]

    def __str__(self) -> str:
        return f"{self.channel} {self.out_trade_no}: {self.amount}"

    def save(self, *args, **kwargs):
        if self.institution_id is None:
            self.institution_id = self.bill.institution_id
        super().save(*args, **kwargs)

    @transition(field=status, source=PaymentStatus.CREATED, target=PaymentStatus.PENDING)
    def start(self) -> None:
        pass

    # The channel took the money: that is a fact even after a "failed" or "cancelled" (a
    # late notification, a query that found it paid after all).
    @transition(
        field=status,
        source=[
            PaymentStatus.CREATED,
            PaymentStatus.PENDING,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        ],
        target=PaymentStatus.SUCCEEDED,
    )
    def succeed(self) -> None:
        pass

    @transition(
        field=status,
        source=[PaymentStatus.CREATED, PaymentStatus.PENDING],
        target=PaymentStatus.FAILED,
    )
    def fail(self) -> None:
        pass

    @transition(
        field=status,
        source=[PaymentStatus.CREATED, PaymentStatus.PENDING],
        target=PaymentStatus.CANCELLED,
    )
    def cancel(self) -> None:
        pass

    @transition(
        field=status,
        source=[PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED],
        target=PaymentStatus.PARTIALLY_REFUNDED,
    )
    def refund_partially(self) -> None:
        pass

    @transition(
        field=status,
        source=[PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED],
        target=PaymentStatus.REFUNDED,
    )
    def refund_fully(self) -> None:
        pass


class RefundStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("refund status", "Pending")  # asked of the channel
    SUCCEEDED = "succeeded", _("Refunded")  # the channel gave the money back
    # For a window to pay out: a window payment, a printed invoice (to be taken back), or an
    # online refund the channel refused, or confirmed it never made after its retries failed.
    AT_WINDOW = "at_window", _("At the window")
    PAID_OUT = "paid_out", _("Paid out at the window")
    # The channel never answered, and asked afterwards could not say whether it made the
    # refund: it may have, so no window pays it out. Finance sees it; asked again daily.
    UNKNOWN = "unknown", _("Outcome unknown")


class RefundMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CARD = "card", _("Back to the bank card")


class Refund(models.Model):
    """Money going back to the patient from one payment, through the payment's channel.
    ``out_refund_no`` is ours; channels treat a repeated refund request with the same number
    as the same refund, so asking again after a lost answer is safe. A refund is paid out at
    a window only once its channel refused it or said it never made it: never while its
    outcome is unknown (``queried_at``: when the channel was last asked about it)."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    # The voided charge it gives back the self-pay part of (none for a duplicate payment).
    charge = models.ForeignKey(
        "Charge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        verbose_name=_("charge"),
    )
    out_refund_no = models.CharField(_("our refund number"), max_length=40, unique=True)
    gateway_refund_no = models.CharField(_("channel's refund number"), max_length=64, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=200)
    actor = models.CharField(_("requested by"), max_length=150)
    status = FSMField(_("status"), default=RefundStatus.PENDING, choices=RefundStatus.choices)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    queried_at = models.DateTimeField(_("channel last asked"), null=True, blank=True)
    paid_out_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("paid out by"),
    )
    paid_out_method = models.CharField(
        _("paid out by"), max_length=20, choices=RefundMethod.choices, blank=True
    )
    paid_out_note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.out_refund_no}: {self.amount}"

    @transition(
        field=status,
        source=[RefundStatus.PENDING, RefundStatus.UNKNOWN],
        target=RefundStatus.SUCCEEDED,
    )
    def succeed(self) -> None:
        pass

    @transition(
        field=status,
        source=[RefundStatus.PENDING, RefundStatus.UNKNOWN],
        target=RefundStatus.AT_WINDOW,
    )
    def send_to_window(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.UNKNOWN)
    def lose_track(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.AT_WINDOW, target=RefundStatus.PAID_OUT)
    def pay_out(self) -> None:
        pass


class PaymentNotification(AppendOnlyModel):
    """Every asynchronous notification a channel sent, as verified; the same one again is
    recognised by ``(channel, gateway_trade_no, status)`` and changes nothing."""

    channel = models.CharField(max_length=20, verbose_name=_("channel"))
    out_trade_no = models.CharField(max_length=40, verbose_name=_("out trade no"))
    gateway_trade_no = models.CharField(max_length=64, verbose_name=_("gateway trade no"))
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, verbose_name=_("status")
    )
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    raw = models.JSONField(verbose_name=_("notification as received"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "gateway_trade_no", "status"],
                name="payment_notification_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.gateway_trade_no} {self.status}"


class Invoice(models.Model):
    """The invoice of a paid bill: ``YD`` + 10 digits, printed at a window on request."""

    bill = models.OneToOneField(
        Bill, on_delete=models.PROTECT, related_name="invoice", verbose_name=_("bill")
    )
    number = models.CharField(_("number"), max_length=12, unique=True)
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    # Printed on paper at a window: a refund then needs the paper back (at the window).
    printed_at = models.DateTimeField(_("printed"), null=True, blank=True)
    printed_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("printed by"),
    )
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0.00"), **MONEY)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self) -> str:
        return self.number

    @property
    def einvoice(self) -> "EInvoice | None":
        """The bill's own e-invoice (blue), not the red ones reversing its refunds; from
        ``einvoices`` prefetched where a page shows many."""
        return next((e for e in self.einvoices.all() if not e.red), None)


class SandboxTrade(models.Model):
    out_trade_no = models.CharField(max_length=40, unique=True, verbose_name=_("out trade no"))
    trade_no = models.CharField(max_length=64, unique=True, verbose_name=_("trade no"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    status = models.CharField(
        max_length=10, verbose_name=_("status")
    )  # the sandbox's words: PAID, FAILED, CLOSED
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    def __str__(self) -> str:
        return f"{self.trade_no} {self.status}"


class SandboxRefund(models.Model):
    trade = models.ForeignKey(
        SandboxTrade, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("trade")
    )
    out_refund_no = models.CharField(max_length=40, unique=True, verbose_name=_("out refund no"))
    refund_no = models.CharField(max_length=64, unique=True, verbose_name=_("refund no"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    def __str__(self) -> str:
        return f"{self.refund_no} {self.amount}"
