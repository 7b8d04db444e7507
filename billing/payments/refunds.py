"""Money going back: refunds.

The rules (MISSION.md): only online payments are refunded online, through their own
channel; a refund of bill money needs the charge voided first; if the paper invoice was
printed, or the channel refuses the refund, the refund goes to the **window queue**, where
staff pay it out and record how. A refund never exceeds what is left of its payment; partial
refunds add up.

An online refund is recorded first (``pending``) and asked of the channel by a Celery task
after commit. Channels treat the same ``out_refund_no`` again as the same refund, so a
retried or doubled task asks twice and refunds once; the answer is applied once, under the
payment's row lock. When a refund is done (refunded online or paid out at the window) the
payment, and for bill money the bill and its invoice, record it. Lock order as everywhere:
credit line, bill, payment, refund.

A refund whose every request (``REFUND_MAX_ATTEMPTS``) timed out or failed may still have
been made: the answer can be lost on its way back. So the channel is asked about it
(``refund_query``) before giving up: made, it succeeded; never made, it goes to the window
queue; and if the channel cannot say either, its outcome is **unknown**. An unknown refund is
never paid out at a window (that could pay it twice): finance sees it in the admin, and the
channel is asked again daily (``refunds_query_unknown``) or when finance asks for it.
"""

import datetime as dt
import logging
import secrets
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing import locks
from billing.einvoices.services import einvoice_reverse
from billing.events import EventType, bill_event
from billing.models import (
    Bill,
    Charge,
    Invoice,
    Payment,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
)
from billing.payments.gateways import WINDOW_CHANNEL, GatewayError, RefundResult, get_gateway
from creditcare.errors import DomainError
from creditcare.money import money_sum, quantize
from notifications.services import sms_queue

logger = logging.getLogger(__name__)

REFUNDABLE = [PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED]
DONE = [RefundStatus.SUCCEEDED, RefundStatus.PAID_OUT]


def refundable(payment: Payment) -> Decimal:
    """What is left to give back: paid, less refunds done or under way."""
    return payment.amount - money_sum(payment.refunds.all(), "amount")


def refund_request(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    actor: str,
    charge: Charge | None = None,
) -> Refund:
    """Record a refund of ``amount`` from ``payment`` (for ``charge``, a voided charge, when
    it gives back bill money). Online ones are asked of the channel after commit; the rest
    wait in the window queue."""

    amount = quantize(amount)
    with transaction.atomic():
        _line, _bill, payment = locks.payment_lock(payment_id=payment.pk)
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
        invoice = getattr(payment.bill, "invoice", None)
        at_window = payment.channel == WINDOW_CHANNEL or (
            charge is not None and invoice is not None and invoice.printed_at is not None
        )
        refund = Refund.objects.create(
            payment=payment,
            charge=charge,
            out_refund_no=f"RF{secrets.token_hex(12)}",
            amount=amount,
            reason=reason[:200],
            actor=actor[:150],
            status=RefundStatus.AT_WINDOW if at_window else RefundStatus.PENDING,
        )
        if not at_window:
            transaction.on_commit(lambda: send_refund.delay(refund.pk), robust=True)
        _refund_notify(refund=refund, payment=payment)
    logger.info("refund %s of %s from %s: %s", refund.out_refund_no, amount, payment, reason)
    return refund


def _refund_notify(*, refund: Refund, payment: Payment) -> None:
    """Tell the patient money is coming back: how much, where, and when to expect it."""
    at_window = refund.status == RefundStatus.AT_WINDOW
    try:
        channel = "" if at_window else get_gateway(payment.channel).name
    except KeyError:  # a channel no longer configured: name it as recorded
        channel = payment.channel
    patient = payment.bill.patient
    sms_queue(
        to=patient.phone,
        template="refund_started",
        context={
            "patient_name": patient.name,
            "amount": refund.amount,
            "at_window": at_window,
            "channel": channel,
        },
        dedup_key=f"refund:{refund.pk}:{refund.status}",
    )


