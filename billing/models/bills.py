"""Bills: a visit's insurance settlement and the self-pay amount the patient owes, due after
the pool's period.

A visit closes to one final bill. A long inpatient stay may also be billed part-way while it
goes on: each interim bill takes the charges not billed yet (an ``InterimCharge`` each), and
the final bill takes those left at the close.
"""

from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel, CreditLine, CreditPool, Institution, Patient
from billing.models.visits import Charge, Visit

if TYPE_CHECKING:
    from billing.models.payments import PaymentLink


class BillStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")  # due: holds credit until paid
    OVERDUE = "overdue", _("Overdue")  # past its due time, still unpaid (the overdue sweep)
    PAID = "paid", _("Paid")  # settled; credit released
    WRITTEN_OFF = "written_off", _("Written off")  # given up by finance; stays in the record


# What the patient still owes: a bill in one of these holds credit and can be paid.
BILL_OWED = [BillStatus.UNPAID, BillStatus.OVERDUE]


class Bill(models.Model):
    """What the patient owes for a visit's settlement: its self-pay part.

    Invariants: ``total`` = ``insurance_fund`` + ``personal_account`` + ``self_pay``; an
    unpaid bill holds ``self_pay`` on its credit line; a visit has at most one final
    (not interim) bill, and an interim bill's ``his_settlement_id`` is unique in its visit.
    """

    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, related_name="bills", verbose_name=_("visit")
    )
    # Billed part-way through a stay that goes on; db_default: rows inserted by SQL too.
    interim = models.BooleanField(_("interim"), default=False, db_default=False)
    # The HIS's number of an interim settlement (its retry key); empty on a final bill.
    his_settlement_id = models.CharField(
        _("HIS settlement id"), max_length=64, blank=True, default="", db_default=""
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="bills", verbose_name=_("patient")
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="bills", verbose_name=_("institution")
    )
    credit_line = models.ForeignKey(
        CreditLine, on_delete=models.PROTECT, related_name="bills", verbose_name=_("credit line")
    )
    pool = models.CharField(
        max_length=16, choices=CreditPool.choices, verbose_name=_("credit pool")
    )
    status = FSMField(_("status"), default=BillStatus.UNPAID, choices=BillStatus.choices)
    total = models.DecimalField(_("total"), **MONEY)
    insurance_fund = models.DecimalField(_("insurance fund"), **MONEY)
    personal_account = models.DecimalField(_("personal insurance account"), **MONEY)
    self_pay = models.DecimalField(_("self-pay"), **MONEY)
    insurance_account_balance = models.DecimalField(_("insurance account balance"), **MONEY)
    closed_at = models.DateTimeField(_("settled"))  # the visit's close, or an interim's time
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # Paid so far: instalments of a payment plan pay a bill in parts.
    paid_amount = models.DecimalField(_("paid so far"), default=Decimal("0.00"), **MONEY)
    written_off_amount = models.DecimalField(_("written off"), default=Decimal("0.00"), **MONEY)
    # Given back after payment (charges voided after the bill was paid).
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0.00"), **MONEY)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-closed_at", "-pk"]
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        permissions = [
            ("write_off_bill", "Can write off overdue bills"),
            ("take_window_payment", "Can take payments at the window"),
            ("print_invoice", "Can mark invoices printed"),
            ("pay_out_refund", "Can pay out refunds at the window"),
            ("query_refund", "Can ask a channel again about a refund"),
            ("view_reports", "Can view the management reports"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["visit"], condition=Q(interim=False), name="bill_one_final_per_visit"
            ),
            models.UniqueConstraint(
                fields=["visit", "his_settlement_id"],
                condition=Q(interim=True),
                name="bill_interim_settlement_unique",
            ),
            models.CheckConstraint(
                condition=Q(interim=True) ^ Q(his_settlement_id=""),
                name="bill_interim_has_settlement_id",
            ),
            models.CheckConstraint(
                condition=Q(
                    total__gte=0,
                    insurance_fund__gte=0,
                    personal_account__gte=0,
                    self_pay__gte=0,
                    insurance_account_balance__gte=0,
                ),
                name="bill_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0, paid_amount__lte=models.F("self_pay")),
                name="bill_paid_amount_within_self_pay",
            ),
            models.CheckConstraint(
                condition=Q(
                    total=models.F("insurance_fund")
                    + models.F("personal_account")
                    + models.F("self_pay")
                ),
                name="bill_total_is_its_parts",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["institution", "status"]),
            models.Index(fields=["status", "due_at"]),  # the overdue sweep and reminders
            # The reports' periods: rows are written about in time order (a bill is paid
            # within days of its visit), so a block range index finds a period's rows for a
            # few pages, and costs a write almost nothing.
            BrinIndex(fields=["paid_at"], name="bill_paid_brin"),
        ]

    def __str__(self) -> str:
        return _("Bill %(number)s: %(amount)s yuan") % {"number": self.pk, "amount": self.self_pay}

    @property
    def is_owed(self) -> bool:
        return self.status in BILL_OWED

    @property
    def amount_due(self) -> Decimal:
        return self.self_pay - self.paid_amount if self.is_owed else Decimal("0.00")

    @property
    def payment_link(self) -> "PaymentLink | None":
        """The bill's own link (instalments of a plan have theirs)."""
        return next((link for link in self.payment_links.all() if link.instalment_id is None), None)

    @transition(field=status, source=BILL_OWED, target=BillStatus.PAID)
    def mark_paid(self) -> None:
        pass

    @transition(field=status, source=BILL_OWED, target=BillStatus.WRITTEN_OFF)
    def write_off(self) -> None:
        pass


class InterimCharge(AppendOnlyModel):
    """A charge an interim bill took. A visit's live charges on no interim bill are held
    while it is open, and its final bill's once it is closed."""

    charge = models.OneToOneField(
        Charge, on_delete=models.PROTECT, related_name="interim", verbose_name=_("charge")
    )
    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, related_name="interim_charges", verbose_name=_("bill")
    )

    class Meta:
        verbose_name = _("charge on an interim bill")
        verbose_name_plural = _("charges on interim bills")

    def __str__(self) -> str:
        return f"{self.charge_id} -> {self.bill_id}"
