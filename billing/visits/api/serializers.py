"""Shapes of the HIS API: inputs validated here, outputs built from models and selectors.

Money is a JSON string with 2 decimals ("12.30"), on input too (``fields.DecimalString``).
Each input field's rule is what the OpenAPI schema says of it (``billing.visits.api.fields``).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import AgreementStatus, CreditPool
from billing.models import (
    MAX_VISIT_TOTAL,
    MONEY_TAKEN,
    Bill,
    BillStatus,
    ChargeCategory,
    EInvoice,
    EInvoiceStatus,
    Payment,
    Visit,
    VisitStatus,
)
from billing.visits.api.fields import (
    BLANKABLE_TEXT,
    HIS_ID,
    Count,
    DecimalString,
    QueryChoice,
    QueryInteger,
    QueryText,
    Text,
)

BILL_PAGE_SIZE = 50
VISIT_COUNT_MAX = 10_000_000  # a day's visits at one institution, with room to spare
BILL_PAGE_MAX = 200
# An offset far past any institution's bills, and well inside PostgreSQL's bigint.
BILL_OFFSET_MAX = 10**9


def money(*, min_value: Decimal = Decimal("0.00"), max_value: Decimal = MAX_VISIT_TOTAL, **kw):
    return DecimalString(places=2, min_value=min_value, max_value=max_value, **kw)


def money_out(**kw):
    return serializers.DecimalField(max_digits=12, decimal_places=2, **kw)


class TimeField(serializers.DateTimeField):
    """ISO 8601; a time without a zone is taken as Asia/Shanghai (TIME_ZONE). Whether the time
    is plausible (since 2000, not in the future) is the services' rule (422), which a schema
    cannot state: a valid date-time whose UTC leaves the calendar (0001-01-01T00:00+03:04) is
    taken as the calendar's end for them to refuse, not as malformed."""

    FIRST = dt.datetime.min.replace(tzinfo=dt.UTC)
    LAST = dt.datetime.max.replace(tzinfo=dt.UTC)

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            value = value.replace(tzinfo=timezone.get_default_timezone())
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            return self.FIRST if value.year < 2000 else self.LAST


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable error code (see the list in the docs).")
    message = serializers.CharField(help_text="For a person: what went wrong and what to do.")
    details = serializers.DictField(help_text="Facts about the error, per code.")


class CreditLimitExceededSerializer(ErrorSerializer):
    available = money_out(help_text="Credit available now (also in details).")
    requested = money_out(help_text="What the request would hold (also in details).")


# --- Inputs ------------------------------------------------------------------------------


class CitizenCardQuery(serializers.Serializer):
    citizen_card = QueryText(max_length=32)


class BillQuery(serializers.Serializer):
    citizen_card = QueryText(max_length=32, required=False)
    status = QueryChoice(choices=BillStatus.choices, required=False)
    # Read again by the view's paginator: validated here so that a bad one is a 400.
    limit = QueryInteger(
        min_value=1,
        max_value=BILL_PAGE_MAX,
        required=False,
        help_text=f"Bills per page ({BILL_PAGE_SIZE} if absent).",
    )
    offset = QueryInteger(min_value=0, max_value=BILL_OFFSET_MAX, required=False)


class VisitOpenInput(serializers.Serializer):
    citizen_card = Text(max_length=32)
    kind = serializers.ChoiceField(choices=CreditPool.choices)
    his_visit_id = Text(max_length=64, pattern=HIS_ID)
    department = Text(max_length=100, pattern=BLANKABLE_TEXT, required=False)
    doctor = Text(max_length=100, pattern=BLANKABLE_TEXT, required=False)
    started_at = TimeField(required=False, help_text="Since 2000 and not in the future (422).")


class ChargeInput(serializers.Serializer):
    his_line_id = Text(max_length=64, pattern=HIS_ID)
    item_code = Text(max_length=64)
    item_name = Text(max_length=200)
    category = serializers.ChoiceField(choices=ChargeCategory.choices)
    quantity = DecimalString(places=3, min_value=Decimal("0.001"), max_value=Decimal("100000"))
    unit_price = DecimalString(
        places=4, min_value=Decimal(0), max_value=settings.API_MAX_CHARGE_AMOUNT
    )
    amount = money(
        min_value=Decimal("0.01"),
        max_value=settings.API_MAX_CHARGE_AMOUNT,
        help_text="quantity x unit_price to the cent (else 422 amount_mismatch).",
    )
    self_pay_estimate = money(
        max_value=settings.API_MAX_CHARGE_AMOUNT,
        required=False,
        help_text="What the patient will likely pay of this charge; the whole amount if absent. "
        "At most the amount (else 422 self_pay_estimate_exceeds_amount).",
    )

    def validate(self, data):
        data.setdefault("self_pay_estimate", data["amount"])
        return data


