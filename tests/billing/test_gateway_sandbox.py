"""The rest of the gateway interface on the sandbox channel: its checkout page, querying a
payment whose notification was lost, refunds (full, partial, refused, unreachable, asked
twice, their answer lost) and the day's statement beside our books."""

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from billing.models import (
    BillStatus,
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundStatus,
    SandboxRefund,
    SandboxTrade,
)
from billing.payments.gateways import GatewayError
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.refunds import (
    refund_pay_out,
    refund_request,
    refund_send,
    refunds_resend_pending,
)
from billing.payments.services import payments_settle_pending
from billing.tasks import settle_pending_payments
from creditcare.errors import DomainError
from notifications.models import SmsMessage
from tests.billing.paying import press, start
from tests.billing.test_api import assert_credit_consistent, outpatient

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


# --- the checkout page -------------------------------------------------------------------


def test_the_checkout_page_pays_and_sends_the_patient_to_the_receipt(verified, link, card):
    payment = start(verified, link)
    page = verified.get(f"/pay/sandbox/{payment.out_trade_no}/").content.decode()
    assert "35.00" in page and 'value="paid"' in page

    response = press(verified, payment, "paid")

    assert response["Location"] == f"/p/{link.token}/receipt/"
    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    trade = SandboxTrade.objects.get()
    assert (trade.out_trade_no, trade.status, trade.amount) == (
        payment.out_trade_no,
        "PAID",
        Decimal("35.00"),
    )
    assert payment.gateway_trade_no == trade.trade_no
    assert outpatient(card).used == 0


@pytest.mark.parametrize(
    ("outcome", "status"), [("failed", PaymentStatus.FAILED), ("closed", PaymentStatus.CANCELLED)]
)
def test_failing_or_cancelling_at_the_checkout_leaves_the_bill_due(verified, link, outcome, status):
    payment = start(verified, link)
    assert press(verified, payment, outcome)["Location"] == f"/p/{link.token}/bill/"
    payment.refresh_from_db()
    assert payment.status == status and payment.bill.status == BillStatus.UNPAID
    # The checkout is over: its page is gone, and pressing again changes nothing.
    assert press(verified, payment, "paid").status_code == 404
    assert verified.get(f"/pay/sandbox/{payment.out_trade_no}/").status_code == 404


def test_an_unknown_button_is_refused(verified, link):
    payment = start(verified, link)
    assert press(verified, payment, "steal").status_code == 400
    assert not SandboxTrade.objects.exists()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


# --- query: a lost notification ------------------------------------------------------


