"""WeChat Pay (API v3, H5 payment: the patient pays in a mobile browser), through the
``wechatpayv3`` SDK in "WeChat Pay public key" mode: the platform's public key and its id
come from settings, so no platform certificate is ever downloaded.

What the SDK does for us: signs every request with the merchant key, verifies the
signature of every 2xx answer and of notifications against the platform public key, and
decrypts notification resources (AES-256-GCM under the APIv3 key). What it does not, and we
do here:

* refuse a notification whose ``Wechatpay-Serial`` is not our public key id (any other
  makes the SDK fetch platform certificates from WeChat, a mode we do not use) or whose
  timestamp is more than 5 minutes off (a replayed notification);
* check that a notification or a query answer is for our ``appid`` and ``mchid``;
* yuan <-> fen, only here: amounts go out as integer fen from the Decimal exactly.

Event types: WeChat notifies payments (``TRANSACTION.SUCCESS``) at the ``notify_url`` given
when the order is made. Refunds are made without a ``notify_url`` (their answer is taken from
the synchronous reply), so no refund notification is asked for; one arriving anyway (say, a
URL configured on the merchant platform) is verified and then refused as unexpected, since
the interface has no "verified, nothing to do" answer. WeChat then re-sends it for a while
and gives up; nothing changes here.

Abandoned payments: WeChat knows an H5 order from the moment it is made, so a payment the
patient never finished is ``NOTPAY`` there, not unknown. Orders expire after
``PAYMENT_ABANDONED_MINUTES`` (``time_expire``) and ``query`` closes one still unpaid after
that, so the payment is cancelled here instead of staying pending for ever.

Refunds: ``SUCCESS`` and ``PROCESSING`` are both "done" for us: with PROCESSING WeChat
completes the refund asynchronously by itself. Its rare later ``ABNORMAL`` (the patient's
bank card closed) is not seen here: we take no refund notifications, and query a refund
(``GET /v3/refund/domestic/refunds/{out_refund_no}``) only when every request for it went
unanswered. Then 404 ``RESOURCE_NOT_EXISTS`` means it was never made; ``CLOSED`` and
``ABNORMAL`` that the money did not go back.
"""

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import time
from decimal import Decimal, InvalidOperation
from functools import cached_property
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wechatpayv3 import WeChatPay, WeChatPayType

from billing.models import PaymentStatus
from billing.payments.gateways import (
    BaseGateway,
    ForgedNotification,
    GatewayError,
    Notification,
    NotificationIgnored,
    RefundResult,
    StatementLine,
)

# Where an H5 order's h5_url sends the patient (WeChat Pay's checkout, which opens WeChat).
H5_CHECKOUT_ORIGIN = "https://wx.tenpay.com"
TRADE_STATES = {  # WeChat's trade_state -> ours
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "CLOSED": PaymentStatus.CANCELLED,
    "REVOKED": PaymentStatus.CANCELLED,
    "PAYERROR": PaymentStatus.FAILED,
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
}
# Refund statuses that mean the money is (or will be, by WeChat alone) back with the patient.
# PROCESSING: accepted, WeChat completes it asynchronously (to change, usually within minutes;
# to a bank card, up to a few working days).
REFUND_ACCEPTED = {"SUCCESS", "PROCESSING"}
# Made, then closed by the merchant or failed (the account closed): the money is not back.
REFUND_NOT_DONE = {"CLOSED", "ABNORMAL"}
NOTIFICATION_MAX_AGE = 300  # seconds; WeChat signs each delivery afresh, retries included
SIGNATURE_HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
)
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


def fen(amount: Decimal) -> int:
    """Yuan to integer fen, exactly: a sub-fen amount is a bug upstream, not a rounding."""
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(cents)


def yuan(total: object) -> Decimal:
    """Integer fen from WeChat to yuan with 2 places; anything else is not WeChat's answer."""
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"bad amount {total!r}")
    return Decimal(total).scaleb(-2)


