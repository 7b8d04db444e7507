"""Settlement per institution (T+1): each day's payments through each online channel, less
refunds and the channel's fees, are what the region pays out to each institution."""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, Sum, Value, When
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing.models import (
    MONEY_TAKEN,
    Payment,
    Refund,
    RefundStatus,
    SettlementStatement,
    SettlementStatus,
)
from billing.payments.gateways import WINDOW_CHANNEL
from billing.payments.selectors import day_bounds
from creditcare.errors import DomainError
from creditcare.money import ZERO

logger = logging.getLogger(__name__)

RATE = DecimalField(max_digits=6, decimal_places=4)


def _fee(amount: F) -> Round:
    """The channel's fee on one transaction of ``amount``, rounded to the cent half up as the
    channels round it (PostgreSQL's round of a numeric rounds halves away from zero)."""
    rates = settings.CHANNEL_FEE_RATES
    rate = Case(
        *(When(channel=channel, then=Value(r, RATE)) for channel, r in rates.items()),
        default=Value(ZERO, RATE),
    )
    return Round(amount * rate, 2)


def settlement_statements_build(*, day: dt.date) -> int:
    """Build (or rebuild) the day's statements from the payments and refunds recorded that
    day (China time), in two aggregate queries. A statement already paid out is left as it
    was paid. Returns how many statements were written."""
    start, end = day_bounds(day)
    paid = (
        Payment.objects.filter(
            status__in=MONEY_TAKEN, succeeded_at__gte=start, succeeded_at__lt=end
        )
        .exclude(channel=WINDOW_CHANNEL)
        .values("bill__institution_id", "channel")
        .annotate(count=Count("pk"), total=Sum("amount"), fees=Sum(_fee(F("amount"))))
        .order_by()
    )
    refunded = (
        Refund.objects.filter(
            status=RefundStatus.SUCCEEDED, finished_at__gte=start, finished_at__lt=end
        )
        .exclude(payment__channel=WINDOW_CHANNEL)
        .annotate(channel=F("payment__channel"))
        .values("payment__bill__institution_id", "channel")
        .annotate(count=Count("pk"), total=Sum("amount"), fees=Sum(_fee(F("amount"))))
        .order_by()
    )
    totals: dict[tuple[int, str], dict] = {}
    for row in paid:
        totals[(row["bill__institution_id"], row["channel"])] = {
            "payment_count": row["count"],
            "gross": row["total"],
            "fees": row["fees"],
        }
    for row in refunded:
        key = (row["payment__bill__institution_id"], row["channel"])
        day_total = totals.setdefault(key, {"payment_count": 0, "gross": ZERO, "fees": ZERO})
        # The channel gives its fee back with a refund, pro rata, rounded the same way.
        day_total |= {
            "refund_count": row["count"],
            "refunds": row["total"],
            "fees": day_total["fees"] - row["fees"],
        }
    written = _statements_write(day=day, totals=totals)
    logger.info("settlement statements of %s: %d written", day, written)
    return written


def _statements_write(*, day: dt.date, totals: dict[tuple[int, str], dict]) -> int:
    """Write the day's statements from ``totals`` (institution and channel -> figures); one
    that no longer has money is zeroed, one paid out is left as it was paid."""
    written = 0
    with transaction.atomic():
        statements = {
            (s.institution_id, s.channel): s
            for s in SettlementStatement.objects.select_for_update().filter(day=day)
        }
        for key in totals.keys() | statements.keys():
            statement = statements.get(key) or SettlementStatement(
                institution_id=key[0], channel=key[1], day=day
            )
            if statement.status == SettlementStatus.PAID_OUT:
                continue
            figures = {"payment_count": 0, "gross": ZERO, "refund_count": 0, "refunds": ZERO}
            figures |= {"fees": ZERO} | totals.get(key, {})
            for name, value in figures.items():
                setattr(statement, name, value)
            statement.fee_rate = settings.CHANNEL_FEE_RATES.get(key[1], ZERO)
            statement.net = statement.gross - statement.refunds - statement.fees
            statement.save()
            written += 1
    return written


def settlement_pay_out(
    *, statement: SettlementStatement, actor: User, transfer_reference: str
) -> SettlementStatement:
    """Finance transferred the statement's net to the institution: record it, with the
    transfer's reference. Its figures no longer change."""
    transfer_reference = (transfer_reference or "").strip()
    if not transfer_reference:
        raise DomainError("reference_required", _("Please give the transfer's reference."))
    with transaction.atomic():
        locked = SettlementStatement.objects.select_for_update().get(pk=statement.pk)
        if locked.status != SettlementStatus.TO_PAY:
            raise DomainError("paid_out_already", _("This statement is paid out already."))
        locked.pay_out()
        locked.paid_out_at, locked.paid_out_by = timezone.now(), actor
        locked.transfer_reference = transfer_reference[:60]
        locked.save(update_fields=["status", "paid_out_at", "paid_out_by", "transfer_reference"])
    return locked
