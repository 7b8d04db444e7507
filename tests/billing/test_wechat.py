"""The WeChat Pay channel (H5) through the real ``wechatpayv3`` SDK against a local WeChat
Pay (``tests.billing.wechat_fake``): paying from the bill page, notifications (genuine,
repeated, forged, replayed), the query that settles a lost notification or an abandoned
order, refunds (full, partial, refused, unreachable, their answers lost) and the day's trade
bill."""

import datetime as dt
import gzip
import json
import logging
import socket
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from billing.models import (
    BillStatus,
    Payment,
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.payments.gateways import GatewayError, channels_offered
from billing.payments.gateways.wechat import WechatGateway, fen, parse_trade_bill, yuan
from billing.payments.refunds import refund_request, refund_send
from billing.payments.services import payments_settle_pending
from billing.tasks import query_unknown_refunds
from notifications.models import SmsMessage
from tests.billing.wechat_fake import APPID, MCHID, PUBLIC_KEY_ID, WechatPayFake, rsa_key
from tests.fake_http import FakeServer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
PUBLIC = "https://pay.example.cn"


@pytest.fixture
def wechat(settings) -> WechatPayFake:
    with FakeServer() as server:
        fake = WechatPayFake(server)
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.PAYMENT_CHANNELS = ["wechat", "sandbox"]
        settings.PUBLIC_BASE_URL = PUBLIC
        settings.PAYMENT_GATEWAY_TIMEOUT = 2
        yield fake


def start(client, link) -> tuple[Payment, str]:
    """The patient chooses WeChat Pay on the bill page: sent to WeChat's H5 page."""
    response = client.post(
        f"/p/{link.token}/pay/", {"channel": "wechat"}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302, response.content
    return Payment.objects.latest("pk"), response["Location"]


def notify(client, body: bytes, headers: dict[str, str]):
    return client.post(
        "/pay/notify/wechat/", data=body, content_type="application/json", headers=headers
    )


def test_a_refund_event_is_acknowledged_and_changes_nothing(wechat, wechat_paid, verified):
    event = wechat.notification(wechat_paid.out_trade_no, event_type="REFUND.SUCCESS")
    assert notify(verified, *event).status_code == 204  # so WeChat stops re-sending
    wechat_paid.refresh_from_db()
    assert wechat_paid.status == PaymentStatus.SUCCEEDED


@pytest.fixture
def wechat_paid(wechat, verified, link) -> Payment:
    payment, _url = start(verified, link)
    wechat.pay(payment.out_trade_no)
    assert notify(verified, *wechat.notification(payment.out_trade_no)).status_code == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


# --- paying -------------------------------------------------------------------------------


def test_the_patient_pays_with_wechat_from_the_bill_page(wechat, verified, link):
    page = verified.get(f"/p/{link.token}/bill/").content.decode()
    assert 'data-channel="wechat"' in page and "WeChat Pay" in page

    payment, location = start(verified, link)

    # Sent to WeChat's H5 page, which sends the patient back to the bill page afterwards.
    (order_call,) = wechat.calls("h5")
    assert wechat.authorized(order_call)  # signed with our merchant key
    order = order_call.json()
    assert order["out_trade_no"] == payment.out_trade_no
    assert order["amount"] == {"total": 3500, "currency": "CNY"}
    assert order["notify_url"] == f"{PUBLIC}/pay/notify/wechat/"
    assert order["description"] == "第一人民医院 医疗费用"
    assert (order["appid"], order["mchid"]) == (APPID, MCHID)
    # WeChat checks the payer's address: the patient's, as our server saw it.
    assert order["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}}
    assert dt.datetime.fromisoformat(order["time_expire"]) == payment.created_at.replace(
        microsecond=0
    ) + dt.timedelta(minutes=30)
    url = urlsplit(location)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{wechat.server.url}/h5pay"
    assert parse_qs(url.query)["redirect_url"] == [f"{PUBLIC}/p/{link.token}/bill/"]
    assert "redirect_url=https%3A%2F%2Fpay.example.cn%2Fp%2F" in location  # URL-encoded
    assert payment.status == PaymentStatus.PENDING

    # The patient pays at WeChat; WeChat notifies us.
    wechat.pay(payment.out_trade_no)
    response = notify(verified, *wechat.notification(payment.out_trade_no))

    assert response.status_code == 204
    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    trade = wechat.trades[payment.out_trade_no]
    assert payment.gateway_trade_no == trade.transaction_id
    recorded = PaymentNotification.objects.get()
    assert (recorded.amount, recorded.raw["event_type"]) == (
        Decimal("35.00"),
        "TRANSACTION.SUCCESS",
    )
    assert SmsMessage.objects.filter(template="payment_received").count() == 1


def test_the_same_notification_twice_is_acted_on_once(wechat, wechat_paid, verified):
    again = notify(verified, *wechat.notification(wechat_paid.out_trade_no))  # WeChat re-sends

    assert again.status_code == 204
    assert PaymentNotification.objects.count() == 1
    assert SmsMessage.objects.filter(template="payment_received").count() == 1
    wechat_paid.bill.refresh_from_db()
    assert wechat_paid.bill.paid_amount == Decimal("35.00")


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        (lambda fake, no: fake.notification(no, sign_with=rsa_key("forger")), "bad signature"),
        (lambda fake, no: fake.notification(no, serial="PUB_KEY_ID_OTHER"), "unknown key"),
        (lambda fake, no: fake.notification(no, apiv3_key="0" * 32), "cannot be decrypted"),
        (lambda fake, no: fake.notification(no, resource={"appid": "wxforeign"}), "appid"),
        (lambda fake, no: fake.notification(no, resource={"mchid": "1999999999"}), "mchid"),
        (
            lambda fake, no: fake.notification(no, resource={"out_trade_no": "CCforeign"}),
            "no payment 'CCforeign' of ours",
        ),
        (
            lambda fake, no: fake.notification(no, resource={"amount": {"total": 1}}),
            "amount 0.01 is not 35.00",
        ),
    ],
    ids=[
        "bad-signature",
        "unknown-key",
        "wrong-apiv3-key",
        "wrong-appid",
        "wrong-mchid",
        "foreign-trade",
        "wrong-amount",
    ],
)
def test_a_notification_that_does_not_check_out_is_refused_and_changes_nothing(
    wechat, verified, link, caplog, forgery, reason
):
    payment, _url = start(verified, link)
    wechat.pay(payment.out_trade_no)

    with caplog.at_level(logging.WARNING, logger="billing.payments.pages.views"):
        response = notify(verified, *forgery(wechat, payment.out_trade_no))

    assert response.status_code == 400
    assert response.json()["code"] == "FAIL" and reason in response.json()["message"]
    assert any(
        "refused wechat notification" in r.getMessage() and reason in r.getMessage()
        for r in caplog.records
    )
    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.PENDING, BillStatus.UNPAID)
    assert not PaymentNotification.objects.exists()


