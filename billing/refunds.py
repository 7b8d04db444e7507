"""Money going back: refunds through the payment's own channel.

A refund is recorded first (``pending``) and asked of the channel by a Celery task after
commit. Channels treat the same ``out_refund_no`` again as the same refund, so a retried or
doubled task asks twice and refunds once; the answer is applied once, under the payment's
row lock. Lock order as everywhere: credit line, bill, payment, refund.
"""

import datetime as dt
import logging
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.gateways import GatewayError, RefundResult, get_gateway
from billing.models import Payment, PaymentStatus, Refund, RefundStatus
from creditcare.errors import DomainError
from creditcare.money import money_sum, quantize

logger = logging.getLogger(__name__)

REFUNDABLE = [PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED]


def refundable(payment: Payment) -> Decimal:
    """What is left to give back: paid, less refunds done or under way."""
    asked = payment.refunds.exclude(status=RefundStatus.FAILED)
    return payment.amount - money_sum(asked, "amount")


def refund_request(*, payment: Payment, amount: Decimal, reason: str, actor: str) -> Refund:
    """Record a refund of ``amount`` from ``payment``; the channel is asked after commit."""
    from billing.tasks import send_refund

    amount = quantize(amount)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status not in REFUNDABLE:
            raise DomainError(
                "payment_not_refundable", _("Only a payment that took money can be refunded.")
            )
        left = refundable(payment)
        if not Decimal("0") < amount <= left:
            raise DomainError(
                "refund_exceeds_payment",
                _("A refund must be more than 0 and at most %(left)s.") % {"left": left},
                {"refundable": str(left), "requested": str(amount)},
            )
        refund = Refund.objects.create(
            payment=payment,
            out_refund_no=f"RF{secrets.token_hex(12)}",
            amount=amount,
            reason=reason[:200],
            actor=actor[:150],
        )
        transaction.on_commit(lambda: send_refund.delay(refund.pk), robust=True)
    logger.info("refund %s of %s from %s: %s", refund.out_refund_no, amount, payment, reason)
    return refund


def refund_send(*, refund_id: int) -> Refund:
    """Ask the channel for a pending refund and apply its answer.

    Raises ``GatewayError`` when the channel could not be reached and attempts remain (the
    task retries with backoff); after ``REFUND_MAX_ATTEMPTS`` the refund fails.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING:
        return refund  # answered already: a retried or doubled task
    Refund.objects.filter(pk=refund_id).update(attempts=F("attempts") + 1)
    refund.attempts += 1
    try:
        result = get_gateway(refund.payment.channel).refund(refund)
    except GatewayError as error:
        if refund.attempts < settings.REFUND_MAX_ATTEMPTS:
            Refund.objects.filter(pk=refund_id).update(last_error=str(error)[:500])
            raise
        result = RefundResult(succeeded=False, error=f"gave up: {error}")
    return _refund_answered(refund_id=refund_id, result=result)


def _refund_answered(*, refund_id: int, result: RefundResult) -> Refund:
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return refund
        refund.finished_at = timezone.now()
        if result.succeeded:
            refund.succeed()
            refund.gateway_refund_no = result.gateway_refund_no
            done = money_sum(payment.refunds.filter(status=RefundStatus.SUCCEEDED), "amount")
            if done + refund.amount >= payment.amount:
                payment.refund_fully()
            else:
                payment.refund_partially()
            payment.save(update_fields=["status"])
        else:
            refund.fail()
            refund.last_error = result.error[:500]
            logger.warning("refund %s failed: %s", refund.out_refund_no, result.error)
        refund.save(update_fields=["status", "gateway_refund_no", "last_error", "finished_at"])
    return refund


def refunds_resend_pending(*, now: dt.datetime | None = None) -> int:
    """Ask again for refunds pending for a while (the task was lost, or the broker was down
    at commit). Returns how many were enqueued; a doubled ask refunds once."""
    from billing.tasks import send_refund

    cutoff = (now or timezone.now()) - dt.timedelta(minutes=10)
    pending = Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=cutoff)
    ids = list(pending.order_by("pk").values_list("pk", flat=True)[:500])
    for refund_id in ids:
        send_refund.delay(refund_id)
    return len(ids)
