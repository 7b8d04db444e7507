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
from billing.payments.gateways import StatementLine, get_gateway
from billing.payments.refunds import WINDOW_CHANNEL
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
    payments = {
        p.out_trade_no: p
        for p in Payment.objects.filter(
            channel=channel, out_trade_no__in=[line.out_trade_no for line in payment_lines]
        )
    }
    refunds = {
        r.out_refund_no: r
        for r in Refund.objects.filter(
            payment__channel=channel,
            out_refund_no__in=[line.out_refund_no for line in refund_lines],
        )
    }
    ours_that_day = list(
        Payment.objects.filter(
            channel=channel, status__in=MONEY_TAKEN, succeeded_at__gte=start, succeeded_at__lt=end
        )
    )
    refunds_that_day = list(
        Refund.objects.filter(
            payment__channel=channel,
            status=RefundStatus.SUCCEEDED,
            finished_at__gte=start,
            finished_at__lt=end,
        )
    )
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
        ours = refunds.get(number) if refund else payments.get(number)
        links = (
            {"refund_id": ours.pk, "payment_id": ours.payment_id}
            if refund and ours
            else {"payment_id": ours.pk}
            if ours
            else {}
        )
        if seen[(line.kind, number)] > 1:
            key = f"{DifferenceKind.DUPLICATE}:{line.kind}:{number}:{seen[(line.kind, number)]}"
            differences.append(Difference(DifferenceKind.DUPLICATE, key, **facts, **links))
            continue
        recorded = ours is not None and (
            ours.status == RefundStatus.SUCCEEDED if refund else ours.status in MONEY_TAKEN
        )
        if not recorded:
            kind = DifferenceKind.REFUND_MISSING_HERE if refund else DifferenceKind.MISSING_HERE
            our_amount = None
        elif ours.amount != line.amount:
            kind, our_amount = DifferenceKind.AMOUNT, ours.amount
        else:
            continue
        differences.append(
            Difference(kind, f"{kind}:{number}", our_amount=our_amount, **facts, **links)
        )
    listed = {line.out_trade_no for line in payment_lines}
    for payment in ours_that_day:
        if payment.out_trade_no not in listed:
            kind = DifferenceKind.MISSING_AT_CHANNEL
            differences.append(
                Difference(
                    kind,
                    f"{kind}:{payment.out_trade_no}",
                    out_trade_no=payment.out_trade_no,
                    gateway_trade_no=payment.gateway_trade_no,
                    our_amount=payment.amount,
                    payment_id=payment.pk,
                )
            )
    listed = {line.out_refund_no for line in refund_lines}
    for refund in refunds_that_day:
        if refund.out_refund_no not in listed:
            kind = DifferenceKind.REFUND_MISSING_AT_CHANNEL
            differences.append(
                Difference(
                    kind,
                    f"{kind}:{refund.out_refund_no}",
                    out_refund_no=refund.out_refund_no,
                    our_amount=refund.amount,
                    payment_id=refund.payment_id,
                    refund_id=refund.pk,
                )
            )
    return Comparison(
        channel=channel,
        day=day,
        lines=lines,
        differences=differences,
        channel_total=sum((line.amount for line in payment_lines), ZERO)
        - sum((line.amount for line in refund_lines), ZERO),
        our_count=len(ours_that_day) + len(refunds_that_day),
        our_total=sum((p.amount for p in ours_that_day), ZERO)
        - sum((r.amount for r in refunds_that_day), ZERO),
    )


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