def test_a_tampered_body_fails_the_signature(wechat, verified, link):
    payment, _url = start(verified, link)
    wechat.pay(payment.out_trade_no)
    body, headers = wechat.notification(payment.out_trade_no)

    response = notify(verified, body.replace(b'"summary"', b'"Summary"'), headers)

    assert response.status_code == 400 and response.json()["message"] == "bad signature"
    assert not PaymentNotification.objects.exists()


def test_a_replayed_notification_with_a_stale_timestamp_is_refused(wechat, verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)
        wechat.pay(payment.out_trade_no)
        captured = wechat.notification(payment.out_trade_no)  # signed at T0
        clock.shift(dt.timedelta(minutes=5, seconds=1))

        response = notify(verified, *captured)

    assert response.status_code == 400 and "stale timestamp" in response.json()["message"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_a_channel_that_refuses_the_order_leaves_the_patient_on_our_page(wechat, verified, link):
    wechat.refuse["h5"] = wechat.error(400, "PARAM_ERROR", "参数错误")

    response = verified.post(f"/p/{link.token}/pay/", {"channel": "wechat"})

    assert response.status_code == 400
    assert "not answering" in response.content.decode()
    # Later: WeChat never made the order, so the query cancels the payment.
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        assert payments_settle_pending() == 1
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CANCELLED
    assert [r.path.split("?")[0] for r in wechat.calls("query")] == [
        f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}"
    ]


def test_wechat_is_offered_only_when_fully_configured(wechat, settings, verified, link):
    assert ("wechat", "WeChat Pay") in [(c, str(label)) for c, label in channels_offered()]
    settings.WECHAT_PUBLIC_KEY_ID = ""  # the public key without its id: unusable

    assert "wechat" not in [channel for channel, _label in channels_offered()]
    response = verified.post(f"/p/{link.token}/pay/", {"channel": "wechat"})
    assert response.status_code == 400 and not wechat.server.requests


# --- query: a lost notification, an abandoned order ----------------------------------------


