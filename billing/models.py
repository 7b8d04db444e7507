"""Billing: visits, charges held against the credit line, and the bills they become.

Design overview
---------------
* A ``Visit`` is opened by an institution's HIS for a patient with an active agreement, in
  one pool (outpatient or inpatient). ``(institution, his_visit_id)`` is unique.
* A ``Charge`` is one line of the running bill; ``(visit, his_line_id)`` is unique. Its
  ``self_pay_estimate`` is held against the visit's credit line. Charges are never edited:
  a ``ChargeVoid`` (at most one per charge) takes one back and releases its hold.
* Closing a visit records the insurance settlement and turns the hold into a ``Bill`` of
  the self-pay amount, due after the pool's period.
* Every movement of credit is a ``CreditEntry`` (append-only): ``+`` uses credit, ``-``
  releases it. A credit line's ``used`` is the sum of its entries; the visit's ``held`` and
  ``total`` are sums of its live charges. Stored totals are caches, and the tests recompute
  them from these rows.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from accounts.models import MONEY, AppendOnlyModel, CreditLine, CreditPool, Institution, Patient

# The largest visit total the scheme takes (settlement amounts are bounded by it too).
MAX_VISIT_TOTAL = Decimal("100000000.00")


class VisitStatus(models.TextChoices):
    OPEN = "open", _("Open")  # charges accumulate; their estimates are held
    CLOSED = "closed", _("Closed")  # settled: the hold became a bill


class Visit(models.Model):
    """One outpatient visit or inpatient stay at one institution.

    Invariants: ``total`` = sum of live charges' amounts, ``held`` = sum of their self-pay
    estimates while open and 0 once closed; only open visits take charges and voids.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="visits")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visits")
    credit_line = models.ForeignKey(CreditLine, on_delete=models.PROTECT, related_name="visits")
    kind = models.CharField(_("kind"), max_length=16, choices=CreditPool.choices)
    his_visit_id = models.CharField(_("HIS visit id"), max_length=64)
    department = models.CharField(_("department"), max_length=100, blank=True)
    doctor = models.CharField(_("doctor"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("started"))
    status = FSMField(_("status"), default=VisitStatus.OPEN, choices=VisitStatus.choices)
    total = models.DecimalField(_("total"), default=Decimal("0.00"), **MONEY)
    held = models.DecimalField(_("held"), default=Decimal("0.00"), **MONEY)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.institution.code}/{self.his_visit_id}"

    @transition(field=status, source=VisitStatus.OPEN, target=VisitStatus.CLOSED)
    def close(self) -> None:
        pass


