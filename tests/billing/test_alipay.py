"""The Alipay channel through the real SDK against a fake Alipay on a local socket
(``tests.billing.alipay_fake``): checkout, signed notifications (and forgeries), querying a
lost notification, refunds (full, partial, refused, unreachable, their answers lost) and the
day's statement."""

import datetime as dt
import json
import logging
import socket
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import (
    BillStatus,
    Payment,
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.payments.gateways import GatewayError, get_gateway
from billing.payments.gateways.alipay import AlipayGateway, parse_statement
from billing.payments.refunds import refund_request, refund_send
from billing.payments.services import payments_settle_pending
from billing.tasks import query_unknown_refunds
from notifications.models import SmsMessage
from tests.billing.alipay_fake import (
    ALIPAY,
    APP,
    APP_ID,
    STRANGER,
    FakeAlipay,
    checkout_params,
    signed_answer,
    signed_text,
    statement_csv,
    statement_zip,
)
from tests.billing.test_api import assert_credit_consistent, outpatient
from tests.fake_http import Answer, FakeServer

pytestmark = pytest.mark.django_db

PUBLIC = "https://pay.example.cn"


@pytest.fixture
def alipay(settings):
    with FakeServer() as server:
        fake = FakeAlipay(server)
        settings.ALIPAY_APP_ID = APP_ID
        settings.ALIPAY_APP_PRIVATE_KEY = APP.private_pem
        settings.ALIPAY_PUBLIC_KEY = ALIPAY.public_pem
        settings.ALIPAY_GATEWAY_URL = fake.gateway_url
        settings.PAYMENT_CHANNELS = ["alipay", "sandbox"]
        settings.PAYMENT_GATEWAY_TIMEOUT = 2
        settings.PUBLIC_BASE_URL = PUBLIC
        yield fake


def start(client, link, alipay: FakeAlipay) -> tuple[Payment, str]:
    """The patient chooses Alipay on the bill page: sent to Alipay with a signed request."""
    response = client.post(f"/p/{link.token}/pay/", {"channel": "alipay"})
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(alipay.gateway_url + "?")
    return Payment.objects.latest("pk"), url


def notify(client, fields: dict):
    """Alipay POSTs its notification as a form."""
    return client.post(
        "/pay/notify/alipay/", urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


@pytest.fixture
def pending(verified, link, alipay) -> Payment:
    """The patient is at Alipay's checkout, not yet paid."""
    payment, url = start(verified, link, alipay)
    alipay.open_checkout(url)
    return payment


@pytest.fixture
def paid(verified, pending, alipay) -> Payment:
    assert notify(verified, alipay.pay(pending.out_trade_no)).content == b"success"
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED
    return pending


def assert_unchanged(payment: Payment) -> None:
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and not payment.gateway_trade_no
    assert payment.bill.status == BillStatus.UNPAID
    assert not PaymentNotification.objects.exists()
    assert not SmsMessage.objects.filter(template="payment_received").exists()


# --- the label, configuration, checkout ----------------------------------------------------


def test_alipay_is_offered_only_when_configured(verified, link, settings):
    settings.PAYMENT_CHANNELS = ["alipay", "sandbox"]
    settings.ALIPAY_APP_ID = APP_ID
    settings.ALIPAY_APP_PRIVATE_KEY = APP.private_pem
    settings.ALIPAY_PUBLIC_KEY = ""  # one key missing: not offered, not accepted
    page = verified.get(f"/p/{link.token}/bill/").content.decode()
    assert 'data-channel="alipay"' not in page and 'data-channel="sandbox"' in page
    assert verified.post(f"/p/{link.token}/pay/", {"channel": "alipay"}).status_code == 400
    assert not Payment.objects.exists()


def test_the_patient_pays_with_alipay(verified, link, card, alipay):
    page = verified.get(f"/p/{link.token}/bill/").content.decode()
    assert 'data-channel="alipay"' in page and ">Alipay<" in page  # 支付宝 in Chinese
    assert str(AlipayGateway.label) == "Alipay"

    payment, url = start(verified, link, alipay)

    # The SDK only built and signed the URL: Alipay reads our request from the browser.
    assert alipay.calls == []
    params = checkout_params(url)
    assert APP.verifies(signed_text(params), params["sign"])
    assert (params["app_id"], params["method"], params["sign_type"], params["charset"]) == (
        APP_ID,
        "alipay.trade.wap.pay",
        "RSA2",
        "utf-8",
    )
    assert params["notify_url"] == f"{PUBLIC}/pay/notify/alipay/"
    assert params["return_url"] == f"{PUBLIC}/p/{link.token}/bill/"
    biz = json.loads(params["biz_content"])
    assert biz["out_trade_no"] == payment.out_trade_no
    assert biz["total_amount"] == "35.00"
    assert biz["subject"] == "第一人民医院 医疗费用"
    assert biz["product_code"] == "QUICK_WAP_PAY"
    assert biz["quit_url"] == f"{PUBLIC}/p/{link.token}/bill/"
    expires = timezone.localtime(payment.created_at) + dt.timedelta(minutes=30)
    assert biz["time_expire"] == expires.strftime("%Y-%m-%d %H:%M:%S")
    assert payment.status == PaymentStatus.PENDING

    trade = alipay.open_checkout(url)
    assert trade.amount == Decimal("35.00")
    response = notify(verified, alipay.pay(payment.out_trade_no))

    assert (response.status_code, response.content) == (200, b"success")
    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    assert payment.gateway_trade_no == trade.trade_no
    notification = PaymentNotification.objects.get()
    assert (notification.channel, notification.raw["trade_status"]) == ("alipay", "TRADE_SUCCESS")
    assert "sign" not in notification.raw
    assert SmsMessage.objects.filter(template="payment_received").count() == 1
    assert outpatient(card).used == 0
    assert_credit_consistent(card)


def test_the_same_notification_twice_is_acted_on_once(verified, pending, alipay):
    fields = alipay.pay(pending.out_trade_no)
    assert notify(verified, fields).content == b"success"
    again = notify(verified, fields)  # Alipay re-sends until it reads "success"
    assert (again.status_code, again.content) == (200, b"success")
    assert PaymentNotification.objects.count() == 1
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_trade_finished_after_trade_success_changes_nothing(verified, paid, alipay):
    succeeded_at = paid.succeeded_at
    finished = alipay.notification(alipay.trades[paid.out_trade_no], trade_status="TRADE_FINISHED")
    assert notify(verified, finished).content == b"success"
    paid.refresh_from_db()
    assert (paid.status, paid.succeeded_at) == (PaymentStatus.SUCCEEDED, succeeded_at)
    assert PaymentNotification.objects.count() == 1
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_waiting_then_closed_cancels_the_payment(verified, pending, alipay):
    trade = alipay.trades[pending.out_trade_no]
    assert notify(verified, alipay.notification(trade)).content == b"success"  # WAIT_BUYER_PAY
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING  # recorded, nothing else

    trade.status = "TRADE_CLOSED"  # expired unpaid
    assert notify(verified, alipay.notification(trade)).content == b"success"
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CANCELLED and pending.bill.status == BillStatus.UNPAID
    assert PaymentNotification.objects.count() == 2


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        pytest.param({"key": STRANGER}, "bad signature", id="signed-by-a-stranger"),
        pytest.param({"tamper": {"total_amount": "0.01"}}, "bad signature", id="altered"),
        pytest.param({"tamper": {"sign": "bm90IGEgc2lnbmF0dXJl"}}, "signature", id="garbage"),
        pytest.param({"tamper": {"sign": None}}, "not signed", id="unsigned"),
        pytest.param({"sign_type": "RSA"}, "sign type", id="rsa1"),
        pytest.param({"app_id": "2021999999999999"}, "app_id", id="another-app"),
        pytest.param({"out_trade_no": "CCnot-ours"}, "of ours", id="foreign-order"),
        pytest.param({"total_amount": "0.01"}, "amount 0.01", id="wrong-amount"),
        pytest.param({"total_amount": "abc"}, "bad amount", id="unreadable-amount"),
        pytest.param({"trade_no": None}, "missing", id="missing-trade-no"),
        pytest.param({"trade_status": "TRADE_PAID"}, "unknown trade_status", id="unknown-status"),
    ],
)
def test_forged_or_foreign_notifications_are_refused_and_change_nothing(
    verified, pending, alipay, caplog, forge, reason
):
    trade = alipay.trades[pending.out_trade_no]
    alipay.pay(pending.out_trade_no)  # paid at Alipay: only a good notification may say so
    key = forge.pop("key", ALIPAY)
    tamper = forge.pop("tamper", {})
    fields = alipay.notification(trade, key=key, **forge)
    for name, value in tamper.items():  # changed after signing
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value

    with caplog.at_level(logging.WARNING, logger="billing.payments.pages.views"):
        response = notify(verified, fields)

    assert (response.status_code, response.content) == (400, b"fail")
    assert "refused alipay notification" in caplog.text and reason in caplog.text
    assert_unchanged(pending)


