"""Alipay (支付宝): mobile web payment (``alipay.trade.wap.pay``) through the maintained SDK
(``python-alipay-sdk``, ``alipay.AliPay``), RSA2-signed both ways.

* Checkout: the SDK signs the request and we send the patient's browser with it to Alipay.
  The trade expires when we would call the payment abandoned, so Alipay takes no money for
  a payment we have cancelled.
* Notifications: form fields POSTed to ``/pay/notify/alipay/``. The signature is checked
  first (Alipay's public key over the sorted fields without ``sign`` and ``sign_type``),
  then the app id; the order and the amount are checked above (``payment_notified``).
* Query, refund, refund query, the day's statement: signed calls whose signed answers the
  SDK verifies. A business "no" is an answer; an unsigned or unreadable answer is
  ``GatewayError``. The statement is a zip of GBK CSV files at a short-lived URL the call
  returns.
* Refund query (``alipay.trade.fastpay.refund.query``): its code 10000 only says the query
  worked. Refund data in the answer (``refund_status`` empty or ``REFUND_SUCCESS``) means the
  refund was made; none means it was not.
"""

import csv
import datetime as dt
import http.client
import io
import logging
import zipfile
from base64 import b64decode
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from urllib.request import urlopen
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from billing.models import Payment, PaymentStatus, Refund
from billing.payments.gateways import (
    BaseGateway,
    ForgedNotification,
    GatewayError,
    Notification,
    RefundResult,
    StatementLine,
)
from creditcare.money import quantize

logger = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")  # Alipay's times are China time, whatever ours are
SUCCESS = "10000"
CASHIER_ORIGINS = ["https://*.alipay.com", "https://*.alipaydev.com"]
STATUS_WORDS = {  # Alipay's trade_status -> ours
    "TRADE_SUCCESS": PaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": PaymentStatus.SUCCEEDED,  # paid, and past the time refunds are allowed
    "TRADE_CLOSED": PaymentStatus.CANCELLED,  # unpaid and expired (or refunded in full)
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
}
TRADE_FIELDS = ("out_trade_no", "trade_no", "total_amount", "trade_status")
# Answers that mean "try again with the same parameters" (Alipay's error code table).
RETRY_CODES = {"20000"}  # service unavailable
RETRY_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error"}
# Trouble on the wire or in the answer: URLError and HTTPError (4xx/5xx) and timeouts are
# OSError, a cut connection may be an HTTPException, non-JSON or undecodable is ValueError.
WIRE_ERRORS = (OSError, http.client.HTTPException, ValueError)
STATEMENT_MAX_BYTES = 50 * 1024 * 1024


def _key(text: str) -> str | bytes:
    """A key as settings hold it: PEM, or the bare base64 (DER) Alipay's console shows."""
    text = text.strip()
    return text if "-----BEGIN" in text else b64decode(text)


def _client() -> AliPay:
    try:
        client = AliPay(
            appid=settings.ALIPAY_APP_ID,
            app_private_key_string=_key(settings.ALIPAY_APP_PRIVATE_KEY),
            alipay_public_key_string=_key(settings.ALIPAY_PUBLIC_KEY),
            sign_type="RSA2",
            config=AliPayConfig(timeout=settings.PAYMENT_GATEWAY_TIMEOUT),
        )
    except (ValueError, IndexError, TypeError) as error:
        raise GatewayError(f"the Alipay keys in settings do not load: {error}") from None
    # The SDK hardcodes Alipay's URL: ours comes from settings (a test's fake, a proxy).
    client._gateway = settings.ALIPAY_GATEWAY_URL
    return client


