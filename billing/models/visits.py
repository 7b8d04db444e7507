"""Visits and the charges of their running bill.

* A ``Visit`` is opened by an institution's HIS for a patient with an active agreement, in
  one pool (outpatient or inpatient). ``(institution, his_visit_id)`` is unique.
* A ``Charge`` is one line of the running bill; ``(visit, his_line_id)`` is unique. Its
  ``self_pay_estimate`` is held against the visit's credit line. Charges are never edited:
  a ``ChargeVoid`` (at most one per charge) takes one back and releases its hold.
* The visit's ``held`` and ``total`` are sums of its live charges: caches the tests
  recompute from the charges.
"""

from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel, CreditLine, CreditPool, Institution, Patient

if TYPE_CHECKING:
    from billing.models.bills import Bill

# The largest visit total the scheme takes (settlement amounts are bounded by it too).
MAX_VISIT_TOTAL = Decimal("100000000.00")


class ChargeCategory(models.TextChoices):
    """What a charge is for, as the HIS sends it (docs/his-api.md lists them)."""

    REGISTRATION = "registration", pgettext_lazy("charge category", "Registration")
    CONSULTATION = "consultation", pgettext_lazy("charge category", "Consultation")
    LAB = "lab", pgettext_lazy("charge category", "Laboratory test")
    IMAGING = "imaging", pgettext_lazy("charge category", "Imaging")
    DRUG = "drug", pgettext_lazy("charge category", "Drug")
    TREATMENT = "treatment", pgettext_lazy("charge category", "Treatment")
    MATERIAL = "material", pgettext_lazy("charge category", "Medical material")
    BED = "bed", pgettext_lazy("charge category", "Bed")
    NURSING = "nursing", pgettext_lazy("charge category", "Nursing")
    OTHER = "other", pgettext_lazy("charge category", "Other")


class VisitStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("visit status", "Open")  # charges accumulate, held
    CLOSED = "closed", pgettext_lazy("visit status", "Closed")  # settled: the hold is a bill


class Visit(models.Model):
    """One outpatient visit or inpatient stay at one institution.

    Invariants: ``total`` = sum of live charges' amounts, ``held`` = sum of the self-pay
    estimates of those on no interim bill while open, and 0 once closed; only open visits
    take charges.
    """

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="visits", verbose_name=_("institution")
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="visits", verbose_name=_("patient")
    )
    credit_line = models.ForeignKey(
        CreditLine, on_delete=models.PROTECT, related_name="visits", verbose_name=_("credit line")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CreditPool.choices)
    his_visit_id = models.CharField(_("HIS visit id"), max_length=64)
    department = models.CharField(_("department"), max_length=100, blank=True)
    doctor = models.CharField(_("doctor"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("started"))
    status = FSMField(_("status"), default=VisitStatus.OPEN, choices=VisitStatus.choices)
    total = models.DecimalField(_("total"), default=Decimal("0.00"), **MONEY)
    held = models.DecimalField(_("held"), default=Decimal("0.00"), **MONEY)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "his_visit_id"], name="visit_his_id_unique"
            ),
            models.CheckConstraint(condition=Q(total__gte=0, held__gte=0), name="visit_sums_gte_0"),
        ]
        indexes = [
            models.Index(fields=["patient", "status"]),
            # The usage and credit reports' days (see Bill's indexes).
            BrinIndex(fields=["started_at"], name="visit_started_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.institution.code}/{self.his_visit_id}"

    @transition(field=status, source=VisitStatus.OPEN, target=VisitStatus.CLOSED)
    def close(self) -> None:
        pass

    # Read from ``bills`` (prefetch it to read many visits' bills in one statement).
    @property
    def bill(self) -> "Bill | None":
        """The bill the visit closed to (None while it is open)."""
        return next((bill for bill in self.bills.all() if not bill.interim), None)

    @property
    def interim_bills(self) -> "list[Bill]":
        """The bills of a long stay billed part-way, oldest first."""
        return sorted((bill for bill in self.bills.all() if bill.interim), key=lambda b: b.pk)


class Charge(AppendOnlyModel):
    """One line of a visit's running bill as the HIS posted it. Never edited; voided by a
    ``ChargeVoid``."""

    # db_index=False: charge_his_line_unique (visit, his_line_id) serves lookups by visit.
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        related_name="charges",
        db_index=False,
        verbose_name=_("visit"),
    )
    his_line_id = models.CharField(max_length=64, verbose_name=_("HIS line ID"))
    item_code = models.CharField(max_length=64, verbose_name=_("item code"))
    item_name = models.CharField(max_length=200, verbose_name=_("item"))
    category = models.CharField(
        max_length=64, choices=ChargeCategory.choices, verbose_name=_("category")
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=3, verbose_name=_("quantity"))
    unit_price = models.DecimalField(
        max_digits=14, decimal_places=4, verbose_name=_("unit price")
    )  # drug prices: 4 places
    amount = models.DecimalField(**MONEY, verbose_name=_("amount"))
    self_pay_estimate = models.DecimalField(**MONEY, verbose_name=_("self-pay estimate"))
    # The key that authenticated the request; keys are revoked, never deleted (PROTECT).
    posted_by = models.ForeignKey(
        "accounts.InstitutionApiKey",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("posted by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        ordering = ["visit", "pk"]
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        constraints = [
            models.UniqueConstraint(fields=["visit", "his_line_id"], name="charge_his_line_unique"),
            models.CheckConstraint(
                condition=Q(amount__gt=0, quantity__gt=0, unit_price__gte=0),
                name="charge_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(self_pay_estimate__gte=0, self_pay_estimate__lte=models.F("amount")),
                name="charge_estimate_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.his_line_id} {self.item_name} {self.amount}"


class ChargeVoid(AppendOnlyModel):
    """Takes one charge back (at most once) and releases its hold."""

    charge = models.OneToOneField(
        Charge, on_delete=models.PROTECT, related_name="void", verbose_name=_("charge")
    )
    reason = models.TextField(verbose_name=_("reason"))
    voided_by = models.ForeignKey(
        "accounts.InstitutionApiKey",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        verbose_name = _("charge void")
        verbose_name_plural = _("charge voids")

    def __str__(self) -> str:
        return f"void {self.charge_id}: {self.reason}"


class DailyVisitCount(models.Model):
    """All the visits an institution had on a day, on credit or not, as its HIS reports them:
    what the usage rate (visits on credit against all visits) is measured against."""

    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        related_name="daily_visit_counts",
        verbose_name=_("institution"),
    )
    day = models.DateField(_("day"))
    outpatient = models.PositiveIntegerField(_("outpatient visits"))
    inpatient = models.PositiveIntegerField(_("inpatient admissions"))
    reported_at = models.DateTimeField(_("reported"), auto_now=True)

    class Meta:
        ordering = ["-day", "institution"]
        verbose_name = _("daily visit count")
        verbose_name_plural = _("daily visit counts")
        constraints = [
            models.UniqueConstraint(fields=["institution", "day"], name="visit_count_one_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.institution} {self.day}"