def test_a_lost_notification_is_settled_by_querying_wechat(wechat, verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)
        wechat.pay(payment.out_trade_no)  # paid at WeChat, its notification lost
        clock.shift(dt.timedelta(minutes=5))

        assert payments_settle_pending() == 1

    payment.refresh_from_db()
    assert (payment.status, payment.bill.status) == (PaymentStatus.SUCCEEDED, BillStatus.PAID)
    assert payment.gateway_trade_no == wechat.trades[payment.out_trade_no].transaction_id
    (query,) = wechat.calls("query")
    assert query.path == f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}?mchid={MCHID}"
    assert PaymentNotification.objects.get().raw["source"] == "query"


def test_an_order_still_unpaid_waits_then_is_closed_at_wechat_and_cancelled(wechat, verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)  # the patient left WeChat's page
        clock.shift(dt.timedelta(minutes=5))
        assert payments_settle_pending() == 0  # NOTPAY: the patient may still pay
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PENDING and not wechat.calls("close")

        clock.shift(dt.timedelta(minutes=26))  # past the order's time_expire
        assert payments_settle_pending() == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert wechat.trades[payment.out_trade_no].state == "CLOSED"
    assert len(wechat.calls("close")) == 1


def test_an_order_paid_just_before_it_is_closed_is_paid(wechat, verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)
        clock.shift(dt.timedelta(minutes=31))
        original = wechat._close

        def paid_meanwhile(request, number):
            wechat.pay(number)  # the patient paid between our query and our close
            return original(request, number)

        wechat._close = paid_meanwhile
        assert payments_settle_pending() == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_an_answer_with_a_bad_signature_is_not_believed(wechat, verified, link):
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)
        wechat.pay(payment.out_trade_no)
        wechat.sign_answers_with = rsa_key("forger")
        clock.shift(dt.timedelta(minutes=5))

        with pytest.raises(GatewayError, match="verify the signature"):
            WechatGateway().query(payment)
        assert payments_settle_pending() == 0  # logged, tried next time

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_a_failing_wechat_leaves_the_payment_pending(wechat, verified, link):
    wechat.refuse["query"] = wechat.error(500, "SYSTEM_ERROR")
    with time_machine.travel(T0, tick=False) as clock:
        payment, _url = start(verified, link)
        clock.shift(dt.timedelta(hours=1))
        with pytest.raises(GatewayError, match="HTTP 500"):
            WechatGateway().query(payment)
        assert payments_settle_pending() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


# --- refunds ------------------------------------------------------------------------------


def _refund(payment: Payment, amount: str, *, send: bool = True) -> Refund:
    refund = refund_request(
        payment=payment, amount=Decimal(amount), reason="test", actor="finance:alice"
    )
    return refund_send(refund_id=refund.pk) if send else refund


def test_a_full_refund(wechat, wechat_paid):
    refund = _refund(wechat_paid, "35.00")

    wechat_paid.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert wechat_paid.status == PaymentStatus.REFUNDED
    (call,) = wechat.calls("refund")
    assert wechat.authorized(call)
    asked = call.json()
    assert (asked["out_refund_no"], asked["out_trade_no"]) == (
        refund.out_refund_no,
        wechat_paid.out_trade_no,
    )
    assert asked["amount"] == {"refund": 3500, "total": 3500, "currency": "CNY"}
    assert refund.gateway_refund_no == wechat.refunds[refund.out_refund_no]["refund_id"]


def test_partial_refunds_add_up(wechat, wechat_paid):
    first = _refund(wechat_paid, "10.00")
    wechat_paid.refresh_from_db()
    assert first.status == RefundStatus.SUCCEEDED
    assert wechat_paid.status == PaymentStatus.PARTIALLY_REFUNDED

    second = _refund(wechat_paid, "25.00")

    wechat_paid.refresh_from_db()
    assert second.status == RefundStatus.SUCCEEDED
    assert wechat_paid.status == PaymentStatus.REFUNDED
    assert [c.json()["amount"] for c in wechat.calls("refund")] == [
        {"refund": 1000, "total": 3500, "currency": "CNY"},
        {"refund": 2500, "total": 3500, "currency": "CNY"},
    ]


def test_a_refund_asked_twice_is_one_refund_at_wechat(wechat, wechat_paid):
    refund = _refund(wechat_paid, "35.00")
    again = WechatGateway().refund(refund)  # our record of the answer lost, asked again

    assert again.succeeded and again.gateway_refund_no == refund.gateway_refund_no
    assert len(wechat.refunds) == 1


