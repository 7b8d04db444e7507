"""Paying bills: starting a payment at a channel and acting on the channel's notifications.

Lock order as everywhere: the credit line, then the bill, then the payment. A notification
is acted on once: its ``(channel, gateway_trade_no, status)`` is recorded in the same
transaction as its effect, so the same notification again changes nothing, and a late
``failed`` after a ``succeeded`` changes nothing either.
"""

import dataclasses
import datetime as dt
import logging
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from accounts.models import CreditLine, User
from billing import locks
from billing.collections.cases import overdue_review
from billing.einvoices.services import einvoice_request
from billing.events import EventType, bill_event
from billing.ledger import credit_move
from billing.models import (
    MONEY_TAKEN,
    Bill,
    CreditEntryKind,
    Invoice,
    Payment,
    PaymentLink,
    PaymentNotification,
    PaymentPlan,
    PaymentStatus,
    WindowMethod,
)
from billing.payments.gateways import (
    WINDOW_CHANNEL,
    ForgedNotification,
    GatewayError,
    Notification,
    get_gateway,
)
from billing.payments.links import public_url
from billing.payments.refunds import refund_request
from creditcare.errors import DomainError
from creditcare.money import ZERO, quantize
from notifications.services import sms_queue

logger = logging.getLogger(__name__)


def payment_start(
    *, link: PaymentLink, channel: str, client_ip: str | None = None
) -> tuple[Payment, str]:
    """Record a payment of what the link pays now (the bill's amount due, or its instalment)
    and return where to send the patient."""
    try:
        gateway = get_gateway(channel, for_new_payments=True)
    except KeyError:
        raise DomainError("unknown_channel", _("This payment method is not available.")) from None
    with transaction.atomic():
        _line, bill = locks.bill_lock(bill_id=link.bill_id)
        link = PaymentLink.objects.select_related("instalment").get(pk=link.pk)
        link.bill = bill
        if not link.amount_due:
            raise DomainError("bill_paid", _("This bill is already paid."))
        payment = Payment(
            bill=bill,
            link=link,
            client_ip=client_ip,
            channel=channel,
            out_trade_no=f"CC{secrets.token_hex(12)}",
            amount=link.amount_due,
        )
        payment.start()
        payment.save()
    try:
        return payment, gateway.checkout_url(payment)
    except GatewayError as error:  # the payment stays pending: the query settles or drops it
        logger.warning("%s checkout for %s failed: %s", channel, payment, error)
        raise DomainError(
            "channel_unavailable",
            _("The payment channel is not answering. Please try again, or choose another."),
        ) from None


def payment_notified(*, channel: str, notification: Notification) -> Payment:
    """Act on a verified notification. Raises ``ForgedNotification`` if it does not fit."""
    payment = _payment_notified_of(channel=channel, notification=notification)
    with transaction.atomic():
        line, bill, payment = locks.payment_lock(payment_id=payment.pk)
        try:
            with transaction.atomic():
                PaymentNotification.objects.create(
                    channel=channel,
                    out_trade_no=notification.out_trade_no,
                    gateway_trade_no=notification.gateway_trade_no,
                    status=notification.status,
                    amount=notification.amount,
                    raw=notification.raw,
                )
        except IntegrityError:
            return payment  # the same notification again
        if notification.status == PaymentStatus.PENDING:
            pass  # the channel still waits for the patient: recorded, nothing to do
        elif notification.status == PaymentStatus.SUCCEEDED:
            _succeed(
                line=line,
                bill=bill,
                payment=payment,
                gateway_trade_no=notification.gateway_trade_no,
                at=notification.paid_at,
            )
        else:
            transition = getattr(
                payment, "fail" if notification.status == PaymentStatus.FAILED else "cancel"
            )
            if can_proceed(transition):  # a late "failed" after "succeeded" changes nothing
                transition()
                payment.save(update_fields=["status"])
    if notification.status == PaymentStatus.SUCCEEDED:
        # After commit: a suspension lifted, a collection case closed, a promise kept. The
        # money is recorded already; if this fails the daily sweep does it, so the channel
        # is not made to re-send (its repeat would change nothing anyway).
        try:
            overdue_review(patient_id=bill.patient_id)
        except DatabaseError:
            logger.exception(
                "after payment %s: review of patient %s failed", payment, bill.patient_id
            )
    return payment