def test_a_field_the_channel_left_empty_is_not_part_of_the_signature(verified, pending, alipay):
    fields = alipay.pay(pending.out_trade_no)
    assert notify(verified, {**fields, "passback_params": ""}).content == b"success"


def test_a_field_given_twice_is_refused(verified, pending, alipay):
    fields = alipay.pay(pending.out_trade_no)
    body = urlencode(fields) + "&total_amount=0.01"
    response = verified.post(
        "/pay/notify/alipay/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert_unchanged(pending)


# --- query: a lost notification --------------------------------------------------------


def test_a_lost_notification_is_settled_by_querying_alipay(verified, pending, alipay, card):
    alipay.pay(pending.out_trade_no)  # paid; the notification never arrives
    assert payments_settle_pending() == 0  # too early: the notification may still come
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5), tick=False):
        assert payments_settle_pending() == 1
    pending.refresh_from_db()
    assert (pending.status, pending.bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    assert pending.gateway_trade_no == alipay.trades[pending.out_trade_no].trade_no
    (call,) = alipay.calls
    assert (call["method"], call["biz"]) == (
        "alipay.trade.query",
        {"out_trade_no": pending.out_trade_no},
    )
    assert PaymentNotification.objects.get().raw["source"] == "query"
    assert outpatient(card).used == 0
    # The notification arriving late after all changes nothing.
    late = alipay.notification(alipay.trades[pending.out_trade_no])
    assert notify(verified, late).content == b"success"
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_a_query_while_the_patient_is_at_the_checkout_leaves_it_pending(pending, alipay):
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=40), tick=False):
        assert payments_settle_pending() == 0  # WAIT_BUYER_PAY: Alipay expires it itself
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING
    alipay.trades[pending.out_trade_no].status = "TRADE_CLOSED"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=41), tick=False):
        assert payments_settle_pending() == 1
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CANCELLED