def refund_for_void(*, bill: Bill, charge: Charge, actor: str, reason: str) -> list[Refund]:
    """A charge voided after its bill was paid: give back its self-pay part (its estimate,
    at most what is left of the bill's payments), from the latest payments first. Called
    with the credit line and the visit locked."""
    _line, bill = locks.bill_lock(bill_id=bill.pk)
    # Only bill money counts: what went back for overpayments or duplicates never was.
    given_back = money_sum(
        Refund.objects.filter(payment__bill=bill, charge__isnull=False), "amount"
    )
    left = min(charge.self_pay_estimate, bill.paid_amount - given_back)
    refunds = []
    paid = bill.payments.filter(status__in=REFUNDABLE, duplicate=False).order_by("-pk")
    for payment in paid:
        if left <= 0:
            break
        amount = min(left, refundable(payment))
        if amount > 0:
            refunds.append(
                refund_request(
                    payment=payment, amount=amount, reason=reason, actor=actor, charge=charge
                )
            )
            left -= amount
    return refunds


def refund_send(*, refund_id: int) -> Refund:
    """Ask the channel for a pending refund and apply its answer.

    Raises ``GatewayError`` when the channel could not be reached and attempts remain (the
    task retries with backoff). After ``REFUND_MAX_ATTEMPTS`` unanswered requests the channel
    is asked whether it made the refund (see the module's docstring).
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
        # The answer may have been lost after the channel made the refund: ask. (Alipay asks
        # for some 10 s between a refund and its query; a request that timed out left
        # PAYMENT_GATEWAY_TIMEOUT, 10 s by default, ago.)
        return _refund_ask_channel(refund=refund, why=f"gave up: {error}")
    return _refund_answered(refund_id=refund_id, result=result)


def refund_query_unknown(*, refund_id: int) -> Refund:
    """Ask the channel again whether it made a refund whose outcome is unknown, and apply
    the answer once: made, it succeeded; not made, it goes to the window; no answer, it stays
    unknown with the error and the time of this query. Safe to run twice."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.UNKNOWN:
        return refund  # settled already: a doubled run, or finance and the task at once
    return _refund_ask_channel(refund=refund, why="asked again")


def refunds_query_unknown(*, refund_ids: list[int] | None = None) -> dict[str, int]:
    """Ask the channels again about every refund whose outcome is unknown (daily), or about
    those of ``refund_ids`` that are (finance, now). Returns how many ended in each status."""
    ended: dict[str, int] = {}
    unknown = Refund.objects.filter(status=RefundStatus.UNKNOWN).order_by("pk")
    if refund_ids is not None:
        unknown = unknown.filter(pk__in=refund_ids)
    for refund_id in unknown.values_list("pk", flat=True):
        status = refund_query_unknown(refund_id=refund_id).status
        ended[status] = ended.get(status, 0) + 1
    return ended


def _refund_ask_channel(*, refund: Refund, why: str) -> Refund:
    """Ask the channel whether it made ``refund`` (every request for it went unanswered) and
    apply the answer. ``why``: what came before, kept in ``last_error``."""
    asked_at = timezone.now()
    try:
        gateway = get_gateway(refund.payment.channel)
    except KeyError:  # the channel is switched off here: it cannot be asked
        error = f"{why}; query: channel {refund.payment.channel!r} not available"
        return _refund_unknown(refund_id=refund.pk, error=error, at=asked_at)
    try:
        result = gateway.refund_query(refund)
    except GatewayError as error:
        return _refund_unknown(refund_id=refund.pk, error=f"{why}; query: {error}", at=asked_at)
    if result is None:
        result = RefundResult(succeeded=False, error=f"{why}; the channel never made it")
    elif not result.succeeded:
        result = RefundResult(succeeded=False, error=f"{why}; the channel: {result.error}")
    return _refund_answered(refund_id=refund.pk, result=result, asked_at=asked_at)


def _refund_answered(
    *, refund_id: int, result: RefundResult, asked_at: dt.datetime | None = None
) -> Refund:
    """Apply the channel's answer to a refund still waiting for one (pending, or unknown:
    ``asked_at`` is then when the channel was asked about it)."""
    with transaction.atomic():
        _line, _bill, payment, refund = locks.refund_lock(refund_id=refund_id)
        if refund.status not in (RefundStatus.PENDING, RefundStatus.UNKNOWN):
            return refund
        if result.succeeded:
            refund.succeed()
            refund.gateway_refund_no = result.gateway_refund_no
            refund.finished_at = timezone.now()
            _refund_done(refund=refund, payment=payment)
        else:
            refund.send_to_window()
            refund.last_error = result.error[:500]
            logger.warning("refund %s to the window: %s", refund.out_refund_no, result.error)
            _refund_notify(refund=refund, payment=payment)  # now: come to the window
        refund.queried_at = asked_at or refund.queried_at
        refund.save(
            update_fields=["status", "gateway_refund_no", "last_error", "finished_at", "queried_at"]
        )
    return refund