class VoidInput(serializers.Serializer):
    reason = Text(max_length=500)


class CloseInput(serializers.Serializer):
    total = money()
    insurance_fund = money(help_text="Paid by the medical insurance fund (医保统筹).")
    personal_account = money(help_text="Paid from the insurance personal account (个人账户).")
    self_pay = money(help_text="What the patient pays: the bill (自付).")
    insurance_account_balance = money(help_text="Personal account balance after this visit.")
    closed_at = TimeField(
        required=False, help_text="From the visit's start to now (else 422 invalid_closed_at)."
    )


class InterimInput(CloseInput):
    """An interim settlement of a long inpatient stay: a close's fields, for the charges not
    on a bill yet."""

    his_settlement_id = Text(
        max_length=64,
        pattern=HIS_ID,
        help_text="Your id of this interim settlement (中途结算): the same id again answers "
        "the same bill.",
    )


# --- Outputs -----------------------------------------------------------------------------


class PoolCreditOutput(serializers.Serializer):
    limit = money_out()
    available = money_out()


class PoolsOutput(serializers.Serializer):
    outpatient = PoolCreditOutput()
    inpatient = PoolCreditOutput()


class EligibilityOutput(serializers.Serializer):
    eligible = serializers.BooleanField()
    agreement_status = serializers.ChoiceField(choices=AgreementStatus.choices, allow_null=True)
    reason = serializers.CharField(
        allow_null=True, help_text="Why not eligible: an error code (unknown_card, ...)."
    )
    message = serializers.CharField(allow_blank=True)
    pools = PoolsOutput(allow_null=True)


# Declared field by field: a ModelSerializer would build its fields from the model each
# time one is made, and every charge posted is rendered.
class ChargeOutput(serializers.Serializer):
    """One charge of a visit, live or voided."""

    his_line_id = serializers.CharField()
    item_code = serializers.CharField()
    item_name = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=4)
    amount = money_out()
    self_pay_estimate = money_out()
    status = serializers.SerializerMethodField()
    posted_at = serializers.DateTimeField(source="created_at")
    void_reason = serializers.SerializerMethodField()
    voided_at = serializers.SerializerMethodField()
    interim_bill_id = serializers.SerializerMethodField(
        help_text="The interim bill that took this charge (POST …/interim/); null while it is "
        "on no bill, and for the charges of the close's bill."
    )

    def _related(self, charge, name: str):
        # A charge this request posted has no void and is on no bill; the others come with
        # theirs (select_related), so rendering asks the database nothing.
        if charge.his_line_id in self.context.get("new_his_line_ids", ()):
            return None
        return getattr(charge, name, None)

    def _void(self, charge):
        return self._related(charge, "void")

    def get_interim_bill_id(self, charge) -> int | None:
        interim = self._related(charge, "interim")
        return interim.bill_id if interim else None

    def get_status(self, charge) -> str:
        return "voided" if self._void(charge) else "live"

    def get_void_reason(self, charge) -> str | None:
        void = self._void(charge)
        return void.reason if void else None

    def get_voided_at(self, charge) -> dt.datetime | None:
        void = self._void(charge)
        return self.fields["posted_at"].to_representation(void.created_at) if void else None


class PaymentOutput(serializers.ModelSerializer):
    """A payment of the bill: online through a channel, or taken at a window (``method``).
    Only payments that took money are listed."""

    method = serializers.CharField(help_text="At a window: cash, card or scan; else empty.")

    class Meta:
        model = Payment
        fields = ["id", "channel", "method", "amount", "status", "succeeded_at"]


class EInvoiceOutput(serializers.ModelSerializer):
    """The government e-invoice (财政电子票据) of the bill: ``requested`` until the platform
    issues it (code, number and check code are then set), ``failed`` if it refused it (finance
    asks again), ``reversed`` once red-letter invoices reversed its whole self-pay part."""

    status = serializers.ChoiceField(choices=EInvoiceStatus.choices)

    class Meta:
        model = EInvoice
        fields = ["status", "code", "number", "check_code", "issued_on"]


