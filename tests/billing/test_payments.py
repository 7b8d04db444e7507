"""Paying a bill through the sandbox channel: notifications verified, acted on once."""

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from billing.models import (
    BillStatus,
    CreditEntry,
    Payment,
    PaymentNotification,
    PaymentStatus,
    RefundStatus,
    SandboxRefund,
)
from billing.payments.gateways.sandbox import SandboxGateway
from notifications.models import SmsMessage
from tests.billing.paying import start
from tests.billing.test_api import assert_credit_consistent, outpatient
from tests.billing.test_me import sign_in

pytestmark = pytest.mark.django_db


def notification(payment, status="PAID", **change) -> dict:
    """What the sandbox channel notifies when the patient presses a button of its checkout."""
    return {**SandboxGateway().checkout(payment, status), **change}


def test_paying_marks_the_bill_paid_releases_credit_and_sends_the_receipt(verified, link, card):
    payment = start(verified, link)
    checkout = verified.get(f"/pay/sandbox/{payment.out_trade_no}/")
    assert checkout.status_code == 200 and "35.00" in checkout.content.decode()

    response = verified.post("/pay/notify/sandbox/", notification(payment))

    assert response.status_code == 200 and response.content == b"success"
    payment.refresh_from_db()
    bill = payment.bill
    assert (payment.status, bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    assert outpatient(card).used == 0
    assert_credit_consistent(card)
    assert re.fullmatch(r"YD\d{10}", bill.invoice.number)
    receipt = SmsMessage.objects.get(template="payment_received")
    assert bill.invoice.number in receipt.body and "35.00" in receipt.body
    # The month and the day, and amounts in yuan (元), as the scheme's receipt SMS reads.
    assert re.search(r"您于\d{1,2}月\d{1,2}日\d\d:\d\d完成费用支付", receipt.body)
    assert "总金额100.00元" in receipt.body and "支付35.00元" in receipt.body
    assert f"/p/{link.token}/receipt/" in receipt.body
    page = verified.get(f"/p/{link.token}/receipt/").content.decode()
    assert bill.invoice.number in page
    assert verified.get(f"/p/{link.token}").status_code == 200  # "paid" page now


def test_the_receipt_shows_its_details_only_to_the_patients_session(paid, link, verified):
    """Issue 13, defect 8: the receipt link showed the items to anyone, forever."""
    invoice = paid.bill.invoice.number
    anyone = Client().get(f"/p/{link.token}/receipt/").content.decode()
    assert invoice in anyone and "35.00" in anyone  # paid, and the number to print it
    assert "血常规" not in anyone and "100.00" not in anyone  # no items, no settlement

    patient = verified.get(f"/p/{link.token}/receipt/").content.decode()
    assert "血常规" in patient and "100.00" in patient
    me = Client()
    with time_machine.travel(dt.timedelta(minutes=2)):  # a new code may be sent by then
        sign_in(me, paid.bill.patient.phone.as_national)
        assert "血常规" in me.get(f"/p/{link.token}/receipt/").content.decode()


def test_a_notification_replayed_three_times_acts_once(verified, link):
    payment = start(verified, link)
    paid = notification(payment)
    for _ in range(3):
        assert verified.post("/pay/notify/sandbox/", paid).content == b"success"
    assert PaymentNotification.objects.count() == 1
    assert CreditEntry.objects.filter(kind="payment").count() == 1
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_a_late_failure_after_success_changes_nothing(verified, link):
    payment = start(verified, link)
    verified.post("/pay/notify/sandbox/", notification(payment))
    verified.post("/pay/notify/sandbox/", notification(payment, "FAILED"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.bill.status == BillStatus.PAID


def test_a_cancelled_payment_leaves_the_bill_due(verified, link, card):
    payment = start(verified, link)
    verified.post("/pay/notify/sandbox/", notification(payment, "CLOSED"))
    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.CANCELLED, BillStatus.UNPAID)
    assert outpatient(card).used == Decimal("35.00")


@pytest.mark.parametrize(
    "change",
    [
        {"sign": "0" * 64},
        {"amount": "0.01"},
        {"out_trade_no": "CCnotours"},
        {"trade_status": "WHATEVER"},
    ],
    ids=["bad-signature", "wrong-amount", "foreign-order", "unknown-status"],
)
def test_forged_notifications_are_refused_and_change_nothing(verified, link, card, change):
    payment = start(verified, link)
    response = verified.post("/pay/notify/sandbox/", notification(payment, **change))
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.bill.status == BillStatus.UNPAID
    assert not PaymentNotification.objects.exists()
    assert outpatient(card).used == Decimal("35.00")


def test_a_second_payment_for_a_paid_bill(
    verified,
    link,
    card,
    django_capture_on_commit_callbacks,
):
    first, second = start(verified, link), start(verified, link)
    verified.post("/pay/notify/sandbox/", notification(first))
    # A new payment cannot even start now...
    response = verified.post(f"/p/{link.token}/pay/", {"channel": "sandbox"})
    assert response.status_code == 200  # the "paid" page
    # ...and one that was already at the checkout is flagged a duplicate and given back.
    with django_capture_on_commit_callbacks(execute=True):
        verified.post("/pay/notify/sandbox/", notification(second))
    second.refresh_from_db()
    assert second.status == PaymentStatus.REFUNDED and second.duplicate
    refund = second.refunds.get()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, second.amount)
    assert SandboxRefund.objects.get().amount == second.amount  # the channel gave it back
    first.refresh_from_db()
    assert first.status == PaymentStatus.SUCCEEDED and not first.refunds.exists()
    assert CreditEntry.objects.filter(kind="payment").count() == 1
    assert outpatient(card).used == 0
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_paying_needs_the_code_first(client, link):
    assert client.post(f"/p/{link.token}/pay/", {"channel": "sandbox"}).status_code == 302
    assert not Payment.objects.exists()
