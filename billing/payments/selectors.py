"""Reads of payments: a channel's statement of a day against our books."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.models import (
    MONEY_TAKEN,
    DifferenceKind,
    Payment,
    Refund,
    RefundMethod,
    RefundStatus,
    WindowMethod,
)
from billing.payments.gateways import WINDOW_CHANNEL, StatementLine, get_gateway
from creditcare.money import ZERO


@dataclass(frozen=True)
class Difference:
    """One mismatch between a channel's statement and our books, before it is stored.
    ``key`` names it within its channel and day."""

    kind: str  # a DifferenceKind
    key: str
    out_trade_no: str = ""
    out_refund_no: str = ""
    gateway_trade_no: str = ""
    channel_amount: Decimal | None = None
    our_amount: Decimal | None = None
    at: dt.datetime | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    line: StatementLine | None = None  # the channel's, if it has one


@dataclass(frozen=True)
class Comparison:
    """A channel's statement of a day beside our books of the same day."""

    channel: str
    day: dt.date
    lines: list[StatementLine]
    differences: list[Difference]
    channel_total: Decimal  # payments less refunds, at the channel
    our_count: int
    our_total: Decimal
    by_kind: Counter = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_kind", Counter(d.kind for d in self.differences))

    @property
    def balanced(self) -> bool:
        return not self.differences


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of a day, China time."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())
    return start, start + dt.timedelta(days=1)


def statement_compare(*, channel: str, day: dt.date, lines: list[StatementLine]) -> Comparison:
    """Compare a channel's statement of ``day`` (China time) with our books.

    A line of the channel is matched with our payment or refund of the same number,
    whenever we recorded it; what we recorded that day and the channel's statement of the
    day lacks is a difference the other way. A number the channel lists twice is a
    duplicate.
    """
    start, end = day_bounds(day)
    payment_lines = [line for line in lines if line.kind == "payment"]
    refund_lines = [line for line in lines if line.kind == "refund"]
    payments = Payment.objects.filter(channel=channel)
    refunds = Refund.objects.filter(payment__channel=channel)
    ours = {
        "payment": payments.in_bulk(
            [line.out_trade_no for line in payment_lines], field_name="out_trade_no"
        ),
        "refund": refunds.in_bulk(
            [line.out_refund_no for line in refund_lines], field_name="out_refund_no"
        ),
    }
    paid_that_day = list(
        payments.filter(status__in=MONEY_TAKEN, succeeded_at__gte=start, succeeded_at__lt=end)
    )
    refunded_that_day = list(
        refunds.filter(status=RefundStatus.SUCCEEDED, finished_at__gte=start, finished_at__lt=end)
    )
    return Comparison(
        channel=channel,
        day=day,
        lines=lines,
        differences=[
            *_lines_unmatched(lines, ours),
            *_missing_at_channel(paid_that_day, {line.out_trade_no for line in payment_lines}),
            *_missing_at_channel(refunded_that_day, {line.out_refund_no for line in refund_lines}),
        ],
        channel_total=sum((line.amount for line in payment_lines), ZERO)
        - sum((line.amount for line in refund_lines), ZERO),
        our_count=len(paid_that_day) + len(refunded_that_day),
        our_total=sum((p.amount for p in paid_that_day), ZERO)
        - sum((r.amount for r in refunded_that_day), ZERO),
    )


def _lines_unmatched(
    lines: list[StatementLine], ours: dict[str, dict[str, Payment | Refund]]
) -> list[Difference]:
    """The channel's lines our books do not match: a number listed twice, money we did not
    record (or not as taken or given back), an amount that differs."""
    differences: list[Difference] = []
    seen: Counter = Counter()
    for line in lines:
        refund = line.kind == "refund"
        number = line.out_refund_no if refund else line.out_trade_no
        seen[(line.kind, number)] += 1
        facts = {
            "out_trade_no": line.out_trade_no,
            "out_refund_no": line.out_refund_no,
            "gateway_trade_no": line.gateway_trade_no,
            "channel_amount": line.amount,
            "at": line.at,
            "line": line,
        }
        record = ours[line.kind].get(number)
        if record is not None:
            facts |= (
                {"refund_id": record.pk, "payment_id": record.payment_id}
                if refund
                else {"payment_id": record.pk}
            )
        if seen[(line.kind, number)] > 1:
            key = f"{DifferenceKind.DUPLICATE}:{line.kind}:{number}:{seen[(line.kind, number)]}"
            differences.append(Difference(DifferenceKind.DUPLICATE, key, **facts))
            continue
        recorded = record is not None and (
            record.status == RefundStatus.SUCCEEDED if refund else record.status in MONEY_TAKEN
        )
        if not recorded:
            kind = DifferenceKind.REFUND_MISSING_HERE if refund else DifferenceKind.MISSING_HERE
            facts["our_amount"] = None
        elif record.amount != line.amount:
            kind, facts["our_amount"] = DifferenceKind.AMOUNT, record.amount
        else:
            continue
        differences.append(Difference(kind, f"{kind}:{number}", **facts))
    return differences