def test_a_payment_alipay_never_saw_is_cancelled_after_a_while(verified, link, alipay):
    payment, _url = start(verified, link, alipay)  # the patient closed the tab
    assert AlipayGateway().query(payment) is None  # ACQ.TRADE_NOT_EXIST
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=35), tick=False):
        assert payments_settle_pending() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BAD_DAYS = {
    "502": Answer(502, b"<html>502 Bad Gateway</html>", {"Content-Type": "text/html"}),
    "not-json": Answer(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}),
    "json-list": Answer(200, [1, 2]),
    "unsigned-error": Answer(
        200, {"error_response": {"code": "20000", "msg": "Service Currently Unavailable"}}
    ),
    "signed-by-a-stranger": signed_answer(
        "alipay_trade_query_response",
        {"code": "10000", "trade_status": "TRADE_SUCCESS"},
        key=STRANGER,
    ),
    "system-error": signed_answer(
        "alipay_trade_query_response",
        {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"},
    ),
    "too-slow": Answer(200, b"{}", delay=1.5),
    "closed-port": None,
}


@pytest.mark.parametrize("bad_day", BAD_DAYS)
def test_an_alipay_that_does_not_answer_sensibly_is_a_gateway_error(
    pending, alipay, settings, bad_day
):
    alipay.pay(pending.out_trade_no)
    alipay.bad_day = BAD_DAYS[bad_day]
    settings.PAYMENT_GATEWAY_TIMEOUT = 0.5
    if bad_day == "closed-port":
        settings.ALIPAY_GATEWAY_URL = f"http://127.0.0.1:{_closed_port()}/gateway.do"

    with pytest.raises(GatewayError):
        AlipayGateway().query(pending)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1), tick=False):
        assert payments_settle_pending() == 0  # logged, tried again next time, not cancelled
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING


