"""Money going back, by the rules of MISSION.md: a charge voided after payment refunds its
self-pay part, online through the payment's channel, or at the window when the paper invoice
was printed or the payment was taken at a window; partial refunds add up and never exceed
what was paid. Window payments pay bills exactly as online ones do."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from billing.models import (
    BillStatus,
    CreditEntry,
    PaymentStatus,
    Refund,
    RefundStatus,
    SandboxRefund,
)
from billing.payments.gateways import GatewayError
from billing.payments.refunds import (
    refund_pay_out,
    refund_query_unknown,
    refund_request,
    refund_send,
)
from billing.payments.services import invoice_mark_printed, payment_take_at_window
from billing.tasks import query_unknown_refunds
from creditcare.errors import DomainError
from notifications.models import SmsMessage
from tests.billing.paying import press, start
from tests.billing.test_api import assert_credit_consistent, outpatient
from tests.conftest import logged_in

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


# --- a refund whose answer never came (issue 13, defect 3) -----------------------------------

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def _ask(payment, amount: str = "35.00") -> Refund:
    return refund_request(payment=payment, amount=Decimal(amount), reason="t", actor="t")


def _send_until_given_up(refund: Refund, attempts: int) -> Refund:
    """Each attempt of the refund's task as its retries make them; the last one gives up."""
    for _attempt in range(attempts - 1):
        with pytest.raises(GatewayError):  # the task retries with backoff
            refund_send(refund_id=refund.pk)
    return refund_send(refund_id=refund.pk)


def test_a_refund_the_channel_made_whose_answers_were_lost_is_not_paid_again(
    his, link, paid, settings, window_clerk, django_capture_on_commit_callbacks
):
    """Issue 13: every answer lost, the refund went to the window queue and was paid out
    there too, though the channel had given the money back."""
    settings.REFUND_MAX_ATTEMPTS = 3
    settings.SANDBOX_REFUNDS_TIME_OUT = "after"  # made at the channel, the answer lost
    with django_capture_on_commit_callbacks(execute=True):
        void(his, link, "L2")  # 20.00 back: its task tries, retries, then asks the channel

    refund = Refund.objects.get()
    assert (refund.status, refund.attempts) == (RefundStatus.SUCCEEDED, 3)
    assert refund.gateway_refund_no == SandboxRefund.objects.get().refund_no
    assert refund.queried_at is not None
    paid.refresh_from_db()
    paid.bill.refresh_from_db()
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED
    assert paid.bill.refunded_amount == Decimal("20.00")
    assert SmsMessage.objects.filter(template="refund_started").count() == 1  # not the window
    with pytest.raises(DomainError) as refused:
        refund_pay_out(refund=refund, actor=window_clerk, method="cash")
    assert refused.value.code == "refund_not_at_window"