class BillOutput(serializers.ModelSerializer):
    """A bill; load it with ``selectors.bills_for_output`` (what it shows, in a few
    statements for a page of bills)."""

    visit_id = serializers.IntegerField()
    his_visit_id = serializers.CharField(source="visit.his_visit_id")
    institution = serializers.CharField(source="institution.code")
    citizen_card = serializers.CharField(source="patient.citizen_card")
    amount_due = money_out()
    paid_amount = money_out(help_text="Paid toward the bill so far.")
    refunded_amount = money_out(help_text="Given back for charges voided after payment.")
    invoice_number = serializers.SerializerMethodField(
        help_text="Our invoice number (YD + 10 digits), once paid: printed at a window."
    )
    einvoice = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    interim = serializers.BooleanField(
        help_text="Billed part-way through an inpatient stay that goes on "
        "(POST /visits/{id}/interim/); false for the bill a visit closed to."
    )
    his_settlement_id = serializers.SerializerMethodField(
        help_text="The HIS's id of the interim settlement; null on the bill of a close."
    )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_his_settlement_id(self, bill) -> str | None:
        return bill.his_settlement_id or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_invoice_number(self, bill) -> str | None:
        invoice = getattr(bill, "invoice", None)
        return invoice.number if invoice else None

    @extend_schema_field(EInvoiceOutput(allow_null=True))
    def get_einvoice(self, bill) -> dict | None:
        invoice = getattr(bill, "invoice", None)
        einvoice = invoice.einvoice if invoice else None
        return EInvoiceOutput(einvoice).data if einvoice else None

    @extend_schema_field(PaymentOutput(many=True))
    def get_payments(self, bill) -> list[dict]:
        taken = [p for p in bill.payments.all() if p.status in MONEY_TAKEN]
        return PaymentOutput(taken, many=True).data

    class Meta:
        model = Bill
        fields = [
            "id",
            "visit_id",
            "his_visit_id",
            "institution",
            "citizen_card",
            "pool",
            "status",
            "total",
            "insurance_fund",
            "personal_account",
            "self_pay",
            "insurance_account_balance",
            "amount_due",
            "closed_at",
            "due_at",
            "paid_at",
            "paid_amount",
            "refunded_amount",
            "invoice_number",
            "einvoice",
            "payments",
            "interim",
            "his_settlement_id",
        ]


# Declared field by field, as ChargeOutput.
class VisitSummaryOutput(serializers.Serializer):
    """A visit's running totals."""

    id = serializers.IntegerField()
    his_visit_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=CreditPool.choices)
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    total = money_out(help_text="Sum of the live charges.")
    held = money_out(
        help_text="Self-pay estimates of the charges on no bill yet, held against the credit "
        "line (0 once closed)."
    )
    available = money_out(
        source="credit_line.available",
        help_text="Credit still available in the visit's pool.",
    )


class ChargesOutput(serializers.Serializer):
    """The answer to posting or voiding charges: the visit's running totals and the charges
    of the request (the whole visit is at GET /visits/{id}/)."""

    visit = VisitSummaryOutput()
    charges = ChargeOutput(many=True)


class InterimOutput(serializers.Serializer):
    """The answer to an interim bill: the visit's running totals and the bill."""

    visit = VisitSummaryOutput()
    bill = BillOutput()


class VisitOutput(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.code")
    citizen_card = serializers.CharField(source="patient.citizen_card")
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    charges = ChargeOutput(many=True)
    available = money_out(
        source="credit_line.available",
        help_text="Credit still available in the visit's pool.",
    )
    bill = serializers.SerializerMethodField()
    interim_bills = BillOutput(
        many=True, help_text="The bills of the stay so far, oldest first (POST …/interim/)."
    )

    class Meta:
        model = Visit
        fields = [
            "id",
            "his_visit_id",
            "institution",
            "citizen_card",
            "kind",
            "department",
            "doctor",
            "status",
            "started_at",
            "closed_at",
            "charges",
            "total",
            "held",
            "available",
            "bill",
            "interim_bills",
        ]
        extra_kwargs = {
            "total": {"help_text": "Sum of the live charges."},
            "held": {
                "help_text": "Self-pay estimates of the charges on no bill yet, held against "
                "the credit line (0 once closed)."
            },
        }

    @extend_schema_field(BillOutput(allow_null=True))
    def get_bill(self, visit):
        bill = visit.bill
        return BillOutput(bill).data if bill else None


class BillPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BillOutput(many=True)


class VisitCountInput(serializers.Serializer):
    date = serializers.DateField(
        help_text="The day counted (China time), YYYY-MM-DD: today or up to "
        "VISIT_COUNT_MAX_AGE_DAYS (400) days before (else 422 invalid_count_date)."
    )
    outpatient = Count(
        min_value=0,
        max_value=VISIT_COUNT_MAX,
        help_text="Every outpatient visit that day, on credit or not.",
    )
    inpatient = Count(
        min_value=0, max_value=VISIT_COUNT_MAX, help_text="Every inpatient admission that day."
    )


class VisitCountOutput(serializers.Serializer):
    date = serializers.DateField(source="day")
    outpatient = serializers.IntegerField()
    inpatient = serializers.IntegerField()
    reported_at = serializers.DateTimeField()
