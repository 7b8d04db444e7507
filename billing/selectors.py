"""Reads of billing data for the HIS API and the admin."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import CreditLine, Institution
from accounts.policy import RepaymentRecord
from billing.gateways import StatementLine, get_gateway
from billing.models import (
    BILL_OWED,
    MONEY_TAKEN,
    Bill,
    BillStatus,
    Charge,
    CreditEntry,
    Payment,
    Refund,
    RefundStatus,
    Visit,
)
from billing.services import agreement_refusal, patient_for_card
from creditcare.errors import DomainError
from creditcare.money import money_sum


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    agreement_status: str | None
    reason: str | None
    message: str
    pools: dict[str, dict[str, Decimal]] | None


def eligibility(*, citizen_card: str) -> Eligibility:
    try:
        patient = patient_for_card(citizen_card)
    except DomainError as error:
        return Eligibility(False, None, error.code, error.message, None)
    agreement = getattr(patient, "agreement", None)
    pools = {
        line.pool: {"limit": line.limit, "available": line.available}
        for line in patient.credit_lines.all()
    } or None  # no credit lines before the agreement is signed
    refusal = agreement_refusal(patient)
    if refusal:
        return Eligibility(
            False, agreement.status if agreement else None, refusal.code, refusal.message, pools
        )
    return Eligibility(True, agreement.status, None, "", pools)


def visit_detail(*, visit_id: int, institution: Institution) -> Visit | None:
    return (
        Visit.objects.filter(pk=visit_id, institution=institution)
        .select_related("patient", "credit_line", "bill")
        .prefetch_related(
            Prefetch("charges", queryset=Charge.objects.select_related("void").order_by("pk"))
        )
        .first()
    )


def bill_list(
    *, institution: Institution, citizen_card: str | None = None, status: str | None = None
) -> QuerySet[Bill]:
    bills = Bill.objects.filter(institution=institution).select_related("patient", "visit")
    if citizen_card:
        bills = bills.filter(patient__citizen_card=citizen_card.strip().upper())
    if status:
        bills = bills.filter(status=status)
    return bills.order_by("-closed_at", "-pk")


def credit_used_from_entries(*, line: CreditLine) -> Decimal:
    """What ``line.used`` must be, recomputed from the credit entries."""
    return money_sum(CreditEntry.objects.filter(credit_line=line), "amount")


def live_charges(*, visit: Visit) -> QuerySet[Charge]:
    """The charges of a visit that were not voided, in the order they were posted."""
    return visit.charges.filter(void__isnull=True).order_by("pk")


@dataclass(frozen=True)
class StatementCheck:
    """A channel's statement of a day beside our books of the same day."""

    channel: str
    day: dt.date
    lines: list[StatementLine]
    only_at_channel: list[StatementLine]  # money the channel moved that we have not recorded
    only_here: list[tuple[str, str, Decimal]]  # (kind, our number, amount) the channel lacks
    amounts_differ: list[tuple[StatementLine, Decimal]]  # (the channel's line, our amount)

    @property
    def balanced(self) -> bool:
        return not (self.only_at_channel or self.only_here or self.amounts_differ)


def statement_check(*, channel: str, day: dt.date) -> StatementCheck:
    """Download the channel's statement of ``day`` (China time) and compare it with the
    payments and refunds we recorded that day. Raises ``GatewayError``."""
    lines = get_gateway(channel).statement(day)
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=1)
    ours = {
        ("payment", p.out_trade_no): p.amount
        for p in Payment.objects.filter(
            channel=channel, status__in=MONEY_TAKEN, succeeded_at__gte=start, succeeded_at__lt=end
        )
    }
    ours |= {
        ("refund", r.out_refund_no): r.amount
        for r in Refund.objects.filter(
            payment__channel=channel,
            status=RefundStatus.SUCCEEDED,
            finished_at__gte=start,
            finished_at__lt=end,
        )
    }
    only_at_channel, amounts_differ = [], []
    for line in lines:
        key = (line.kind, line.out_refund_no if line.kind == "refund" else line.out_trade_no)
        amount = ours.pop(key, None)
        if amount is None:
            only_at_channel.append(line)
        elif amount != line.amount:
            amounts_differ.append((line, amount))
    only_here = [(kind, number, amount) for (kind, number), amount in ours.items()]
    return StatementCheck(channel, day, lines, only_at_channel, only_here, amounts_differ)


def bills_repayment_record(*, patient_id: int, now: dt.datetime | None = None) -> RepaymentRecord:
    """Counts for the credit policy. Bills with nothing to pay are not repayments; a bill
    written off counts as late."""
    now = now or timezone.now()
    bills = Bill.objects.filter(patient_id=patient_id, self_pay__gt=0)
    since = now - dt.timedelta(days=settings.REPAYMENT_LOOKBACK_DAYS)
    late = bills.filter(closed_at__gte=since).filter(
        Q(status=BillStatus.PAID, paid_at__gt=F("due_at")) | Q(status=BillStatus.WRITTEN_OFF)
    )
    last_late = late.order_by("-due_at").values_list("due_at", flat=True).first()
    on_time = bills.filter(status=BillStatus.PAID, paid_at__lte=F("due_at"))
    if last_late:
        on_time = on_time.filter(due_at__gt=last_late)
    return RepaymentRecord(
        on_time_streak=on_time.count(),
        late_repayments=late.count(),
        overdue_bills=bills.filter(status__in=BILL_OWED, due_at__lte=now).count(),
    )