def _payment_notified_of(*, channel: str, notification: Notification) -> Payment:
    """The payment of ours a notification is about, for the amount we asked."""
    if "\x00" in notification.out_trade_no + notification.gateway_trade_no:
        raise ForgedNotification("a NUL in the order numbers")  # no order of ours has one
    payment = Payment.objects.filter(
        channel=channel, out_trade_no=notification.out_trade_no
    ).first()
    if payment is None:
        raise ForgedNotification(f"no payment {notification.out_trade_no!r} of ours")
    if notification.amount != payment.amount:
        raise ForgedNotification(f"amount {notification.amount} is not {payment.amount}")
    return payment


def _succeed(
    *,
    line: CreditLine,
    bill: Bill,
    payment: Payment,
    gateway_trade_no: str,
    at: dt.datetime | None = None,
) -> None:
    """Record the money taken and apply it to the bill (paid off: invoice and receipt).

    What the bill no longer needs (a bill already paid: two tabs, a late notification, cash
    at the window; or more than is left) is refunded at once: online through the channel,
    at the window for a window payment.
    """
    if payment.status in MONEY_TAKEN:
        return
    applied = _money_taken(bill=bill, payment=payment, gateway_trade_no=gateway_trade_no, at=at)
    if not applied:
        return
    bill.paid_amount += applied
    credit_move(
        line=line,
        kind=CreditEntryKind.PAYMENT,
        amount=-applied,
        actor=f"payment:{payment.channel}",
        bill=bill,
        payment=payment,
    )
    _instalments_cover(bill=bill, at=payment.succeeded_at)
    if bill.paid_amount < bill.self_pay:
        bill.save(update_fields=["paid_amount"])
        _part_payment_notify(bill=bill, payment=payment, applied=applied)
    else:
        _bill_paid(bill=bill, paid_at=payment.succeeded_at)


def _money_taken(
    *, bill: Bill, payment: Payment, gateway_trade_no: str, at: dt.datetime | None
) -> Decimal:
    """The payment succeeded (``at``, when the channel says when; else now); what the bill
    does not need of it is refunded at once. Returns what the bill takes."""
    payment.succeed()
    payment.gateway_trade_no = gateway_trade_no
    payment.succeeded_at = at or timezone.now()
    applied = min(payment.amount, bill.amount_due)
    payment.duplicate = not applied
    payment.save(update_fields=["status", "gateway_trade_no", "succeeded_at", "duplicate"])
    if payment.amount > applied:
        logger.warning(
            "payment %s: %s not needed by bill %s", payment, payment.amount - applied, bill.pk
        )
        refund_request(
            payment=payment,
            amount=payment.amount - applied,
            reason=_("Duplicate payment: the bill was already paid.")
            if payment.duplicate
            else _("Paid more than was left to pay."),
            actor="system:duplicate-payment",
        )
    return applied


def _part_payment_notify(*, bill: Bill, payment: Payment, applied: Decimal) -> None:
    sms_queue(
        to=bill.patient.phone,
        template="instalment_received",
        context={
            "patient_name": bill.patient.name,
            "institution": bill.institution.name,
            "paid": applied,
            "left": bill.amount_due,
        },
        dedup_key=f"payment-received:{payment.pk}",
    )


def _bill_paid(*, bill: Bill, paid_at: dt.datetime) -> None:
    """The bill is paid off: its invoice, and the receipt SMS."""
    bill.mark_paid()
    bill.paid_at = paid_at
    bill.save(update_fields=["status", "paid_at", "paid_amount"])
    bill_event(EventType.BILL_PAID, bill)
    invoice = invoice_issue(bill=bill)
    sms_queue(
        to=bill.patient.phone,
        template="payment_received",
        context={
            "patient_name": bill.patient.name,
            "paid_at": bill.paid_at,
            "total": bill.total,
            "insurance": bill.insurance_fund + bill.personal_account,
            "paid": bill.self_pay,
            "invoice": invoice.number,
            "link": public_url("pay:receipt", bill.payment_link.token),
        },
        dedup_key=f"bill-paid:{bill.pk}",
    )


def _instalments_cover(*, bill: Bill, at) -> None:
    """Money paid toward a payment plan covers its instalments in due order, whichever link
    or window it came through."""
    plan = PaymentPlan.objects.filter(bill=bill).first()
    if plan is None:
        return
    instalments = list(plan.instalments.order_by("number"))
    paid_toward_plan = sum(i.amount for i in instalments) - bill.amount_due
    covered = ZERO
    for instalment in instalments:
        covered += instalment.amount
        if covered > paid_toward_plan:
            break
        if instalment.paid_at is None:
            instalment.paid_at = at
            instalment.save(update_fields=["paid_at"])