def test_a_refund_wechat_completes_later_counts_as_done(wechat, wechat_paid):
    wechat.refund_status = "PROCESSING"

    refund = _refund(wechat_paid, "35.00")

    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_refund_no


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda fake: setattr(fake, "refund_status", "ABNORMAL"), "ABNORMAL"),
        (
            lambda fake: fake.refuse.__setitem__(
                "refund", fake.error(403, "NOT_ENOUGH", "基本账户余额不足")
            ),
            "NOT_ENOUGH",
        ),
    ],
    ids=["abnormal", "business-error"],
)
def test_a_refused_refund_goes_to_the_window_queue(wechat, wechat_paid, setup, error):
    setup(wechat)

    refund = _refund(wechat_paid, "35.00")

    wechat_paid.refresh_from_db()
    assert refund.status == RefundStatus.AT_WINDOW and error in refund.last_error
    assert wechat_paid.status == PaymentStatus.SUCCEEDED  # nothing given back yet


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    ("trouble", "settled"),
    [("unreachable", RefundStatus.UNKNOWN), ("5xx", RefundStatus.AT_WINDOW)],
)
def test_an_unreachable_wechat_is_retried_then_asked_whether_it_made_the_refund(
    wechat, wechat_paid, settings, trouble, settled
):
    settings.REFUND_MAX_ATTEMPTS = 2
    if trouble == "unreachable":  # nor can it be asked: nobody knows
        settings.WECHAT_API_BASE_URL = _closed_port()
    else:  # it answers the question: no such refund
        wechat.refuse["refund"] = wechat.error(503, "SYSTEM_ERROR")
    refund = _refund(wechat_paid, "35.00", send=False)

    with pytest.raises(GatewayError):  # the task retries with backoff
        refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)

    assert refund_send(refund_id=refund.pk).status == settled
    refund.refresh_from_db()
    assert refund.attempts == 2 and refund.last_error.startswith("gave up: WeChat Pay refund")
    assert not wechat.refunds


@pytest.mark.parametrize(
    ("status", "settled"),
    [
        ("SUCCESS", RefundStatus.SUCCEEDED),
        ("PROCESSING", RefundStatus.SUCCEEDED),
        ("ABNORMAL", RefundStatus.AT_WINDOW),
        ("CLOSED", RefundStatus.AT_WINDOW),
    ],
)
def test_a_refund_wechat_made_whose_answers_were_lost_is_settled_by_asking(
    wechat, wechat_paid, settings, status, settled
):
    """Issue 13: every answer lost, the refund went to the window queue as well."""
    settings.REFUND_MAX_ATTEMPTS = 2
    wechat.refund_status = status
    wechat.lose_answers["refund"] = wechat.error(503, "SYSTEM_ERROR")  # made, then lost
    refund = _refund(wechat_paid, "35.00", send=False)
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)

    refund = refund_send(refund_id=refund.pk)

    assert refund.status == settled
    made = wechat.refunds[refund.out_refund_no]
    (query,) = wechat.calls("refund_query")
    assert wechat.authorized(query)
    assert urlsplit(query.path).path == f"/v3/refund/domestic/refunds/{refund.out_refund_no}"
    if settled == RefundStatus.SUCCEEDED:
        assert refund.gateway_refund_no == made["refund_id"]
    else:
        assert refund.last_error.endswith(f"the channel: refund {status}")


def test_an_unknown_refund_is_settled_when_wechat_answers_again(wechat, wechat_paid, settings):
    settings.REFUND_MAX_ATTEMPTS = 2
    wechat.lose_answers["refund"] = wechat.error(502, "BAD_GATEWAY")  # made, answer lost
    refund = _refund(wechat_paid, "35.00", send=False)
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)
    reachable, settings.WECHAT_API_BASE_URL = settings.WECHAT_API_BASE_URL, _closed_port()
    assert refund_send(refund_id=refund.pk).status == RefundStatus.UNKNOWN

    settings.WECHAT_API_BASE_URL = reachable
    assert query_unknown_refunds() == {RefundStatus.SUCCEEDED: 1}
    assert query_unknown_refunds() == {}  # the daily task again: nothing more

    refund.refresh_from_db()
    assert refund.gateway_refund_no == wechat.refunds[refund.out_refund_no]["refund_id"]
    assert len(wechat.calls("refund_query")) == 1
    wechat_paid.refresh_from_db()
    assert wechat_paid.status == PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"amount": {"refund": 100, "total": 3500, "currency": "CNY"}}, "not our refund"),
        ({"status": "WHATEVER"}, "WHATEVER"),
    ],
    ids=["other-amount", "odd-status"],
)
def test_a_wechat_refund_query_answer_that_does_not_settle_it_is_a_gateway_error(
    wechat, wechat_paid, change, said
):
    refund = _refund(wechat_paid, "35.00")
    assert WechatGateway().refund_query(refund).succeeded
    wechat.refunds[refund.out_refund_no] |= change

    with pytest.raises(GatewayError, match=said):
        WechatGateway().refund_query(refund)