def _answer(code: int, message: str | bytes) -> dict:
    """An error answer's ``{code, message}``, or what we can say of a body that is not one."""
    try:
        data = json.loads(message)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict):
        return data
    return {"code": f"HTTP_{code}", "message": str(message)[:200]}


class WechatGateway(BaseGateway):
    channel = "wechat"
    label = _("WeChat Pay")
    name = _("WeChat Pay")

    def configured(self) -> bool:
        return all(
            (
                settings.WECHAT_MCHID,
                settings.WECHAT_APPID,
                settings.WECHAT_PRIVATE_KEY,
                settings.WECHAT_CERT_SERIAL_NO,
                settings.WECHAT_APIV3_KEY,
                settings.WECHAT_PUBLIC_KEY,
                settings.WECHAT_PUBLIC_KEY_ID,
            )
        )

    @cached_property
    def _pay(self) -> WeChatPay:
        # Built on first use, never for an unconfigured channel: without a public key the
        # SDK would download platform certificates from WeChat in its constructor.
        if not self.configured():
            raise GatewayError("WeChat Pay is not configured")
        try:
            client = WeChatPay(
                wechatpay_type=WeChatPayType.H5,
                mchid=settings.WECHAT_MCHID,
                private_key=settings.WECHAT_PRIVATE_KEY,
                cert_serial_no=settings.WECHAT_CERT_SERIAL_NO,
                appid=settings.WECHAT_APPID,
                apiv3_key=settings.WECHAT_APIV3_KEY,
                public_key=settings.WECHAT_PUBLIC_KEY,
                public_key_id=settings.WECHAT_PUBLIC_KEY_ID,
                timeout=settings.PAYMENT_GATEWAY_TIMEOUT,
                # No logger: the SDK would log decrypted notifications (payer ids) at debug.
            )
        except Exception as error:  # the SDK raises bare Exception for a key it cannot load
            raise GatewayError(f"WeChat Pay keys: {error}") from None
        # The SDK hardcodes WeChat Pay's URL; settings point it elsewhere (a fake in tests).
        client._core._gate_way = settings.WECHAT_API_BASE_URL.rstrip("/")
        return client

    def _call(self, what: str, method, *args, **kwargs) -> tuple[int, str | bytes]:
        """One SDK call; the network failing, or an answer whose signature does not check
        out (the SDK raises bare ``Exception``), is ``GatewayError``. 5xx too: try later."""
        try:
            code, message = method(*args, **kwargs)
        except Exception as error:  # requests' network errors, and the SDK's bare Exception
            raise GatewayError(f"WeChat Pay {what}: {error}") from None
        if code >= 500:
            raise GatewayError(f"WeChat Pay {what}: HTTP {code} {str(message)[:200]}")
        return code, message

    # --- paying ---------------------------------------------------------------------------

    def checkout_url(self, payment) -> str:
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        expires = timezone.localtime(payment.created_at) + dt.timedelta(
            minutes=settings.PAYMENT_ABANDONED_MINUTES
        )
        code, message = self._call(
            "H5 order",
            self._pay.pay,
            description=f"{payment.bill.institution.name} 医疗费用"[:127],
            out_trade_no=payment.out_trade_no,
            amount={"total": fen(payment.amount), "currency": "CNY"},
            notify_url=base + reverse("pay:notify", args=["wechat"]),
            time_expire=expires.isoformat(timespec="seconds"),
            scene_info={
                # WeChat compares it with the address that opens h5_url; payments do not
                # record the patient's address yet (see the report), hence the fallback.
                "payer_client_ip": getattr(payment, "client_ip", "") or "127.0.0.1",
                "h5_info": {"type": "Wap"},
            },
        )
        h5_url = _answer(code, message).get("h5_url") if code == 200 else None
        if not h5_url:
            raise GatewayError(f"WeChat Pay H5 order: HTTP {code} {str(message)[:200]}")
        # Where WeChat sends the patient back after paying (or not): the bill page, which
        # says "awaiting" until the notification is in.
        back = base + reverse("pay:bill", args=[payment.link.token])
        return f"{h5_url}{'&' if '?' in h5_url else '?'}redirect_url={quote(back, safe='')}"

    def checkout_origins(self) -> list[str]:
        return [H5_CHECKOUT_ORIGIN]

    # --- notifications --------------------------------------------------------------------

    def parse_notification(self, request: HttpRequest) -> Notification:
        if not self.configured():
            raise ForgedNotification("WeChat Pay is not configured: cannot verify")
        headers = {name: request.headers.get(name, "") for name in SIGNATURE_HEADERS}
        if not all(headers.values()):
            raise ForgedNotification("missing signature headers")
        # The SDK insists on this header; the check is RSA-SHA256 whether or not it is sent.
        headers["Wechatpay-Signature-Type"] = request.headers.get(
            "Wechatpay-Signature-Type", SIGNATURE_TYPE
        )
        if headers["Wechatpay-Serial"] != settings.WECHAT_PUBLIC_KEY_ID:
            raise ForgedNotification(f"unknown key {headers['Wechatpay-Serial'][:64]!r}")
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ForgedNotification("body is not UTF-8") from None
        core = self._pay._core
        try:
            genuine = core._verify_signature(headers, body)
        except Exception:  # an unsupported signature type, a signature that is not base64
            genuine = False
        if not genuine:
            raise ForgedNotification("bad signature")
        try:
            sent_at = int(headers["Wechatpay-Timestamp"])
        except ValueError:
            raise ForgedNotification("bad timestamp") from None
        if abs(time.time() - sent_at) > NOTIFICATION_MAX_AGE:
            raise ForgedNotification(f"stale timestamp {sent_at}")
        try:
            event = self._pay.callback(headers, body)
        except Exception:  # not JSON, an unknown algorithm, a nonce of the wrong size
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("resource"), dict):
            raise ForgedNotification("resource cannot be decrypted")
        event_type = str(event.get("event_type", ""))
        if event_type.startswith("REFUND."):  # refunds are settled by their answer
            raise NotificationIgnored(event_type)
        if not event_type.startswith("TRANSACTION."):
            raise ForgedNotification(f"unexpected event type {event_type!r}")
        notification = self._notification(event["resource"])
        raw = {**notification.raw, "event_id": event.get("id"), "event_type": event_type}
        return Notification(
            out_trade_no=notification.out_trade_no,
            gateway_trade_no=notification.gateway_trade_no,
            amount=notification.amount,
            status=notification.status,
            raw=raw,
        )

    def _notification(self, trade: dict) -> Notification:
        """A trade (decrypted from a notification, or a query's answer) as our Notification.
        Raises ``ForgedNotification`` when it is not for us or does not make sense."""
        if trade.get("appid") != settings.WECHAT_APPID:
            raise ForgedNotification(f"appid {trade.get('appid')!r} is not ours")
        if trade.get("mchid") != settings.WECHAT_MCHID:
            raise ForgedNotification(f"mchid {trade.get('mchid')!r} is not ours")
        state = trade.get("trade_state")
        if state not in TRADE_STATES:
            raise ForgedNotification(f"unknown trade_state {state!r}")
        out_trade_no = trade.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            raise ForgedNotification("no out_trade_no")
        try:
            amount = yuan((trade.get("amount") or {}).get("total"))
        except (AttributeError, ValueError):
            raise ForgedNotification("bad amount") from None
        transaction_id = trade.get("transaction_id") or ""
        if state == "SUCCESS" and not transaction_id:
            raise ForgedNotification("a successful trade without transaction_id")
        return Notification(
            out_trade_no=out_trade_no,
            # An unpaid or closed order has no transaction_id yet. Notifications are told
            # apart by (channel, gateway_trade_no, status): an empty number would make one
            # payment's "closed" look like a repeat of another's, so ours stands in.
            gateway_trade_no=str(transaction_id or out_trade_no),
            amount=amount,
            status=TRADE_STATES[state],
            raw=trade,
        )

    def acknowledge(self) -> HttpResponse:
        return HttpResponse(status=204)  # WeChat: 200 or 204, no body needed

    def refuse(self, reason: str) -> HttpResponse:
        # Any 4xx/5xx makes WeChat send it again later (up to 15 times over 24 hours).
        return JsonResponse({"code": "FAIL", "message": reason[:200]}, status=400)

    # --- query ----------------------------------------------------------------------------

    def query(self, payment) -> Notification | None:
        code, message = self._call("query", self._pay.query, out_trade_no=payment.out_trade_no)
        answer = _answer(code, message)
        if code == 404 and answer.get("code") == "ORDER_NOT_EXIST":
            return None  # the order was never made (the H5 call failed)
        if code != 200:
            raise GatewayError(f"WeChat Pay query: HTTP {code} {answer.get('code')}")
        try:
            found = self._notification(answer)
        except ForgedNotification as error:
            raise GatewayError(f"WeChat Pay query: {error}") from None
        if found.out_trade_no != payment.out_trade_no:
            raise GatewayError(f"WeChat Pay query: answered for {found.out_trade_no!r}")
        abandoned = timezone.now() - dt.timedelta(minutes=settings.PAYMENT_ABANDONED_MINUTES)
        if answer["trade_state"] == "NOTPAY" and payment.created_at < abandoned:
            return self._close(payment, found)
        return found

    def _close(self, payment, unpaid: Notification) -> Notification:
        """Close an order left unpaid past its expiry: then it is cancelled for certain."""
        code, message = self._call("close", self._pay.close, out_trade_no=payment.out_trade_no)
        if code in (200, 204):
            return Notification(
                out_trade_no=unpaid.out_trade_no,
                gateway_trade_no=unpaid.gateway_trade_no,
                amount=unpaid.amount,
                status=PaymentStatus.CANCELLED,
                raw={**unpaid.raw, "trade_state": "CLOSED", "closed_by": "us"},
            )
        if _answer(code, message).get("code") == "ORDERPAID":  # paid after all, just now
            code, message = self._call("query", self._pay.query, out_trade_no=payment.out_trade_no)
            if code == 200:
                try:
                    return self._notification(_answer(code, message))
                except ForgedNotification as error:
                    raise GatewayError(f"WeChat Pay query: {error}") from None
        raise GatewayError(f"WeChat Pay close: HTTP {code} {str(message)[:200]}")

    # --- refunds --------------------------------------------------------------------------

    def refund(self, refund) -> RefundResult:
        payment = refund.payment
        code, message = self._call(
            "refund",
            self._pay.refund,
            out_refund_no=refund.out_refund_no,  # the same number again: the same refund
            out_trade_no=payment.out_trade_no,
            amount={"refund": fen(refund.amount), "total": fen(payment.amount), "currency": "CNY"},
        )
        answer = _answer(code, message)
        if code == 429:  # FREQUENCY_LIMITED: not a "no", try again later
            raise GatewayError(f"WeChat Pay refund: {answer.get('code')}")
        if code != 200:
            return RefundResult(
                succeeded=False, error=f"{answer.get('code')}: {answer.get('message', '')}"
            )
        status = answer.get("status")
        if status in REFUND_ACCEPTED and answer.get("refund_id"):
            return RefundResult(succeeded=True, gateway_refund_no=str(answer["refund_id"]))
        return RefundResult(succeeded=False, error=f"refund {status}")  # ABNORMAL, CLOSED

    def refund_query(self, refund) -> RefundResult | None:
        code, message = self._call(
            "refund query", self._pay.query_refund, out_refund_no=refund.out_refund_no
        )
        answer = _answer(code, message)
        if code == 404 and answer.get("code") == "RESOURCE_NOT_EXISTS":
            return None  # WeChat never made a refund of this number
        if code != 200:
            raise GatewayError(f"WeChat Pay refund query: HTTP {code} {answer.get('code')}")
        amount = answer.get("amount") if isinstance(answer.get("amount"), dict) else {}
        if (
            answer.get("out_refund_no") != refund.out_refund_no
            or answer.get("out_trade_no") != refund.payment.out_trade_no
            or amount.get("refund") != fen(refund.amount)
        ):
            raise GatewayError(f"WeChat Pay refund query: not our refund {refund.out_refund_no}")
        status = answer.get("status")
        if status in REFUND_ACCEPTED and answer.get("refund_id"):
            return RefundResult(succeeded=True, gateway_refund_no=str(answer["refund_id"]))
        if status in REFUND_NOT_DONE:
            return RefundResult(succeeded=False, error=f"refund {status}")
        raise GatewayError(f"WeChat Pay refund query: status {status!r}")

    # --- the day's statement ----------------------------------------------------------------

    def statement(self, day: dt.date) -> list[StatementLine]:
        code, message = self._call(
            "trade bill", self._pay.trade_bill, bill_date=day.isoformat(), bill_type="ALL"
        )
        answer = _answer(code, message)
        if code == 400 and answer.get("code") == "NO_STATEMENT_EXIST":
            return []  # no trade that day
        if code != 200 or not answer.get("download_url"):
            raise GatewayError(f"WeChat Pay trade bill: HTTP {code} {answer.get('code')}")
        # Always from our configured base: the SDK signs the path, and our Authorization
        # header goes nowhere else.
        url = urlsplit(answer["download_url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        code, content = self._call("bill download", self._pay.download_bill, path)
        if code != 200:
            raise GatewayError(f"WeChat Pay bill download: HTTP {code}")
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        # The download is not signed: the signed bill answer carries its digest instead.
        digest = str(answer.get("hash_value", "")).lower()
        checkable = answer.get("hash_type", "SHA1") == "SHA1" and digest
        if checkable and hashlib.sha1(data).hexdigest() != digest:
            raise GatewayError("WeChat Pay trade bill: digest does not match")
        return parse_trade_bill(data.decode("utf-8"))


def _cell(value: str) -> str:
    # WeChat prefixes every value with a backtick so spreadsheets keep numbers as text.
    return value.strip().lstrip("`").strip()


def _money(value: str) -> Decimal:
    try:
        return Decimal(value or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        raise GatewayError(f"WeChat Pay trade bill: bad amount {value!r}") from None


def parse_trade_bill(text: str) -> list[StatementLine]:
    """A trade bill (bill_type ALL) as statement lines: a SUCCESS row is a payment, a REFUND
    row a refund. Columns are found by their (Chinese) header names; the summary rows at
    the end (from ``总交易单数``) are not trades."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [_cell(name) for name in next(rows, [])]
    if "商户订单号" not in header:
        raise GatewayError("WeChat Pay trade bill: no header row")
    tz = timezone.get_default_timezone()
    lines = []
    for row in rows:
        cells = [_cell(value) for value in row]
        if not cells or not cells[0]:
            continue
        if cells[0].startswith("总"):
            break  # the summary
        record = dict(zip(header, cells, strict=False))
        try:
            at = dt.datetime.strptime(record["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
        except (KeyError, ValueError):
            raise GatewayError(f"WeChat Pay trade bill: bad row {row[:3]!r}") from None
        state = record.get("交易状态", "")
        if state == "SUCCESS":
            # 订单金额 is the order's total (what we asked); 应结订单金额 leaves out coupons.
            amount = _money(record.get("订单金额") or record.get("应结订单金额", ""))
            lines.append(
                StatementLine("payment", record["商户订单号"], record["微信订单号"], amount, at)
            )
        elif state == "REFUND":
            amount = _money(record.get("申请退款金额") or record.get("退款金额", ""))
            lines.append(
                StatementLine(
                    "refund",
                    record["商户订单号"],
                    record["微信订单号"],
                    amount,
                    at,
                    out_refund_no=record.get("商户退款单号", ""),
                )
            )
    return lines