class Charge(AppendOnlyModel):
    """One line of a visit's running bill as the HIS posted it. Never edited; voided by a
    ``ChargeVoid``."""

    # db_index=False: charge_his_line_unique (visit, his_line_id) serves lookups by visit.
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, related_name="charges", db_index=False
    )
    his_line_id = models.CharField(max_length=64)
    item_code = models.CharField(max_length=64)
    item_name = models.CharField(max_length=200)
    category = models.CharField(max_length=64)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)  # drug prices: 4 places
    amount = models.DecimalField(**MONEY)
    self_pay_estimate = models.DecimalField(**MONEY)
    # The key that authenticated the request; keys are revoked, never deleted (PROTECT).
    posted_by = models.ForeignKey(
        "accounts.InstitutionApiKey", on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

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

    charge = models.OneToOneField(Charge, on_delete=models.PROTECT, related_name="void")
    reason = models.TextField()
    voided_by = models.ForeignKey(
        "accounts.InstitutionApiKey", on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("charge void")
        verbose_name_plural = _("charge voids")

    def __str__(self) -> str:
        return f"void {self.charge_id}: {self.reason}"


class BillStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")  # due: holds credit until paid
    OVERDUE = "overdue", _("Overdue")  # past its due time, still unpaid (the overdue sweep)
    PAID = "paid", _("Paid")  # settled; credit released
    WRITTEN_OFF = "written_off", _("Written off")  # given up by finance; stays in the record


# What the patient still owes: a bill in one of these holds credit and can be paid.
BILL_OWED = [BillStatus.UNPAID, BillStatus.OVERDUE]


class Bill(models.Model):
    """What the patient owes for one closed visit: the self-pay part of its settlement.

    Invariants: ``total`` = ``insurance_fund`` + ``personal_account`` + ``self_pay``; an
    unpaid bill holds ``self_pay`` on its credit line.
    """

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="bill")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bills")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="bills")
    credit_line = models.ForeignKey(CreditLine, on_delete=models.PROTECT, related_name="bills")
    pool = models.CharField(max_length=16, choices=CreditPool.choices)
    status = FSMField(_("status"), default=BillStatus.UNPAID, choices=BillStatus.choices)
    total = models.DecimalField(_("total"), **MONEY)
    insurance_fund = models.DecimalField(_("insurance fund"), **MONEY)
    personal_account = models.DecimalField(_("personal insurance account"), **MONEY)
    self_pay = models.DecimalField(_("self-pay"), **MONEY)
    insurance_account_balance = models.DecimalField(_("insurance account balance"), **MONEY)
    closed_at = models.DateTimeField(_("visit closed"))
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # Paid so far: instalments of a payment plan pay a bill in parts.
    paid_amount = models.DecimalField(_("paid so far"), default=Decimal("0.00"), **MONEY)
    written_off_amount = models.DecimalField(_("written off"), default=Decimal("0.00"), **MONEY)
    # Given back after payment (charges voided after the bill was paid).
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0.00"), **MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-closed_at", "-pk"]
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        permissions = [
            ("write_off_bill", "Can write off overdue bills"),
            ("take_window_payment", "Can take payments at the window"),
            ("print_invoice", "Can mark invoices printed"),
            ("pay_out_refund", "Can pay out refunds at the window"),
        ]
        constraints = [
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
        ]

    def __str__(self) -> str:
        return f"bill {self.pk}: {self.self_pay}"

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


