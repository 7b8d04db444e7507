"""What each institution is owed (T+1): patients pay into one regional merchant account per
channel, and a daily statement per institution and channel says what to pay out."""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, Institution


class SettlementStatus(models.TextChoices):
    TO_PAY = "to_pay", _("To pay out")
    PAID_OUT = "paid_out", pgettext_lazy("settlement", "Paid out")


class SettlementStatement(models.Model):
    """One institution's payments through one channel on one day (China time), less refunds
    and the channel's fees: ``net`` is what the region pays out to it. Rebuilt until paid
    out; then it stays as it was paid."""

    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="settlement_statements",
        verbose_name=_("institution"),
    )
    channel = models.CharField(_("channel"), max_length=20)
    day = models.DateField(_("day"))
    payment_count = models.PositiveIntegerField(pgettext_lazy("settlement", "payments"), default=0)
    gross = models.DecimalField(
        pgettext_lazy("settlement", "paid"), default=Decimal("0.00"), **MONEY
    )
    refund_count = models.PositiveIntegerField(pgettext_lazy("settlement", "refunds"), default=0)
    refunds = models.DecimalField(
        pgettext_lazy("settlement", "refunded"), default=Decimal("0.00"), **MONEY
    )
    fee_rate = models.DecimalField(_("fee rate"), max_digits=6, decimal_places=4, default=0)
    fees = models.DecimalField(_("channel fees"), default=Decimal("0.00"), **MONEY)
    net = models.DecimalField(_("net to pay out"), default=Decimal("0.00"), **MONEY)
    status = FSMField(
        _("status"), default=SettlementStatus.TO_PAY, choices=SettlementStatus.choices
    )
    computed_at = models.DateTimeField(_("computed"), auto_now=True)
    paid_out_at = models.DateTimeField(
        pgettext_lazy("settlement", "paid out"), null=True, blank=True
    )
    paid_out_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=pgettext_lazy("settlement", "paid out by"),
    )
    transfer_reference = models.CharField(_("transfer reference"), max_length=60, blank=True)

    class Meta:
        ordering = ["-day", "institution", "channel"]
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "channel", "day"], name="settlement_one_a_day"
            ),
            models.CheckConstraint(
                condition=Q(net=F("gross") - F("refunds") - F("fees")),
                name="settlement_net_is_gross_less_refunds_and_fees",
            ),
            models.CheckConstraint(
                condition=Q(status="to_pay") | ~Q(transfer_reference=""),
                name="settlement_paid_out_with_reference",
            ),
        ]
        permissions = [("pay_out_settlement", "Can mark settlement statements paid out")]

    def __str__(self) -> str:
        from billing.payments.gateways import channel_name  # the gateways import models

        return f"{self.institution} {channel_name(self.channel)} {self.day}"

    @transition(field=status, source=SettlementStatus.TO_PAY, target=SettlementStatus.PAID_OUT)
    def pay_out(self) -> None:
        pass
