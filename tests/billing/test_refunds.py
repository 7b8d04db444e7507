"""Money going back, by the rules of MISSION.md: a charge voided after payment refunds its
self-pay part, online through the payment's channel, or at the window when the paper invoice
was printed or the payment was taken at a window; partial refunds add up and never exceed
what was paid. Window payments pay bills exactly as online ones do."""

from decimal import Decimal

import pytest

from billing.models import (
    BillStatus,
    CreditEntry,
    PaymentStatus,
    Refund,
    RefundStatus,
    SandboxRefund,
)
from billing.payments.refunds import refund_pay_out
from billing.payments.services import invoice_mark_printed, payment_take_at_window
from creditcare.errors import DomainError
from notifications.models import SmsMessage
from tests.billing.paying import press, start
from tests.billing.test_api import assert_credit_consistent, outpatient

pytestmark = pytest.mark.django_db


def void(his, link, line: str, reason="cancelled by the doctor"):
    return his.post(f"visits/{link.bill.visit_id}/charges/{line}/void/", {"reason": reason})


def refunds_of(payment) -> list[tuple[str, str]]:
    return [(str(r.amount), r.status) for r in payment.refunds.order_by("pk")]


def test_a_charge_voided_after_payment_is_refunded_online(
    his, link, paid, card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert void(his, link, "L2").status_code == 200  # 20.00, all self-pay
    paid.refresh_from_db()
    bill = paid.bill
    assert refunds_of(paid) == [("20.00", RefundStatus.SUCCEEDED)]
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED
    assert (bill.status, bill.refunded_amount, bill.invoice.refunded_amount) == (
        BillStatus.PAID,
        Decimal("20.00"),
        Decimal("20.00"),
    )
    assert SandboxRefund.objects.get().amount == Decimal("20.00")  # the channel gave it back
    assert outpatient(card).used == 0  # the credit line is not touched by giving money back
    assert_credit_consistent(card)


def test_the_patient_is_told_of_a_refund_where_and_when(
    his, link, paid, django_capture_on_commit_callbacks
):
    """Issue 13: a refund sent the patient nothing."""
    with django_capture_on_commit_callbacks(execute=True):
        void(his, link, "L2")  # 20.00 back, online

    sms = SmsMessage.objects.get(template="refund_started")
    assert sms.to == paid.bill.patient.phone
    assert "20.00元" in sms.body and "原路退回至您的测试渠道账户" in sms.body
    assert "1至5个工作日" in sms.body


def test_a_refund_at_the_window_says_to_come_to_the_window(his, link, paid, finance_officer):
    invoice_mark_printed(invoice=paid.bill.invoice, actor=finance_officer)
    void(his, link, "L2")  # a printed invoice: the refund is the window's

    assert (
        "请携带身份证件到医院收费窗口领取" in SmsMessage.objects.get(template="refund_started").body
    )


def test_refunds_add_up_and_never_exceed_what_was_paid(
    his, link, paid, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        void(his, link, "L2")  # 20.00 of the 35.00 paid
        void(his, link, "L1")  # 80.00 estimated, only 15.00 left to give back
        void(his, link, "L1")  # again: nothing more
    paid.refresh_from_db()
    assert refunds_of(paid) == [
        ("20.00", RefundStatus.SUCCEEDED),
        ("15.00", RefundStatus.SUCCEEDED),
    ]
    assert paid.status == PaymentStatus.REFUNDED
    paid.bill.refresh_from_db()
    assert paid.bill.refunded_amount == Decimal("35.00")


def test_a_printed_invoice_sends_the_refund_to_the_window(his, link, paid, window_clerk):
    invoice_mark_printed(invoice=paid.bill.invoice, actor=window_clerk)
    void(his, link, "L2")
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.AT_WINDOW and not SandboxRefund.objects.exists()
    paid.bill.refresh_from_db()
    assert paid.bill.refunded_amount == 0  # not yet: the patient has not had it

    refund_pay_out(refund=refund, actor=window_clerk, method="cash", note="invoice taken back")
    paid.bill.refresh_from_db()
    paid.refresh_from_db()
    assert paid.bill.refunded_amount == Decimal("20.00")
    assert paid.bill.invoice.refunded_amount == Decimal("20.00")
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED


def test_a_charge_of_a_closed_unpaid_visit_cannot_be_voided(his, link):
    response = void(his, link, "L2")
    assert (response.status_code, response.json()["code"]) == (409, "visit_closed")
    assert not Refund.objects.exists()


# --- window payments -------------------------------------------------------------------------


def test_a_window_payment_pays_the_bill_like_an_online_one(link, card, window_clerk):
    payment = payment_take_at_window(
        bill=link.bill, amount=Decimal("35.00"), method="card", actor=window_clerk, reference="T1"
    )
    bill = payment.bill
    bill.refresh_from_db()
    assert (payment.status, payment.channel, payment.taken_by) == (
        PaymentStatus.SUCCEEDED,
        "window",
        window_clerk,
    )
    assert bill.status == BillStatus.PAID and bill.invoice.number.startswith("YD")
    assert SmsMessage.objects.filter(template="payment_received").count() == 1
    assert outpatient(card).used == 0
    assert_credit_consistent(card)
    # The form sent twice with the same terminal reference: one payment.
    again = payment_take_at_window(
        bill=link.bill, amount=Decimal("35.00"), method="card", actor=window_clerk, reference="T1"
    )
    assert again.pk == payment.pk and CreditEntry.objects.filter(kind="payment").count() == 1


def test_cash_beyond_the_amount_due_waits_at_the_window_to_be_handed_back(link, window_clerk):
    payment = payment_take_at_window(
        bill=link.bill, amount=Decimal("50.00"), method="cash", actor=window_clerk
    )
    assert refunds_of(payment) == [("15.00", RefundStatus.AT_WINDOW)]
    payment.bill.refresh_from_db()
    assert payment.bill.status == BillStatus.PAID


def test_a_window_payment_for_a_bill_paid_online_is_handed_back(paid, window_clerk):
    payment = payment_take_at_window(
        bill=paid.bill, amount=Decimal("35.00"), method="cash", actor=window_clerk
    )
    assert payment.duplicate
    assert refunds_of(payment) == [("35.00", RefundStatus.AT_WINDOW)]
    assert CreditEntry.objects.filter(kind="payment").count() == 1


def test_a_void_after_a_window_payment_is_refunded_at_the_window(his, link, window_clerk):
    payment = payment_take_at_window(
        bill=link.bill, amount=Decimal("35.00"), method="cash", actor=window_clerk
    )
    void(his, link, "L2")
    assert refunds_of(payment) == [("20.00", RefundStatus.AT_WINDOW)]


@pytest.mark.parametrize(
    ("amount", "method", "code"), [("0", "cash", "window_amount"), ("5", "gold", "window_method")]
)
def test_a_window_payment_must_be_sensible(link, window_clerk, amount, method, code):
    with pytest.raises(DomainError) as refused:
        payment_take_at_window(
            bill=link.bill, amount=Decimal(amount), method=method, actor=window_clerk
        )
    assert refused.value.code == code
    assert not link.bill.payments.exists()


def test_a_terminal_reference_is_one_payment_per_bill_not_everywhere(his, card, link, window_clerk):
    from tests.billing.test_api import settlement

    visit = his.open_visit(card, his_visit_id="V2")
    his.charge(visit["id"], "L1", "20.00")
    his.post(f"visits/{visit['id']}/close/", settlement("20.00", "20.00"))
    other = link.bill.visit.patient.bills.exclude(pk=link.bill.pk).get()
    first = payment_take_at_window(
        bill=link.bill, amount=Decimal("35.00"), method="card", actor=window_clerk, reference="7"
    )
    second = payment_take_at_window(
        bill=other, amount=Decimal("20.00"), method="card", actor=window_clerk, reference="7"
    )
    assert first.pk != second.pk
    other.refresh_from_db()
    assert other.status == BillStatus.PAID
    with pytest.raises(DomainError) as refused:  # a typo corrected: not silently the first
        payment_take_at_window(
            bill=other, amount=Decimal("2.00"), method="card", actor=window_clerk, reference="7"
        )
    assert refused.value.code == "window_reference_used"


def test_a_void_after_an_overpayment_refunds_the_whole_self_pay_part(
    his, link, verified, window_clerk, django_capture_on_commit_callbacks
):
    online = start(verified, link)  # 35.00 at the channel's checkout...
    payment_take_at_window(
        bill=link.bill, amount=Decimal("20.00"), method="cash", actor=window_clerk
    )
    with django_capture_on_commit_callbacks(execute=True):
        press(verified, online, "paid")  # ...lands: 15.00 applied, 20.00 given back
    online.refresh_from_db()
    assert refunds_of(online) == [("20.00", RefundStatus.SUCCEEDED)]
    void(his, link, "L2")  # 20.00 of self-pay voided
    voided = Refund.objects.filter(charge__isnull=False)
    assert sum(r.amount for r in voided) == Decimal("20.00")


def test_a_refund_in_its_backoff_is_not_asked_again_by_the_sweep(paid):
    import datetime as dt

    import time_machine
    from django.test import override_settings
    from django.utils import timezone

    from billing.payments.gateways import GatewayError
    from billing.payments.refunds import refund_request, refund_send, refunds_resend_pending

    with time_machine.travel(timezone.now(), tick=False) as clock:
        refund = refund_request(payment=paid, amount=Decimal("5"), reason="t", actor="t")
        with override_settings(SANDBOX_UNREACHABLE=True), pytest.raises(GatewayError):
            refund_send(refund_id=refund.pk)  # tried once: its task retries with backoff
        clock.shift(dt.timedelta(minutes=30))
        assert refunds_resend_pending() == 0
    refund.refresh_from_db()
    assert refund.attempts == 1