# --- the day's trade bill -------------------------------------------------------------------


def _statement(capsys, day: dt.date) -> tuple[dict, int]:
    code = 0
    try:
        call_command("payment_statement", "--channel", "wechat", "--date", str(day), "--json")
    except SystemExit as exit_:
        code = exit_.code
    return json.loads(capsys.readouterr().out), code


def test_the_trade_bill_matches_our_books(wechat, wechat_paid, capsys):
    refund = _refund(wechat_paid, "5.00")

    report, code = _statement(capsys, timezone.localdate())

    assert code == 0 and report["balanced"], report
    assert [(line["kind"], line["amount"]) for line in report["lines"]] == [
        ("payment", "35.00"),
        ("refund", "5.00"),
    ]
    payment_line, refund_line = report["lines"]
    assert payment_line["out_trade_no"] == wechat_paid.out_trade_no
    assert payment_line["gateway_trade_no"] == wechat_paid.gateway_trade_no
    assert refund_line["out_refund_no"] == refund.out_refund_no
    (bill_call,) = wechat.calls("tradebill")
    assert parse_qs(urlsplit(bill_call.path).query)["bill_type"] == ["ALL"]
    # A day without trades: WeChat has no bill, and nothing is missing.
    quiet, code = _statement(capsys, timezone.localdate() - dt.timedelta(days=1))
    assert code == 0 and quiet["lines"] == []


def test_the_trade_bill_shows_money_wechat_took_that_we_did_not_record(
    wechat, verified, link, capsys
):
    payment, _url = start(verified, link)
    wechat.pay(payment.out_trade_no)  # its notification not in yet

    report, code = _statement(capsys, timezone.localdate())

    assert code == 1 and not report["balanced"]
    assert [line["out_trade_no"] for line in report["only_at_channel"]] == [payment.out_trade_no]


def test_a_bill_that_does_not_match_its_digest_is_not_used(wechat, wechat_paid):
    original = wechat._download

    def corrupted(request, number):
        answer = original(request, number)
        answer.body = gzip.compress(gzip.decompress(answer.body).replace(b"35.00", b"3.50"))
        return answer

    wechat._download = corrupted
    with pytest.raises(GatewayError, match="digest"):
        WechatGateway().statement(timezone.localdate())


def test_the_bill_parser_reads_wechats_backticked_csv():
    text = (
        "\ufeff交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额,"
        "微信退款单号,商户退款单号,退款金额,订单金额,申请退款金额\r\n"
        "`2026-11-23 10:00:05,`wx1,`19,`4200001,`CC1,`SUCCESS,`35.00,`0,`,`0.00,`35.00,`0.00\r\n"
        "`2026-11-23 11:00:00,`wx1,`19,`4200001,`CC1,`REFUND,`0.00,`5000,`RF1,`5.00,`0.00,`5.00\r\n"
        "`2026-11-23 12:00:00,`wx1,`19,`4200002,`CC2,`REVOKED,`0.00,`,`,`0.00,`1.00,`0.00\r\n"
        "总交易单数,应结订单总金额,退款总金额\r\n"
        "`3,`35.00,`5.00\r\n"
    )

    lines = parse_trade_bill(text)  # with the byte order mark WeChat's files may start with

    assert [
        (x.kind, x.out_trade_no, x.gateway_trade_no, x.amount, x.out_refund_no) for x in lines
    ] == [
        ("payment", "CC1", "4200001", Decimal("35.00"), ""),
        ("refund", "CC1", "4200001", Decimal("5.00"), "RF1"),
    ]
    assert lines[0].at == dt.datetime(2026, 11, 23, 2, 0, 5, tzinfo=dt.UTC)  # China time


def test_amounts_cross_the_boundary_in_whole_fen():
    assert fen(Decimal("35.00")) == 3500 and fen(Decimal("0.01")) == 1
    assert yuan(3500) == Decimal("35.00") and str(yuan(3500)) == "35.00"
    with pytest.raises(ValueError):
        fen(Decimal("0.005"))
    for bad in (True, 1.5, "3500", -1):
        with pytest.raises(ValueError):
            yuan(bad)


def test_the_public_key_id_is_what_the_sdk_sends_as_serial(wechat, verified, link):
    start(verified, link)
    (call,) = wechat.calls("h5")
    assert call.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