def _call(api: Callable[..., dict], **kwargs) -> dict:
    """An API call whose answer Alipay signed, or ``GatewayError``."""
    try:
        return api(**kwargs)
    except AliPayValidationError:
        raise GatewayError("Alipay's answer is not signed with Alipay's key") from None
    except AliPayException as error:  # an unsigned error: the gateway refused the call itself
        raise GatewayError(f"Alipay refused the call: {error}"[:500]) from None
    except (*WIRE_ERRORS, AttributeError, TypeError) as error:
        # AttributeError / TypeError: the SDK trips over JSON of an unexpected shape.
        raise GatewayError(f"Alipay did not answer sensibly: {error!r}"[:500]) from None


def _said(answer: dict) -> str:
    words = [answer.get(name, "") for name in ("code", "msg", "sub_code", "sub_msg")]
    return " ".join(word for word in words if word)


def _notification(fields: dict) -> Notification:
    """Read the trade fields Alipay sends in notifications and query answers alike."""
    try:
        out_trade_no, trade_no, total, word = (str(fields[name]) for name in TRADE_FIELDS)
    except KeyError as missing:
        raise ForgedNotification(f"missing {missing}") from None
    if not (out_trade_no and trade_no):
        raise ForgedNotification("empty out_trade_no or trade_no")
    if word not in STATUS_WORDS:
        raise ForgedNotification(f"unknown trade_status {word!r}")
    try:
        amount = Decimal(total)
    except InvalidOperation:
        raise ForgedNotification(f"bad amount {total!r}") from None
    if not amount.is_finite():
        raise ForgedNotification(f"bad amount {total!r}")
    return Notification(
        out_trade_no=out_trade_no,
        gateway_trade_no=trade_no,
        amount=amount,
        status=STATUS_WORDS[word],
        raw=dict(fields),
    )