def test_keys_as_bare_base64_load_as_well(pending, alipay, settings):
    def bare(pem: str) -> str:
        return "".join(line for line in pem.splitlines() if not line.startswith("-----"))

    settings.ALIPAY_APP_PRIVATE_KEY = bare(APP.private_pem)
    settings.ALIPAY_PUBLIC_KEY = bare(ALIPAY.public_pem)
    alipay.pay(pending.out_trade_no)
    assert AlipayGateway().query(pending).status == PaymentStatus.SUCCEEDED
    settings.ALIPAY_PUBLIC_KEY = "not a key"
    with pytest.raises(GatewayError):
        AlipayGateway().query(pending)


# --- refunds ------------------------------------------------------------------------------


def _refund(payment, amount: str, *, send: bool = True) -> Refund:
    refund = refund_request(
        payment=payment, amount=Decimal(amount), reason="test", actor="finance:alice"
    )
    return refund_send(refund_id=refund.pk) if send else refund


def test_partial_refunds_then_the_rest(paid, alipay, verified):
    trade = alipay.trades[paid.out_trade_no]
    first = _refund(paid, "10.00")
    (call,) = alipay.calls
    assert call["method"] == "alipay.trade.refund"
    assert call["biz"] == {
        "refund_amount": "10.00",
        "out_trade_no": paid.out_trade_no,
        "out_request_no": first.out_refund_no,
    }
    paid.refresh_from_db()
    assert (first.status, first.gateway_refund_no) == (RefundStatus.SUCCEEDED, trade.trade_no)
    assert paid.status == PaymentStatus.PARTIALLY_REFUNDED

    second = _refund(paid, "25.00")
    paid.refresh_from_db()
    assert second.status == RefundStatus.SUCCEEDED
    assert paid.status == PaymentStatus.REFUNDED
    assert {number: amount for number, (amount, _at) in trade.refunds.items()} == {
        first.out_refund_no: Decimal("10.00"),
        second.out_refund_no: Decimal("25.00"),
    }
    # Alipay then says the trade is closed (refunded in full): that changes nothing.
    assert notify(verified, alipay.notification(trade)).content == b"success"
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


def test_a_full_refund_asked_twice_refunds_once(paid, alipay):
    refund = _refund(paid, "35.00")
    refund_send(refund_id=refund.pk)  # a doubled task: answered already, Alipay not asked
    assert len(alipay.calls) == 1
    # Even if our record of the answer were lost, Alipay answers the same refund again.
    again = AlipayGateway().refund(refund)
    assert again.succeeded and again.gateway_refund_no == refund.gateway_refund_no
    assert len(alipay.trades[paid.out_trade_no].refunds) == 1
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


def test_a_refund_alipay_refuses_goes_to_the_window_queue(paid, alipay):
    alipay.refuse_refunds = ("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
    refund = _refund(paid, "35.00")
    paid.refresh_from_db()
    assert refund.status == RefundStatus.AT_WINDOW
    assert refund.last_error == "卖家余额不足 (ACQ.SELLER_BALANCE_NOT_ENOUGH)"
    assert paid.status == PaymentStatus.SUCCEEDED  # nothing given back yet
    assert alipay.trades[paid.out_trade_no].refunds == {}


def test_an_unreachable_alipay_is_retried_then_the_refund_is_unknown(paid, alipay, settings):
    settings.REFUND_MAX_ATTEMPTS = 2
    alipay.bad_day = BAD_DAYS["502"]
    refund = _refund(paid, "35.00", send=False)
    with pytest.raises(GatewayError):  # the task retries with backoff
        refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    assert "502" in refund.last_error

    assert refund_send(refund_id=refund.pk).status == RefundStatus.UNKNOWN
    refund.refresh_from_db()
    assert refund.attempts == 2 and refund.last_error.startswith("gave up")
    assert [call["method"] for call in alipay.calls][-1] == "alipay.trade.fastpay.refund.query"


def test_a_refund_alipay_made_whose_answers_were_lost_is_not_paid_again(paid, alipay, settings):
    """Issue 13: every answer lost, the refund went to the window queue as well."""
    settings.REFUND_MAX_ATTEMPTS = 2
    alipay.lose_answers["alipay.trade.refund"] = BAD_DAYS["502"]
    refund = _refund(paid, "35.00", send=False)
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)

    refund = refund_send(refund_id=refund.pk)

    trade = alipay.trades[paid.out_trade_no]
    assert (refund.status, refund.gateway_refund_no) == (RefundStatus.SUCCEEDED, trade.trade_no)
    assert list(trade.refunds) == [refund.out_refund_no]  # once, however often asked
    query = alipay.calls[-1]
    assert query["method"] == "alipay.trade.fastpay.refund.query"
    assert query["biz"] == {
        "out_request_no": refund.out_refund_no,
        "out_trade_no": paid.out_trade_no,
    }
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


