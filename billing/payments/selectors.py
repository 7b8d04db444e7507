"""Reads of payments: a channel's statement of a day against our books."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from billing.models import (
    MONEY_TAKEN,
    Payment,
    Refund,
    RefundStatus,
)
from billing.payments.gateways import StatementLine, get_gateway


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