def payment_take_at_window(
    *, bill: Bill, amount: Decimal, method: str, actor: User, reference: str = ""
) -> Payment:
    """Window staff took ``amount`` (cash, bank card, the patient's payment code): it pays the
    bill exactly as an online payment does (invoice, receipt SMS, credit released). What the
    bill did not need (paid meanwhile online, or more than was due) waits in the window
    refund queue to be handed back. The same terminal ``reference`` twice is one payment."""
    if method not in WindowMethod.values:
        raise DomainError("window_method", _("Choose how the patient paid."))
    amount = quantize(amount)
    if amount <= 0:
        raise DomainError("window_amount", _("The amount must be more than 0."))
    reference = reference.strip()[:60]
    with transaction.atomic():
        line, bill = locks.bill_lock(bill_id=bill.pk)
        # Terminals reuse short references: one is unique for a bill, not everywhere.
        trade_no = f"WN:{bill.pk}:{reference}" if reference else f"WN{secrets.token_hex(10)}"
        earlier = Payment.objects.filter(channel=WINDOW_CHANNEL, gateway_trade_no=trade_no).first()
        if earlier is not None:
            if earlier.amount != amount:
                raise DomainError(
                    "window_reference_used",
                    _("This terminal reference is already recorded for %(amount)s on this bill.")
                    % {"amount": earlier.amount},
                )
            return earlier  # the form sent twice
        payment = Payment(
            bill=bill,
            channel=WINDOW_CHANNEL,
            method=method,
            taken_by=actor,
            out_trade_no=f"WN{secrets.token_hex(12)}",
            amount=amount,
        )
        payment.start()
        payment.save()
        _succeed(line=line, bill=bill, payment=payment, gateway_trade_no=trade_no)
    overdue_review(patient_id=bill.patient_id)
    logger.info("window payment %s by %s (%s)", payment, actor, method)
    return payment


def invoice_mark_printed(*, invoice: Invoice, actor: User) -> Invoice:
    """The paper invoice was printed at a window: a later refund of it needs it back."""
    Invoice.objects.filter(pk=invoice.pk, printed_at=None).update(
        printed_at=timezone.now(), printed_by=actor
    )
    invoice.refresh_from_db()
    return invoice


def payment_query(*, payment: Payment, now: dt.datetime | None = None) -> Payment:
    """Settle a pending payment by asking its channel, for when the notification is lost:
    the channel's answer is acted on exactly as its notification would be. A payment the
    channel still knows nothing of after ``PAYMENT_ABANDONED_MINUTES`` is cancelled.
    Raises ``GatewayError`` when the channel cannot be reached."""
    now = now or timezone.now()
    answer = get_gateway(payment.channel).query(payment)
    if answer is not None and answer.status != PaymentStatus.PENDING:
        answer = dataclasses.replace(answer, raw={**answer.raw, "source": "query"})
        return payment_notified(channel=payment.channel, notification=answer)
    abandoned = now - dt.timedelta(minutes=settings.PAYMENT_ABANDONED_MINUTES)
    if answer is None and payment.created_at < abandoned:
        with transaction.atomic():
            _line, _bill, payment = locks.payment_lock(payment_id=payment.pk)
            if can_proceed(payment.cancel):
                payment.cancel()
                payment.save(update_fields=["status"])
                logger.info("payment %s abandoned: unknown to its channel", payment)
    return payment


def payments_settle_pending(*, now: dt.datetime | None = None) -> int:
    """Query the channel for every payment pending longer than PAYMENT_QUERY_AFTER_MINUTES.
    Returns how many left ``pending``; a channel that cannot be reached is tried next time."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.PAYMENT_QUERY_AFTER_MINUTES)
    pending = Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lt=cutoff)
    settled = 0
    for payment in pending.order_by("pk")[:500]:
        try:
            payment = payment_query(payment=payment, now=now)
        except (GatewayError, ForgedNotification) as error:
            logger.warning("could not query payment %s: %s", payment, error)
            continue
        settled += payment.status != PaymentStatus.PENDING
    return settled


def invoice_issue(*, bill: Bill) -> Invoice:
    """``YD`` + 10 random digits, unique (a collision draws again); and the government
    e-invoice is asked for."""
    while True:
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    bill=bill, number=f"YD{secrets.randbelow(10**10):010d}"
                )
        except IntegrityError:
            if Invoice.objects.filter(bill=bill).exists():
                return bill.invoice
        else:
            einvoice_request(invoice=invoice)
            bill_event(
                EventType.INVOICE_ISSUED,
                bill,
                invoice={"number": invoice.number, "issued_at": invoice.issued_at.isoformat()},
            )
            return invoice