def test_a_refund_alipay_never_made_goes_to_the_window(paid, alipay, settings):
    settings.REFUND_MAX_ATTEMPTS = 1
    alipay.fail_calls["alipay.trade.refund"] = BAD_DAYS["502"]

    refund = _refund(paid, "35.00")

    assert refund.status == RefundStatus.AT_WINDOW
    assert refund.last_error.endswith("the channel never made it")
    assert alipay.trades[paid.out_trade_no].refunds == {}


def test_an_unknown_refund_is_settled_when_alipay_answers_again(paid, alipay, settings):
    settings.REFUND_MAX_ATTEMPTS = 2
    alipay.lose_answers["alipay.trade.refund"] = BAD_DAYS["too-slow"]  # made, answer too late
    settings.PAYMENT_GATEWAY_TIMEOUT = 0.5
    refund = _refund(paid, "35.00", send=False)
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)
    alipay.bad_day = BAD_DAYS["502"]  # then down: for the last attempt and the question
    assert refund_send(refund_id=refund.pk).status == RefundStatus.UNKNOWN

    alipay.bad_day = None
    assert query_unknown_refunds() == {RefundStatus.SUCCEEDED: 1}
    assert query_unknown_refunds() == {}  # the daily task again: nothing more

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(alipay.trades[paid.out_trade_no].refunds) == 1
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"refund_status": "REFUND_PROCESSING"}, "REFUND_PROCESSING"),
        ({"refund_amount": "5.00"}, "'5.00'"),
        ({"out_request_no": "RF-someone-else"}, "another refund"),
        ({"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"}, "ACQ.TRADE_NOT_EXIST"),
    ],
    ids=["processing", "other-amount", "other-refund", "no-trade"],
)
def test_an_alipay_refund_query_answer_that_does_not_settle_it_is_a_gateway_error(
    paid, alipay, answer, said
):
    refund = _refund(paid, "35.00")  # made
    found = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": paid.out_trade_no,
        "out_request_no": refund.out_refund_no,
        "refund_amount": "35.00",
        "refund_status": "REFUND_SUCCESS",
    }
    assert AlipayGateway().refund_query(refund).succeeded
    alipay.fail_calls["alipay.trade.fastpay.refund.query"] = signed_answer(
        "alipay_trade_fastpay_refund_query_response", found | answer
    )

    with pytest.raises(GatewayError, match=said):
        AlipayGateway().refund_query(refund)


def test_alipays_system_error_on_a_refund_is_retried(paid, alipay):
    refund = _refund(paid, "5.00", send=False)
    alipay.refuse_refunds = ("ACQ.SYSTEM_ERROR", "系统错误")
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)
    alipay.refuse_refunds = None
    assert refund_send(refund_id=refund.pk).status == RefundStatus.SUCCEEDED


# --- the day's statement -----------------------------------------------------------------


def _statement(capsys, day: dt.date) -> tuple[dict, int]:
    code = 0
    try:
        call_command("payment_statement", "--channel", "alipay", "--date", str(day), "--json")
    except SystemExit as exit_:
        code = exit_.code
    return json.loads(capsys.readouterr().out), code


def test_the_days_statement_matches_our_books(paid, alipay, capsys):
    refund = _refund(paid, "5.00")
    day = timezone.localdate()

    report, code = _statement(capsys, day)

    assert code == 0 and report["balanced"]
    trade = alipay.trades[paid.out_trade_no]
    assert [
        (line["kind"], line["out_trade_no"], line["gateway_trade_no"], line["amount"])
        for line in report["lines"]
    ] == [
        ("payment", paid.out_trade_no, trade.trade_no, "35.00"),
        ("refund", paid.out_trade_no, trade.trade_no, "5.00"),
    ]
    assert report["lines"][1]["out_refund_no"] == refund.out_refund_no
    assert report["lines"][0]["at"].endswith("+08:00")
    call = alipay.calls[-1]
    assert call["method"] == "alipay.data.dataservice.bill.downloadurl.query"
    assert call["biz"] == {"bill_type": "trade", "bill_date": day.isoformat()}

    other_day, code = _statement(capsys, day - dt.timedelta(days=1))
    assert code == 0 and other_day["lines"] == []