class AlipayGateway(BaseGateway):
    channel = "alipay"
    label = _("Alipay")
    name = _("Alipay")

    def configured(self) -> bool:
        return bool(
            settings.ALIPAY_APP_ID
            and settings.ALIPAY_APP_PRIVATE_KEY
            and settings.ALIPAY_PUBLIC_KEY
        )

    def checkout_url(self, payment: Payment) -> str:
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        bill_page = base + reverse("pay:bill", args=[payment.link.token])
        expires = payment.created_at.astimezone(CHINA) + dt.timedelta(
            minutes=settings.PAYMENT_ABANDONED_MINUTES
        )
        # The SDK only signs: no call to Alipay until the patient's browser arrives there.
        signed = _client().api_alipay_trade_wap_pay(
            subject=f"{payment.bill.institution.name} 医疗费用",
            out_trade_no=payment.out_trade_no,
            total_amount=f"{payment.amount:.2f}",
            return_url=bill_page,
            notify_url=base + reverse("pay:notify", args=[self.channel]),
            quit_url=bill_page,  # "leave" on Alipay's page brings the patient back
            time_expire=expires.strftime("%Y-%m-%d %H:%M:%S"),
        )
        return f"{settings.ALIPAY_GATEWAY_URL}?{signed}"

    def checkout_origins(self) -> list[str]:
        # The gateway sends the patient on to Alipay's cashier pages (mclient.alipay.com; the
        # sandbox's on alipaydev.com).
        gateway = urlsplit(settings.ALIPAY_GATEWAY_URL)
        return [f"{gateway.scheme}://{gateway.netloc}", *CASHIER_ORIGINS]

    def parse_notification(self, request: HttpRequest) -> Notification:
        if any(len(values) > 1 for _name, values in request.POST.lists()):
            raise ForgedNotification("a field given twice")
        fields = request.POST.dict()
        signature = fields.pop("sign", "")
        if not signature:
            raise ForgedNotification("not signed")
        # As Alipay's own SDKs do, fields with empty values are left out of the signed text.
        signed = {name: value for name, value in fields.items() if value != ""}
        try:
            valid = _client().verify(signed, signature)  # also refuses a sign_type not RSA2
        except AliPayException as error:
            raise ForgedNotification(str(error)) from None
        except (ValueError, TypeError):
            raise ForgedNotification("unreadable signature") from None
        if not valid:
            raise ForgedNotification("bad signature")
        if fields.get("app_id") != settings.ALIPAY_APP_ID:
            raise ForgedNotification(f"app_id {fields.get('app_id')!r} is not ours")
        fields.pop("sign_type", None)
        return _notification(fields)

    def query(self, payment: Payment) -> Notification | None:
        answer = _call(_client().api_alipay_trade_query, out_trade_no=payment.out_trade_no)
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None  # the patient has not reached Alipay's checkout (or never will)
            raise GatewayError(f"Alipay query of {payment.out_trade_no}: {_said(answer)}")
        if answer.get("out_trade_no") != payment.out_trade_no:
            raise GatewayError(f"Alipay answered about {answer.get('out_trade_no')!r}")
        try:
            return _notification(answer)
        except ForgedNotification as error:
            raise GatewayError(f"Alipay's query answer does not read: {error}") from None

    def refund(self, refund: Refund) -> RefundResult:
        answer = _call(
            _client().api_alipay_trade_refund,
            refund_amount=f"{refund.amount:.2f}",
            out_trade_no=refund.payment.out_trade_no,
            out_request_no=refund.out_refund_no,  # the same number again is the same refund
        )
        if answer.get("code") == SUCCESS:
            return RefundResult(
                succeeded=True,
                gateway_refund_no=answer.get("trade_no") or refund.out_refund_no,
            )
        if answer.get("code") in RETRY_CODES or answer.get("sub_code") in RETRY_SUB_CODES:
            raise GatewayError(f"Alipay refund {refund.out_refund_no}: {_said(answer)}")
        reason = answer.get("sub_msg") or answer.get("msg") or "refused"
        if answer.get("sub_code"):
            reason += f" ({answer['sub_code']})"
        return RefundResult(succeeded=False, error=reason)

    def refund_query(self, refund: Refund) -> RefundResult | None:
        trade_no, refund_no = refund.payment.out_trade_no, refund.out_refund_no
        answer = _call(
            _client().api_alipay_trade_fastpay_refund_query,
            out_request_no=refund_no,
            out_trade_no=trade_no,
        )
        if answer.get("code") != SUCCESS:
            # Also ACQ.TRADE_NOT_EXIST: a trade we were paid for that Alipay does not know is
            # a wrong setting somewhere, not an answer to pay a window refund on.
            raise GatewayError(f"Alipay refund query {refund_no}: {_said(answer)}")
        if not answer.get("refund_amount"):
            return None  # no refund data: Alipay never made this refund
        status = answer.get("refund_status") or "REFUND_SUCCESS"  # older answers leave it out
        if status != "REFUND_SUCCESS":
            raise GatewayError(f"Alipay refund {refund_no} is {status!r}")
        if (answer.get("out_trade_no", trade_no), answer.get("out_request_no", refund_no)) != (
            trade_no,
            refund_no,
        ):
            raise GatewayError(f"Alipay answered about another refund than {refund_no}")
        try:
            amount = Decimal(str(answer["refund_amount"]))
        except InvalidOperation:
            amount = None
        if amount != refund.amount:
            raise GatewayError(f"Alipay refund {refund_no} is of {answer['refund_amount']!r}")
        return RefundResult(succeeded=True, gateway_refund_no=answer.get("trade_no") or refund_no)

    def statement(self, day: dt.date) -> list[StatementLine]:
        answer = _call(
            _client().server_api,
            api_name="alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": day.isoformat()},
        )
        url = answer.get("bill_download_url") or ""
        if answer.get("code") != SUCCESS or not url:
            # Also "isp.bill_not_exist": the day's bill is ready after about 9:00 the next day.
            raise GatewayError(f"no Alipay statement of {day}: {_said(answer)}")
        if not url.startswith(("https://", "http://")):
            raise GatewayError(f"Alipay's statement is at an odd URL: {url[:100]!r}")
        try:
            with urlopen(url, timeout=settings.PAYMENT_GATEWAY_TIMEOUT) as response:
                data = response.read(STATEMENT_MAX_BYTES + 1)
        except WIRE_ERRORS as error:
            raise GatewayError(
                f"the Alipay statement of {day} did not download: {error!r}"
            ) from None
        if len(data) > STATEMENT_MAX_BYTES:
            raise GatewayError(f"the Alipay statement of {day} is too large")
        return parse_statement(data)


