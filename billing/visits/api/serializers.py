"""Shapes of the HIS API: inputs validated here, outputs built from models and selectors.

Money is a JSON string with 2 decimals ("12.30"); a JSON number is accepted on input.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from accounts.models import AgreementStatus, CreditPool
from billing.models import MAX_VISIT_TOTAL, Bill, BillStatus, ChargeCategory, Visit, VisitStatus

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def money(*, min_value: Decimal = Decimal("0.00"), max_value: Decimal = MAX_VISIT_TOTAL, **kw):
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=min_value, max_value=max_value, **kw
    )


class TimeField(serializers.DateTimeField):
    """ISO 8601; a time without a zone is taken as Asia/Shanghai. Between 2000 and now."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except (OverflowError, ValueError):
            self.fail("invalid", format="ISO 8601")

    def to_internal_value(self, value):
        value = super().to_internal_value(value)
        if value < EARLIEST:
            raise serializers.ValidationError(_("This time is before the year 2000."))
        if value > timezone.now() + dt.timedelta(minutes=5):
            raise serializers.ValidationError(_("This time is in the future."))
        return value


his_id = RegexValidator(r"^[^/]+$", _("A HIS id cannot contain '/'."))


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable error code (see the list in the docs).")
    message = serializers.CharField(help_text="For a person: what went wrong and what to do.")
    details = serializers.DictField(help_text="Facts about the error, per code.")


class CreditLimitExceededSerializer(ErrorSerializer):
    available = money(min_value=None, help_text="Credit available now (also in details).")
    requested = money(help_text="What the request would hold (also in details).")


# --- Inputs ------------------------------------------------------------------------------


class CitizenCardQuery(serializers.Serializer):
    citizen_card = serializers.CharField(max_length=32)


class GivenChoiceField(serializers.ChoiceField):
    """A choice in a query string where ``?status=`` is a value, refused as not a choice,
    rather than taken for no filter (DRF's reading of an empty form field)."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class BillQuery(serializers.Serializer):
    citizen_card = serializers.CharField(max_length=32, required=False)
    status = GivenChoiceField(choices=BillStatus.choices, required=False)


class VisitOpenInput(serializers.Serializer):
    citizen_card = serializers.CharField(max_length=32)
    kind = serializers.ChoiceField(choices=CreditPool.choices)
    his_visit_id = serializers.CharField(max_length=64, validators=[his_id])
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    doctor = serializers.CharField(max_length=100, required=False, allow_blank=True)
    started_at = TimeField(required=False)


class ChargeInput(serializers.Serializer):
    his_line_id = serializers.CharField(max_length=64, validators=[his_id])
    item_code = serializers.CharField(max_length=64)
    item_name = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=ChargeCategory.choices)
    quantity = serializers.DecimalField(
        max_digits=12, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal("100000")
    )
    unit_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        min_value=Decimal("0"),
        max_value=settings.API_MAX_CHARGE_AMOUNT,
    )
    amount = money(min_value=Decimal("0.01"), max_value=settings.API_MAX_CHARGE_AMOUNT)
    self_pay_estimate = money(
        max_value=settings.API_MAX_CHARGE_AMOUNT,
        required=False,
        help_text="What the patient will likely pay of this charge; the whole amount if absent.",
    )

    def validate(self, data):
        if abs(data["quantity"] * data["unit_price"] - data["amount"]) >= Decimal("0.01"):
            raise serializers.ValidationError(
                {"amount": _("amount must be quantity x unit_price (to the cent).")}
            )
        data.setdefault("self_pay_estimate", data["amount"])
        if data["self_pay_estimate"] > data["amount"]:
            raise serializers.ValidationError(
                {"self_pay_estimate": _("self_pay_estimate cannot exceed the amount.")}
            )
        return data


class VoidInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CloseInput(serializers.Serializer):
    total = money()
    insurance_fund = money(help_text="Paid by the medical insurance fund (医保统筹).")
    personal_account = money(help_text="Paid from the insurance personal account (个人账户).")
    self_pay = money(help_text="What the patient pays: the bill (自付).")
    insurance_account_balance = money(help_text="Personal account balance after this visit.")
    closed_at = TimeField(required=False)


# --- Outputs -----------------------------------------------------------------------------


class PoolCreditOutput(serializers.Serializer):
    limit = money()
    available = money(min_value=None)


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
    amount = money()
    self_pay_estimate = money()
    status = serializers.SerializerMethodField()
    posted_at = serializers.DateTimeField(source="created_at")
    void_reason = serializers.SerializerMethodField()
    voided_at = serializers.SerializerMethodField()

    def _void(self, charge):
        # A charge this request posted has no void; the others come with theirs
        # (select_related), so rendering asks the database nothing.
        if charge.his_line_id in self.context.get("new_his_line_ids", ()):
            return None
        return getattr(charge, "void", None)

    def get_status(self, charge) -> str:
        return "voided" if self._void(charge) else "live"

    def get_void_reason(self, charge) -> str | None:
        void = self._void(charge)
        return void.reason if void else None

    def get_voided_at(self, charge) -> dt.datetime | None:
        void = self._void(charge)
        return self.fields["posted_at"].to_representation(void.created_at) if void else None


class BillOutput(serializers.ModelSerializer):
    visit_id = serializers.IntegerField()
    his_visit_id = serializers.CharField(source="visit.his_visit_id")
    institution = serializers.CharField(source="institution.code")
    citizen_card = serializers.CharField(source="patient.citizen_card")
    amount_due = money()

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
        ]


# Declared field by field, as ChargeOutput.
class VisitSummaryOutput(serializers.Serializer):
    """A visit's running totals."""

    id = serializers.IntegerField()
    his_visit_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=CreditPool.choices)
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    total = money(help_text="Sum of the live charges.")
    held = money(help_text="Self-pay estimates held against the credit line (0 once closed).")
    available = money(
        source="credit_line.available",
        min_value=None,
        help_text="Credit still available in the visit's pool.",
    )


class ChargesOutput(serializers.Serializer):
    """The answer to posting or voiding charges: the visit's running totals and the charges
    of the request (the whole visit is at GET /visits/{id}/)."""

    visit = VisitSummaryOutput()
    charges = ChargeOutput(many=True)


class VisitOutput(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.code")
    citizen_card = serializers.CharField(source="patient.citizen_card")
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    charges = ChargeOutput(many=True)
    available = money(
        source="credit_line.available",
        min_value=None,
        help_text="Credit still available in the visit's pool.",
    )
    bill = serializers.SerializerMethodField()

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
        ]
        extra_kwargs = {
            "total": {"help_text": "Sum of the live charges."},
            "held": {
                "help_text": "Self-pay estimates held against the credit line (0 once closed)."
            },
        }

    @extend_schema_field(BillOutput(allow_null=True))
    def get_bill(self, visit):
        bill = getattr(visit, "bill", None)
        return BillOutput(bill).data if bill else None


class BillPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BillOutput(many=True)