def test_the_statement_shows_money_alipay_took_that_we_did_not_record(
    verified, link, alipay, capsys
):
    payment, url = start(verified, link, alipay)
    alipay.open_checkout(url)
    alipay.pay(payment.out_trade_no)  # its notification lost, not yet queried

    report, code = _statement(capsys, timezone.localdate())

    assert code == 1 and not report["balanced"]
    assert [line["out_trade_no"] for line in report["only_at_channel"]] == [payment.out_trade_no]


def test_a_statement_alipay_cannot_give_is_a_command_error(alipay):
    alipay.bad_day = signed_answer(
        "alipay_data_dataservice_bill_downloadurl_query_response",
        {"code": "40004", "msg": "Business Failed", "sub_code": "isp.bill_not_exist"},
    )
    with pytest.raises(CommandError, match=r"isp\.bill_not_exist"):
        call_command("payment_statement", "--channel", "alipay", "--date", "2026-11-01")


# --- the statement parser --------------------------------------------------------------------

DAY = dt.date(2026, 11, 22)
ROW = (
    "2026112222001400000000000001\t,CCabc\t,{kind}\t,第一人民医院 医疗费用\t,2026-11-22 09:59:58,"
    "{done},\t,\t,\t,\t,159****5620\t,{amount},{amount},0.00,0.00,0.00,0.00,0.00,\t,0.00,0.00,"
    "{refund_no},0.00,0.00,\t"
)


def _row(kind="交易", amount="35.00", refund_no="\t", done="2026-11-22 10:00:01") -> list[str]:
    return ROW.format(kind=kind, amount=amount, refund_no=refund_no, done=done).split(",")


def test_the_parser_reads_alipays_zip_of_gbk_csv():
    rows = [_row(), _row("退款", "-5.00", "RFabc\t", "2026-11-22 23:59:59"), _row("冻结")]
    lines = parse_statement(statement_zip(DAY, rows))
    assert [(line.kind, line.out_trade_no, line.amount, line.out_refund_no) for line in lines] == [
        ("payment", "CCabc", Decimal("35.00"), ""),
        ("refund", "CCabc", Decimal("5.00"), "RFabc"),
    ]  # the 冻结 (freeze) row moved no money
    assert lines[0].gateway_trade_no == "2026112222001400000000000001"
    assert lines[1].at == dt.datetime(
        2026, 11, 22, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )


@pytest.mark.parametrize(
    "file",
    [
        pytest.param(lambda text: statement_zip(DAY, [_row()], gbk_names=False), id="utf8-names"),
        pytest.param(lambda text: text.encode("gbk"), id="bare-gbk-csv"),
        pytest.param(lambda text: text.encode("utf-8-sig"), id="utf8-bom-csv"),
        pytest.param(
            lambda text: text.replace("（元）", "(元)").encode("gbk"), id="half-width-brackets"
        ),
        pytest.param(lambda text: text.replace("\r\n", "\n").encode("gbk"), id="unix-newlines"),
    ],
)
def test_the_parser_takes_the_variants_it_may_meet(file):
    (line,) = parse_statement(file(statement_csv(DAY, [_row()])))
    assert (line.kind, line.out_trade_no, line.amount) == ("payment", "CCabc", Decimal("35.00"))


@pytest.mark.parametrize(
    "file",
    [
        pytest.param(b"PK\x03\x04 broken", id="broken-zip"),
        pytest.param("#only comments\r\n".encode("gbk"), id="no-header"),
        pytest.param("支付宝交易号,商户订单号\r\n1,2\r\n".encode("gbk"), id="missing-columns"),
        pytest.param(statement_csv(DAY, [_row(amount="35.OO")]).encode("gbk"), id="bad-amount"),
        pytest.param(statement_csv(DAY, [_row(done="yesterday")]).encode("gbk"), id="bad-time"),
        pytest.param(statement_csv(DAY, [_row()[:5]]).encode("gbk"), id="short-row"),
    ],
)
def test_a_statement_that_does_not_read_is_a_gateway_error(file):
    with pytest.raises(GatewayError):
        parse_statement(file)


def test_get_gateway_knows_alipay(alipay):
    gateway = get_gateway("alipay", for_new_payments=True)
    assert isinstance(gateway, AlipayGateway) and gateway.configured()