def test_a_refund_the_channel_never_made_goes_to_the_window(paid, settings, window_clerk):
    settings.REFUND_MAX_ATTEMPTS = 2
    settings.SANDBOX_REFUNDS_TIME_OUT = "before"  # every request lost on its way there
    refund = _send_until_given_up(_ask(paid), attempts=2)

    assert refund.status == RefundStatus.AT_WINDOW
    assert refund.last_error.startswith("gave up: sandbox refund timed out before")
    assert refund.last_error.endswith("the channel never made it")
    assert not SandboxRefund.objects.exists()
    window_sms = SmsMessage.objects.filter(template="refund_started").order_by("pk").last()
    assert "请携带身份证件到医院收费窗口领取" in window_sms.body
    refund_pay_out(refund=refund, actor=window_clerk, method="cash")
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("made", "settled"),
    [(True, RefundStatus.SUCCEEDED), (False, RefundStatus.AT_WINDOW)],
    ids=["made", "never-made"],
)
def test_a_refund_nobody_can_tell_about_is_unknown_until_the_channel_says(
    paid, settings, window_clerk, made, settled
):
    settings.REFUND_MAX_ATTEMPTS = 2
    refund = _ask(paid)
    with time_machine.travel(T0, tick=False) as clock:
        settings.SANDBOX_REFUNDS_TIME_OUT = "after" if made else "before"
        with pytest.raises(GatewayError):
            refund_send(refund_id=refund.pk)
        settings.SANDBOX_UNREACHABLE = True  # down for the last attempt and the question

        refund = refund_send(refund_id=refund.pk)

        refund.refresh_from_db()
        assert (refund.status, refund.queried_at) == (RefundStatus.UNKNOWN, T0)
        assert refund.last_error.startswith("gave up: sandbox channel unreachable")
        assert "; query: sandbox channel unreachable" in refund.last_error
        # Not the window's to pay out (it may be made), nor given back again.
        with pytest.raises(DomainError) as refused:
            refund_pay_out(refund=refund, actor=window_clerk, method="cash")
        assert refused.value.code == "refund_outcome_unknown"
        with pytest.raises(DomainError) as refused:
            _ask(paid, "0.01")
        assert refused.value.code == "refund_exceeds_payment"
        sent = SmsMessage.objects.count()

        clock.move_to(T0 + dt.timedelta(days=1))  # the next morning the channel answers
        settings.SANDBOX_UNREACHABLE = False
        settings.SANDBOX_REFUNDS_TIME_OUT = ""
        assert query_unknown_refunds() == {settled: 1}

        refund.refresh_from_db()
        assert (refund.status, refund.queried_at) == (settled, T0 + dt.timedelta(days=1))
        paid.refresh_from_db()
        assert paid.status == (PaymentStatus.REFUNDED if made else PaymentStatus.SUCCEEDED)
        assert SandboxRefund.objects.count() == (1 if made else 0)
        assert SmsMessage.objects.count() == sent + (0 if made else 1)  # come to the window

        clock.shift(dt.timedelta(hours=1))  # the task again (twice, or by hand): no change
        assert query_unknown_refunds() == {}
        assert refund_query_unknown(refund_id=refund.pk).status == settled
    again = Refund.objects.get()
    assert (again.status, again.queried_at, again.finished_at) == (
        refund.status,
        refund.queried_at,
        refund.finished_at,
    )
    assert SmsMessage.objects.count() == sent + (0 if made else 1)
    paid.refresh_from_db()
    assert paid.status == (PaymentStatus.REFUNDED if made else PaymentStatus.SUCCEEDED)


def test_a_refund_still_unknown_records_the_error_and_time_of_the_last_query(paid, settings):
    settings.REFUND_MAX_ATTEMPTS = 1
    settings.SANDBOX_UNREACHABLE = True
    with time_machine.travel(T0, tick=False) as clock:
        assert refund_send(refund_id=_ask(paid).pk).status == RefundStatus.UNKNOWN
        clock.move_to(T0 + dt.timedelta(days=1))

        assert query_unknown_refunds() == {RefundStatus.UNKNOWN: 1}

    refund = Refund.objects.get()
    assert (refund.status, refund.queried_at) == (RefundStatus.UNKNOWN, T0 + dt.timedelta(days=1))
    assert (
        refund.last_error == "asked again; query: sandbox channel unreachable (SANDBOX_UNREACHABLE)"
    )
    assert refund.attempts == 1  # asked about, never asked for again


def test_unknown_refunds_are_asked_about_every_morning():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="query-unknown-refunds")  # created by migrate
    assert (task.task, task.crontab.hour, task.crontab.minute) == (
        "billing.tasks.query_unknown_refunds",
        "9",
        "20",
    )


def test_finance_see_unknown_refunds_and_ask_the_channel_again(
    paid, settings, finance_officer, window_clerk
):
    settings.REFUND_MAX_ATTEMPTS = 1
    settings.SANDBOX_UNREACHABLE = True
    refund = _ask(paid)
    assert refund_send(refund_id=refund.pk).status == RefundStatus.UNKNOWN
    finance = logged_in(finance_officer)
    listed = finance.get("/admin/billing/refund/?status__exact=unknown").content.decode()
    assert refund.out_refund_no in listed and "Outcome unknown" in listed
    # Window staff can neither pay it out nor ask for it.
    clerk = logged_in(window_clerk)
    page = clerk.post(f"/admin/billing/refund/{refund.pk}/pay-out/", {"method": "cash"})
    assert page.status_code == 200 and "cannot be paid out at a window" in page.content.decode()
    action = {"action": "query_channel", "_selected_action": [refund.pk]}
    clerk.post("/admin/billing/refund/", action)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.UNKNOWN

    settings.SANDBOX_UNREACHABLE = False
    response = finance.post("/admin/billing/refund/", action, follow=True)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.AT_WINDOW  # the sandbox never made it
    assert "1 refund(s) of unknown outcome: 0 refunded, 1 to the window, 0 still unknown" in (
        response.content.decode()
    )