def test_a_lost_notification_is_settled_by_querying_the_channel(verified, link, card):
    with time_machine.travel(T0, tick=False) as clock:
        payment = start(verified, link)
        assert press(verified, payment, "paid-silently")["Location"] == f"/p/{link.token}/bill/"
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING  # paid at the channel, we do not know
        page = verified.get(f"/p/{link.token}/bill/").content.decode()
        assert "data-awaiting" in page  # "no need to pay again"

        settle_pending_payments()  # too early: the notification may still come
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING

        clock.shift(dt.timedelta(minutes=4))
        assert settle_pending_payments() == 1

    payment.refresh_from_db()
    bill = payment.bill
    assert (payment.status, bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    assert PaymentNotification.objects.get().raw["source"] == "query"
    assert SmsMessage.objects.filter(template="payment_received").count() == 1
    assert outpatient(card).used == 0
    assert_credit_consistent(card)
    # The notification arriving late after all changes nothing.
    trade = SandboxTrade.objects.get()
    late = SandboxGateway().checkout(payment, "PAID")
    assert late["trade_no"] == trade.trade_no
    assert verified.post("/pay/notify/sandbox/", late).content == b"success"
    assert PaymentNotification.objects.count() == 1
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_a_payment_its_channel_never_saw_is_cancelled_after_a_while(verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment = start(verified, link)  # the patient closed the tab at the checkout
        clock.shift(dt.timedelta(minutes=10))
        assert payments_settle_pending() == 0
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING

        clock.shift(dt.timedelta(minutes=25))
        assert payments_settle_pending() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert payment.bill.status == BillStatus.UNPAID
    assert "data-awaiting" not in verified.get(f"/p/{link.token}/bill/").content.decode()


def test_a_query_finding_a_failed_trade_fails_the_payment(verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment = start(verified, link)
        SandboxGateway().checkout(payment, "FAILED")  # its notification never arrives
        clock.shift(dt.timedelta(minutes=5))
        payments_settle_pending()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED


@override_settings(SANDBOX_UNREACHABLE=True)
def test_an_unreachable_channel_leaves_the_payment_pending_for_next_time(verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment = start(verified, link)
        clock.shift(dt.timedelta(hours=1))
        assert payments_settle_pending() == 0  # logged, not raised, not cancelled
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


# --- refunds ------------------------------------------------------------------------------


def _refund(payment, amount: str, *, send: bool = True) -> Refund:
    refund = refund_request(
        payment=payment, amount=Decimal(amount), reason="test", actor="finance:alice"
    )
    return refund_send(refund_id=refund.pk) if send else refund


def test_partial_refunds_add_up_to_a_full_one(paid):
    first = _refund(paid, "10.00")
    paid.refresh_from_db()
    assert first.status == RefundStatus.SUCCEEDED and first.gateway_refund_no
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED

    second = _refund(paid, "25.00")
    paid.refresh_from_db()
    assert second.status == RefundStatus.SUCCEEDED
    assert paid.status == PaymentStatus.REFUNDED
    assert sorted(r.amount for r in SandboxRefund.objects.all()) == [
        Decimal("10.00"),
        Decimal("25.00"),
    ]
    # Nothing is left to give back.
    with pytest.raises(DomainError) as refused:
        _refund(paid, "0.01")
    assert refused.value.code == "payment_not_refundable"


@pytest.mark.parametrize("amount", ["35.01", "0.00", "-5.00"])
def test_a_refund_never_exceeds_what_was_paid(paid, amount):
    with pytest.raises(DomainError) as refused:
        _refund(paid, amount)
    assert refused.value.code == "refund_exceeds_payment"
    assert not Refund.objects.exists()


def test_a_refund_under_way_counts_against_what_is_left(paid):
    _refund(paid, "30.00", send=False)  # asked, the channel's answer not in yet
    with pytest.raises(DomainError) as refused:
        _refund(paid, "5.01")
    assert refused.value.details == {"refundable": "5.00", "requested": "5.01"}


def test_only_a_payment_that_took_money_is_refunded(verified, link):
    pending = start(verified, link)
    with pytest.raises(DomainError) as refused:
        _refund(pending, "1.00")
    assert refused.value.code == "payment_not_refundable"


def test_a_refund_asked_twice_refunds_once(paid):
    refund = _refund(paid, "35.00", send=False)
    refund_send(refund_id=refund.pk)
    refund_send(refund_id=refund.pk)  # a retried or doubled task
    # Even if our record of the answer were lost, the channel answers the same refund again.
    again = SandboxGateway().refund(refund)
    refund.refresh_from_db()
    assert again.gateway_refund_no == refund.gateway_refund_no
    assert SandboxRefund.objects.count() == 1
    assert refund.attempts == 1


@override_settings(SANDBOX_REFUNDS_FAIL=True)
def test_a_refused_refund_goes_to_the_window_queue(paid, window_clerk):
    refund = _refund(paid, "35.00")
    paid.refresh_from_db()
    assert refund.status == RefundStatus.AT_WINDOW and "refused" in refund.last_error
    assert paid.status == PaymentStatus.SUCCEEDED  # nothing given back yet
    assert not SandboxRefund.objects.exists()
    with pytest.raises(DomainError):  # never twice: it is under way, at the window
        _refund(paid, "0.01")
    refund_pay_out(refund=refund, actor=window_clerk, method="cash", note="paid in cash")
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert (refund.status, refund.paid_out_by, refund.paid_out_method) == (
        RefundStatus.PAID_OUT,
        window_clerk,
        "cash",
    )
    assert paid.status == PaymentStatus.REFUNDED
    with pytest.raises(DomainError) as twice:
        refund_pay_out(refund=refund, actor=window_clerk, method="cash")
    assert twice.value.code == "refund_not_at_window"


@override_settings(REFUND_MAX_ATTEMPTS=2)
def test_an_unreachable_channel_is_retried_then_the_refund_is_unknown(paid):
    refund = _refund(paid, "35.00", send=False)
    with override_settings(SANDBOX_UNREACHABLE=True):
        with pytest.raises(GatewayError):  # the task retries with backoff
            refund_send(refund_id=refund.pk)
        refund.refresh_from_db()
        assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
        # Nor can the channel be asked whether it made the refund: nobody knows.
        assert refund_send(refund_id=refund.pk).status == RefundStatus.UNKNOWN
    refund.refresh_from_db()
    assert refund.attempts == 2 and "unreachable" in refund.last_error


@pytest.mark.parametrize("lost", ["before", "after"])
def test_the_sandbox_answers_whether_it_made_a_refund_whose_answer_was_lost(paid, lost):
    refund = _refund(paid, "10.00", send=False)
    with override_settings(SANDBOX_REFUNDS_TIME_OUT=lost), pytest.raises(GatewayError):
        SandboxGateway().refund(refund)

    found = SandboxGateway().refund_query(refund)

    if lost == "before":
        assert found is None and not SandboxRefund.objects.exists()
    else:
        assert found.succeeded and found.gateway_refund_no == SandboxRefund.objects.get().refund_no
    with override_settings(SANDBOX_UNREACHABLE=True), pytest.raises(GatewayError):
        SandboxGateway().refund_query(refund)


def test_a_bad_refund_time_out_setting_stops_the_settings_loading():
    import subprocess
    import sys

    env = {**os.environ, "SANDBOX_REFUNDS_TIME_OUT": "sometimes"}
    env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
    done = subprocess.run(
        [sys.executable, "-c", "import creditcare.settings"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "SANDBOX_REFUNDS_TIME_OUT" in done.stderr


def test_a_refund_whose_task_was_lost_is_asked_again(paid):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        refund = _refund(paid, "35.00", send=False)  # the broker was down at commit
        assert refunds_resend_pending() == 0  # a young refund may still be in its task
        clock.shift(dt.timedelta(minutes=11))
        assert refunds_resend_pending() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


# --- the day's statement -----------------------------------------------------------------


def _statement(capsys, day: dt.date) -> tuple[dict, int]:
    code = 0
    try:
        call_command("payment_statement", "--date", day.isoformat(), "--json")
    except SystemExit as exit_:
        code = exit_.code
    return json.loads(capsys.readouterr().out), code


def test_the_days_statement_matches_our_books(paid, capsys):
    refund = _refund(paid, "5.00")
    report, code = _statement(capsys, timezone.localdate())
    assert code == 0 and report["balanced"]
    assert [(line["kind"], line["amount"]) for line in report["lines"]] == [
        ("payment", "35.00"),
        ("refund", "5.00"),
    ]
    assert report["lines"][1]["out_refund_no"] == refund.out_refund_no
    other_day, _ = _statement(capsys, timezone.localdate() - dt.timedelta(days=1))
    assert other_day["lines"] == []


def test_the_statement_shows_money_the_channel_took_that_we_did_not_record(
    verified,
    link,
    capsys,
):
    payment = start(verified, link)
    press(verified, payment, "paid-silently")
    report, code = _statement(capsys, timezone.localdate())
    assert code == 1 and not report["balanced"]
    assert [line["out_trade_no"] for line in report["only_at_channel"]] == [payment.out_trade_no]


# --- play money never in production --------------------------------------------------------


def settings_in_a_new_process(**environment) -> dict:
    """SANDBOX_ENABLED and PAYMENT_CHANNELS as production's settings read them."""
    import subprocess
    import sys

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "SANDBOX_ENABLED", "PAYMENT_CHANNELS")
    }
    # A DATABASE_URL nobody connects to: reading settings must not start a database.
    env.update(DATABASE_URL="postgres://nobody@127.0.0.1:1/none", **environment)
    script = (
        "import json, creditcare.settings as s;"
        "print(json.dumps([s.SANDBOX_ENABLED, s.PAYMENT_CHANNELS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    enabled, channels = json.loads(out.strip().splitlines()[-1])
    return {"enabled": enabled, "channels": channels}


def test_with_debug_off_the_sandbox_is_off_unless_enabled():
    assert settings_in_a_new_process() == {"enabled": False, "channels": []}
    assert settings_in_a_new_process(DEBUG="1") == {"enabled": True, "channels": ["sandbox"]}
    assert settings_in_a_new_process(SANDBOX_ENABLED="1")["enabled"] is True


def test_check_deploy_fails_when_the_sandbox_is_on(settings):
    from django.core.management.base import SystemCheckError

    settings.SANDBOX_ENABLED = True
    with pytest.raises(SystemCheckError, match=r"creditcare\.E002"):
        call_command("check", "--deploy", "--fail-level", "ERROR")
    settings.SANDBOX_ENABLED = False
    # Nor may its e-invoice platform issue play invoices, nor its real-name service answer.
    with pytest.raises(SystemCheckError, match=r"creditcare\.E006"):
        call_command("check", "--deploy", "--fail-level", "ERROR")
    settings.EINVOICE_PROVIDER = settings.REALNAME_PROVIDER = ""
    call_command("check", "--deploy", "--fail-level", "ERROR")  # nothing to refuse now


def test_the_checkout_page_belongs_to_the_verified_session(verified, link):
    payment = start(verified, link)

    stranger = Client().post(f"/pay/sandbox/{payment.out_trade_no}/", {"outcome": "paid"})

    assert stranger.status_code == 302 and stranger["Location"] == f"/p/{link.token}"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not SandboxTrade.objects.exists()


def test_with_the_sandbox_off_its_pages_and_notifications_are_not_there(verified, link, settings):
    payment = start(verified, link)
    settings.SANDBOX_ENABLED = False

    assert verified.get(f"/pay/sandbox/{payment.out_trade_no}/").status_code == 404
    signed = SandboxGateway().checkout(payment, "PAID")
    assert Client().post("/pay/notify/sandbox/", signed).status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