# --- the statement file ----------------------------------------------------------------------

KINDS = {"交易": "payment", "退款": "refund"}  # 业务类型; others (e.g. 冻结) are not money moved
COLUMNS = {  # what we read -> how Alipay's header starts (full- or half-width brackets follow)
    "trade_no": "支付宝交易号",
    "out_trade_no": "商户订单号",
    "kind": "业务类型",
    "created": "创建时间",
    "finished": "完成时间",
    "amount": "订单金额",
    "out_refund_no": "退款批次号",
}


def parse_statement(data: bytes) -> list[StatementLine]:
    """Payments and refunds from Alipay's trade statement: a zip holding the details
    (``…_业务明细.csv``) and a summary (``…_业务明细(汇总).csv``), or the details alone.

    The details are GBK CSV: ``#`` lines around, a header row, cells padded with tabs, refunds
    with negative amounts. Anything that does not read is ``GatewayError``: a statement half
    read would pass for a reconciled one."""
    return _statement_lines(_text(_details(data)))


def _details(data: bytes) -> bytes:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if _name(m).lower().endswith(".csv")]
            details = [m for m in members if "汇总" not in _name(m)]  # not the summary
            if len(details) != 1:
                raise GatewayError(f"Alipay statement zip holds {[_name(m) for m in members]}")
            return archive.read(details[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise GatewayError(f"Alipay statement zip does not open: {error}") from None


def _name(member: zipfile.ZipInfo) -> str:
    # Alipay writes GBK names without the zip's UTF-8 flag, which zipfile then read as cp437.
    if member.flag_bits & 0x800:
        return member.filename
    try:
        return member.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return member.filename


def _text(data: bytes) -> str:
    # UTF-8 first: GBK text is almost never valid UTF-8, while GB18030 decodes nearly anything.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GatewayError("Alipay statement is neither UTF-8 nor GBK")


def _statement_lines(text: str) -> list[StatementLine]:
    rows = csv.reader(
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    header = [cell.strip() for cell in next(rows, [])]
    at = {}
    for name, prefix in COLUMNS.items():
        found = [index for index, cell in enumerate(header) if cell.startswith(prefix)]
        if not found and name != "created":
            raise GatewayError(f"Alipay statement has no column {prefix!r}: {header[:30]}")
        at[name] = found[0] if found else None
    lines = []
    for number, row in enumerate(rows, start=2):
        cells = [cell.strip() for cell in row]
        try:
            line = _statement_line(cells, at)
        except (IndexError, ValueError, InvalidOperation) as error:
            raise GatewayError(f"Alipay statement row {number} does not read: {error!r}") from None
        if line is not None:
            lines.append(line)
    return lines


def _statement_line(cells: list[str], at: dict[str, int | None]) -> StatementLine | None:
    kind = KINDS.get(cells[at["kind"]])
    if kind is None:
        logger.info("Alipay statement: skipped a %r row", cells[at["kind"]])
        return None
    when = cells[at["finished"]] or (cells[at["created"]] if at["created"] is not None else "")
    amount = Decimal(cells[at["amount"]])
    if not amount.is_finite():
        raise ValueError(f"amount {cells[at['amount']]!r}")
    return StatementLine(
        kind=kind,
        out_trade_no=cells[at["out_trade_no"]],
        gateway_trade_no=cells[at["trade_no"]],
        amount=quantize(abs(amount)),  # refunds are negative in the file, positive with us
        at=dt.datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA),
        out_refund_no=cells[at["out_refund_no"]] if kind == "refund" else "",
    )