def _refund_unknown(*, refund_id: int, error: str, at: dt.datetime) -> Refund:
    """Neither the refund's requests nor the query about it were answered: it may have been
    made, so it waits (unknown) for the channel to say, and no window pays it out."""
    with transaction.atomic():
        _line, _bill, _payment, refund = locks.refund_lock(refund_id=refund_id)
        if refund.status == RefundStatus.PENDING:
            refund.lose_track()
        elif refund.status != RefundStatus.UNKNOWN:
            return refund  # answered meanwhile (a doubled task): that answer stands
        refund.last_error = error[:500]
        refund.queried_at = at
        refund.save(update_fields=["status", "last_error", "queried_at"])
    logger.warning("refund %s outcome unknown: %s", refund.out_refund_no, error)
    return refund


def _refund_done(*, refund: Refund, payment: Payment) -> None:
    """The money is back with the patient: the payment, and for bill money the bill and its
    invoice, record it. Called with the payment locked."""
    done = money_sum(payment.refunds.filter(status__in=DONE).exclude(pk=refund.pk), "amount")
    if done + refund.amount >= payment.amount:
        payment.refund_fully()
    else:
        payment.refund_partially()
    payment.save(update_fields=["status"])
    if refund.charge_id is not None:
        Bill.objects.filter(pk=payment.bill_id).update(
            refunded_amount=F("refunded_amount") + refund.amount
        )
        Invoice.objects.filter(bill_id=payment.bill_id).update(
            refunded_amount=F("refunded_amount") + refund.amount
        )
        einvoice_reverse(refund=refund)
    bill_event(
        EventType.REFUND_SUCCEEDED,
        Bill.objects.get(pk=payment.bill_id),
        refund={
            "id": refund.pk,
            "payment_id": payment.pk,
            "amount": str(refund.amount),
            "for_charge": refund.charge_id is not None,
        },
    )


def refund_pay_out(*, refund: Refund, actor: User, method: str, note: str = "") -> Refund:
    """Window staff gave the money back (and took back a printed invoice): record how."""
    if method not in RefundMethod.values:
        raise DomainError("refund_method", _("Choose how the money was given back."))
    with transaction.atomic():
        _line, _bill, payment, refund = locks.refund_lock(refund_id=refund.pk)
        if refund.status == RefundStatus.UNKNOWN:
            # The channel may have made it: paying it out too would give the money twice.
            raise DomainError(
                "refund_outcome_unknown",
                _(
                    "The channel may have made this refund already: it cannot be paid out "
                    "at a window until the channel says it did not."
                ),
            )
        if refund.status != RefundStatus.AT_WINDOW:
            raise DomainError("refund_not_at_window", _("This refund is not waiting at a window."))
        refund.pay_out()
        refund.paid_out_by = actor
        refund.paid_out_method = method
        refund.paid_out_note = note[:200]
        refund.finished_at = timezone.now()
        refund.save(
            update_fields=[
                "status",
                "paid_out_by",
                "paid_out_method",
                "paid_out_note",
                "finished_at",
            ]
        )
        _refund_done(refund=refund, payment=payment)
    logger.info("refund %s paid out at the window by %s (%s)", refund.out_refund_no, actor, method)
    return refund


def refunds_resend_pending(*, now: dt.datetime | None = None) -> int:
    """Ask again for refunds pending for a while (the task was lost, or the broker was down
    at commit). Returns how many were enqueued; a doubled ask refunds once."""
    cutoff = (now or timezone.now()) - dt.timedelta(minutes=10)
    # Never tried: the task was lost. One tried already is in its task's backoff.
    pending = Refund.objects.filter(status=RefundStatus.PENDING, attempts=0, created_at__lt=cutoff)
    ids = list(pending.order_by("pk").values_list("pk", flat=True)[:500])
    for refund_id in ids:
        send_refund.delay(refund_id)
    return len(ids)


# Defined beside the service that queues it (no import cycle), under the name it always had.
@shared_task(
    name="billing.tasks.send_refund",
    bind=True,
    acks_late=True,
    autoretry_for=(GatewayError,),
    retry_backoff=60,  # 60 s, 120 s, 240 s, ... with jitter
    retry_backoff_max=3600,
    max_retries=None,  # refund_send gives up after REFUND_MAX_ATTEMPTS
)
def send_refund(self, refund_id: int) -> str:
    """Ask the channel for one refund; a retried or doubled task refunds once."""
    return refund_send(refund_id=refund_id).status