def _missing_at_channel(
    recorded: list[Payment] | list[Refund], listed: set[str]
) -> list[Difference]:
    """Our payments (or refunds) of the day whose number the channel's statement lacks."""
    differences = []
    for record in recorded:
        if isinstance(record, Refund):
            kind, number = DifferenceKind.REFUND_MISSING_AT_CHANNEL, record.out_refund_no
            facts = {
                "out_refund_no": number,
                "payment_id": record.payment_id,
                "refund_id": record.pk,
            }
        else:
            kind, number = DifferenceKind.MISSING_AT_CHANNEL, record.out_trade_no
            facts = {
                "out_trade_no": number,
                "gateway_trade_no": record.gateway_trade_no,
                "payment_id": record.pk,
            }
        if number not in listed:
            differences.append(
                Difference(kind, f"{kind}:{number}", our_amount=record.amount, **facts)
            )
    return differences


def statement_check(*, channel: str, day: dt.date) -> Comparison:
    """Download the channel's statement of ``day`` (China time) and compare it with our
    books (``statement_compare``). Raises ``GatewayError``; ``KeyError`` for a channel we
    do not know."""
    return statement_compare(channel=channel, day=day, lines=get_gateway(channel).statement(day))


# A refund paid out at the window goes back the way it is counted in the till.
TILL_METHOD_OF_REFUND = {RefundMethod.CASH: WindowMethod.CASH, RefundMethod.CARD: WindowMethod.CARD}


def window_takings(*, cashier, day: dt.date) -> dict[str, Decimal]:
    """What a cashier took at the window on ``day`` (China time) by way of paying, less the
    refunds they paid out the same way: what their till should hold. Methods with nothing
    are left out."""
    start, end = day_bounds(day)
    takings: dict[str, Decimal] = {}
    for method, total in (
        Payment.objects.filter(
            channel=WINDOW_CHANNEL,
            taken_by=cashier,
            status__in=MONEY_TAKEN,
            succeeded_at__gte=start,
            succeeded_at__lt=end,
        )
        .values_list("method")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        takings[method] = takings.get(method, ZERO) + total
    for method, total in (
        Refund.objects.filter(
            status=RefundStatus.PAID_OUT,
            paid_out_by=cashier,
            paid_out_method__in=list(TILL_METHOD_OF_REFUND),
            finished_at__gte=start,
            finished_at__lt=end,
        )
        .values_list("paid_out_method")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        till = TILL_METHOD_OF_REFUND[method]
        takings[till] = takings.get(till, ZERO) - total
    return takings


@dataclass(frozen=True)
class Movement:
    """Money between a patient and us, as /me/ lists it."""

    at: dt.datetime
    kind: str  # "payment" or "refund"
    institution: str
    channel: str
    amount: Decimal
    refund_status: str = ""  # a RefundStatus, for a refund


def patient_movements(patient_id: int, limit: int = 30) -> list[Movement]:
    """The patient's latest payments that took money and refunds, newest first."""
    payments = (
        Payment.objects.filter(bill__patient_id=patient_id, status__in=MONEY_TAKEN)
        .select_related("institution")
        .order_by("-succeeded_at")[:limit]
    )
    refunds = (
        Refund.objects.filter(payment__bill__patient_id=patient_id)
        .select_related("payment__institution")
        .order_by("-created_at")[:limit]
    )
    movements = [
        Movement(p.succeeded_at, "payment", p.institution.name, p.channel, p.amount)
        for p in payments
    ] + [
        Movement(
            r.created_at,
            "refund",
            r.payment.institution.name,
            r.payment.channel,
            r.amount,
            r.status,
        )
        for r in refunds
    ]
    return sorted(movements, key=lambda m: m.at, reverse=True)[:limit]
