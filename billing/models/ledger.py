"""The credit ledger: every movement of a credit line is a ``CreditEntry`` (append-only):
``+`` uses credit, ``-`` releases it. A credit line's ``used`` is the sum of its entries,
a cache the tests recompute from these rows.
"""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import MONEY, AppendOnlyModel, CreditLine
from billing.models.bills import Bill
from billing.models.payments import Payment
from billing.models.visits import Charge, Visit


class CreditEntryKind(models.TextChoices):
    HOLD = "hold", _("Charge held")
    RELEASE = "release", _("Charge voided")
    SETTLE = "settle", _("Visit closed: hold released")
    BILL = "bill", _("Bill raised")
    PAYMENT = "payment", _("Bill paid")
    WRITE_OFF = "write_off", _("Bill written off")


class CreditEntry(AppendOnlyModel):
    """One movement of a credit line: + uses credit, - gives it back. ``used`` is their sum."""

    # Every charge writes an entry, so its indexes are few: (credit_line, id) serves lookups
    # by line, bill and payment (empty on holds) are indexed only where set, and nothing
    # looks entries up by visit or charge (neither is ever deleted).
    credit_line = models.ForeignKey(
        CreditLine,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        verbose_name=_("credit line"),
    )
    kind = models.CharField(max_length=16, choices=CreditEntryKind.choices, verbose_name=_("kind"))
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        verbose_name=_("visit"),
    )
    charge = models.ForeignKey(
        Charge,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        verbose_name=_("charge"),
    )
    bill = models.ForeignKey(
        Bill,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        verbose_name=_("bill"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        db_index=False,
        verbose_name=_("payment"),
    )
    actor = models.CharField(
        max_length=100, verbose_name=_("by")
    )  # "api-key:<prefix>", "user:<id>", "system"
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("credit entry")
        verbose_name_plural = _("credit entries")
        indexes = [
            models.Index(fields=["credit_line", "id"]),
            models.Index(fields=["bill"], condition=Q(bill__isnull=False), name="entry_bill"),
            models.Index(
                fields=["payment"], condition=Q(payment__isnull=False), name="entry_payment"
            ),
            # A day's entries (the nightly figures): rows are written in time order, so a
            # block range index finds them for a few pages, and costs a charge almost nothing.
            BrinIndex(fields=["created_at"], name="entry_created_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"