class PaymentLink(models.Model):
    """The link in the visit-ended SMS: ``/p/<token>``. The token is 192 random bits and
    carries no personal data; the link works until the bill is paid or it expires."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="payment_links")
    # Set for an instalment of a payment plan: the link pays that instalment.
    instalment = models.OneToOneField(
        "Instalment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_link",
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        constraints = [
            models.UniqueConstraint(
                fields=["bill"], condition=Q(instalment=None), name="payment_link_one_per_bill"
            )
        ]

    def __str__(self) -> str:
        return f"link for bill {self.bill_id}"

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
    PENDING = "pending", _("Pending")  # the patient is at the channel's checkout
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


class Payment(models.Model):
    """One attempt to pay a bill through a channel. ``out_trade_no`` is ours (sent to the
    channel); ``gateway_trade_no`` is the channel's, unique per channel."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(_("channel"), max_length=20)
    out_trade_no = models.CharField(max_length=40, unique=True)
    gateway_trade_no = models.CharField(max_length=64, null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    status = FSMField(_("status"), default=PaymentStatus.CREATED, choices=PaymentStatus.choices)
    # At a window: how it was paid and who took it.
    method = models.CharField(_("method"), max_length=20, choices=WindowMethod.choices, blank=True)
    taken_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The patient's address when paying online (WeChat H5 checks it against the payer's).
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The link it was made through (an instalment's link pays that instalment).
    link = models.ForeignKey(
        PaymentLink, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    duplicate = models.BooleanField(
        _("duplicate"),
        default=False,
        help_text=_("Succeeded for a bill already paid: refunded automatically."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

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

    def __str__(self) -> str:
        return f"{self.channel} {self.out_trade_no}: {self.amount}"

    @transition(field=status, source=PaymentStatus.CREATED, target=PaymentStatus.PENDING)
    def start(self) -> None:
        pass

    @transition(
        field=status,
        source=[PaymentStatus.CREATED, PaymentStatus.PENDING],
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
    PENDING = "pending", _("Pending")  # asked of the channel (or about to be)
    SUCCEEDED = "succeeded", _("Refunded")  # the channel gave the money back
    # For a window to pay out: a window payment, a printed invoice (to be taken back), or an
    # online refund the channel refused or could not be reached for after its retries.
    AT_WINDOW = "at_window", _("At the window")
    PAID_OUT = "paid_out", _("Paid out at the window")


class RefundMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CARD = "card", _("Back to the bank card")


class Refund(models.Model):
    """Money going back to the patient from one payment, through the payment's channel.
    ``out_refund_no`` is ours; channels treat a repeated refund request with the same number
    as the same refund, so asking again after a lost answer is safe."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    # The voided charge it gives back the self-pay part of (none for a duplicate payment).
    charge = models.ForeignKey(
        "Charge", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    out_refund_no = models.CharField(max_length=40, unique=True)
    gateway_refund_no = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=200)
    actor = models.CharField(_("requested by"), max_length=150)
    status = FSMField(_("status"), default=RefundStatus.PENDING, choices=RefundStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    paid_out_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_out_method = models.CharField(
        _("paid out by"), max_length=20, choices=RefundMethod.choices, blank=True
    )
    paid_out_note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

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

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.SUCCEEDED)
    def succeed(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.AT_WINDOW)
    def send_to_window(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.AT_WINDOW, target=RefundStatus.PAID_OUT)
    def pay_out(self) -> None:
        pass


class PaymentNotification(AppendOnlyModel):
    """Every asynchronous notification a channel sent, as verified; the same one again is
    recognised by ``(channel, gateway_trade_no, status)`` and changes nothing."""

    channel = models.CharField(max_length=20)
    out_trade_no = models.CharField(max_length=40)
    gateway_trade_no = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    amount = models.DecimalField(**MONEY)
    raw = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

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

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="invoice")
    number = models.CharField(_("number"), max_length=12, unique=True)
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    # Printed on paper at a window: a refund then needs the paper back (at the window).
    printed_at = models.DateTimeField(_("printed"), null=True, blank=True)
    printed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refunded_amount = models.DecimalField(_("refunded"), default=Decimal("0.00"), **MONEY)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self) -> str:
        return self.number


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
        CreditLine, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=CreditEntryKind.choices)
    amount = models.DecimalField(**MONEY)
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    charge = models.ForeignKey(
        Charge, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    bill = models.ForeignKey(
        Bill, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    actor = models.CharField(max_length=100)  # "api-key:<prefix>", "user:<id>", "system"
    created_at = models.DateTimeField(auto_now_add=True)

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
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class IdempotencyRecord(models.Model):
    """The first answer to an ``Idempotency-Key``, kept so a retry gets it again.

    ``(institution, key)`` is unique; ``request_hash`` tells a retry from a reuse of the key
    for another request. A record without a response is in flight since ``started_at``.
    """

    # db_index=False: idempotency_key_unique (institution, key) serves lookups by institution.
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    started_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["institution", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key


# --- Collections ---------------------------------------------------------------------------


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class CollectionCase(models.Model):
    """A patient with bills overdue long enough for staff to work. One open case per patient;
    opened and closed by the overdue sweep and by payments. ``overdue_amount``,
    ``oldest_due_at`` and ``priority`` are refreshed from the bills."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="collection_cases")
    status = FSMField(_("status"), default=CaseStatus.OPEN, choices=CaseStatus.choices)
    assigned_to = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collection_cases",
        verbose_name=_("agent"),
    )
    escalated = models.BooleanField(_("escalated"), default=False)
    disputed = models.BooleanField(
        _("disputed"), default=False, help_text=_("Reminders are paused while disputed.")
    )
    overdue_amount = models.DecimalField(_("overdue"), default=Decimal("0.00"), **MONEY)
    oldest_due_at = models.DateTimeField(_("oldest due"), null=True, blank=True)
    priority = models.IntegerField(_("priority"), default=0)
    # A broken promise puts the case on top from the day after; the next action clears it.
    on_top_since = models.DateField(_("on top since"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-priority", "pk"]
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        permissions = [("work_collectioncase", "Can work collection cases")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="open"),
                name="collection_case_one_open_per_patient",
            )
        ]
        indexes = [models.Index(fields=["status", "-priority"])]

    def __str__(self) -> str:
        return f"case {self.pk}: {self.patient}"

    @transition(field=status, source=CaseStatus.OPEN, target=CaseStatus.CLOSED)
    def close(self) -> None:
        pass


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    ASSIGNED = "assigned", _("Assigned")
    CONTACT = "contact", _("Contact")
    LINK_RESENT = "link_resent", _("Payment link resent")
    PROMISE = "promise", _("Promise to pay")
    PROMISE_KEPT = "promise_kept", _("Promise kept")
    PROMISE_BROKEN = "promise_broken", _("Promise broken")
    PLAN = "plan", _("Payment plan")
    ESCALATED = "escalated", _("Escalated")
    DISPUTED = "disputed", _("Disputed")
    DISPUTE_RESOLVED = "dispute_resolved", _("Dispute resolved")
    WRITTEN_OFF = "written_off", _("Written off")
    PAYMENT = "payment", _("Payment received")
    CLOSED = "closed", _("Closed")


class ContactChannel(models.TextChoices):
    CALL = "call", _("Phone call")
    SMS = "sms", _("SMS")
    VISIT = "visit", _("Visit")


class CaseEvent(AppendOnlyModel):
    """The case's history: every action, by whom, when."""

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("what"), max_length=20, choices=CaseEventKind.choices)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    channel = models.CharField(
        _("channel"), max_length=10, choices=ContactChannel.choices, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("case event")
        verbose_name_plural = _("case history")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class PromiseStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")


class PromiseToPay(models.Model):
    """ "I will pay <amount> by <date>": kept when what is owed has fallen by the amount by
    the end of that day, broken otherwise."""

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="promises")
    promised_date = models.DateField(_("pay by"))
    amount = models.DecimalField(_("amount"), **MONEY)
    owed_when_made = models.DecimalField(**MONEY)
    status = FSMField(_("status"), default=PromiseStatus.PENDING, choices=PromiseStatus.choices)
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_gt_0")
        ]
        indexes = [models.Index(fields=["status", "promised_date"])]

    def __str__(self) -> str:
        return f"{self.amount} by {self.promised_date}"

    @transition(field=status, source=PromiseStatus.PENDING, target=PromiseStatus.KEPT)
    def keep(self) -> None:
        pass

    @transition(field=status, source=PromiseStatus.PENDING, target=PromiseStatus.BROKEN)
    def break_(self) -> None:
        pass


class PaymentPlan(models.Model):
    """An overdue bill split into instalments, each with its own link and reminders."""

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="plan")
    case = models.ForeignKey(
        CollectionCase, on_delete=models.PROTECT, null=True, blank=True, related_name="plans"
    )
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")

    def __str__(self) -> str:
        return f"plan for bill {self.bill_id}"


class Instalment(models.Model):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.PROTECT, related_name="instalments")
    number = models.PositiveSmallIntegerField(_("number"))
    amount = models.DecimalField(_("amount"), **MONEY)
    due_at = models.DateTimeField(_("due"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        ordering = ["plan", "number"]
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["paid_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.number}: {self.amount}"


# --- The sandbox channel's own books ---------------------------------------------------
# Not ours: what the simulated channel knows, so that querying it, refunding through it and
# downloading its statement work as they do at a real channel.


class SandboxTrade(models.Model):
    out_trade_no = models.CharField(max_length=40, unique=True)
    trade_no = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10)  # the sandbox's words: PAID, FAILED, CLOSED
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.trade_no} {self.status}"


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(max_length=40, unique=True)
    refund_no = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.refund_no} {self.amount}"
