"""A fake Alipay for the tests: a local HTTP server (``tests.fake_http.FakeServer``) that the
real SDK reaches over sockets. It checks our RSA2 signature on every call, keeps its own
books of trades and refunds, answers query / refund / statement calls signed with
"Alipay's" key as the real API does, serves the statement as a zip of GBK CSV, and signs the
notifications a test then POSTs to us.

Keys are generated once per test run: ours (``APP``), Alipay's (``ALIPAY``) and a stranger's
(``STRANGER``, for forgeries).
"""

import base64
import dataclasses
import datetime as dt
import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit
from urllib.request import urlopen
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fake_http import Answer, FakeServer, Recorded

CHINA = ZoneInfo("Asia/Shanghai")
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


class KeyPair:
    """An RSA 2048 key pair, made when first used."""

    @cached_property
    def private(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, text: str) -> str:
        """RSA2: SHA256withRSA (PKCS#1 v1.5), base64."""
        signature = self.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verifies(self, text: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


APP, ALIPAY, STRANGER = KeyPair(), KeyPair(), KeyPair()


def signed_text(fields: dict[str, str], *, leave_out: tuple[str, ...] = ("sign",)) -> str:
    """What Alipay signs: the fields sorted by name, ``name=value`` joined by ``&``, without
    the signature and empty values."""
    return "&".join(
        f"{name}={value}"
        for name, value in sorted(fields.items())
        if name not in leave_out and value != ""
    )


def checkout_params(url: str) -> dict[str, str]:
    """The signed parameters of a checkout URL (as Alipay reads them from the browser)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@dataclass
class Trade:
    out_trade_no: str
    trade_no: str
    amount: Decimal
    subject: str
    status: str = "WAIT_BUYER_PAY"
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(CHINA))
    paid_at: dt.datetime | None = None
    refunds: dict[str, tuple[Decimal, dt.datetime]] = field(default_factory=dict)

    @property
    def refunded(self) -> Decimal:
        return sum((amount for amount, _at in self.refunds.values()), Decimal("0.00"))


def _at(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class FakeAlipay:
    """Alipay's side. ``refuse_refunds = (sub_code, sub_msg)`` refuses refunds; ``bad_day``,
    when set, answers every API call (a 502, garbage, a slow answer...); ``charged_twice``
    lists orders Alipay took twice (two trades on the statement); ``fail_calls``
    answers the calls of a method instead of acting on them, ``lose_answers`` after acting
    (the answer lost on its way back)."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.trades: dict[str, Trade] = {}
        self.refuse_refunds: tuple[str, str] | None = None
        self.bad_day: Answer | None = None
        self.fail_calls: dict[str, Answer] = {}  # method -> answer, nothing done
        self.lose_answers: dict[str, Answer] = {}  # method -> answer, done all the same
        self.calls: list[dict] = []  # every API call that arrived (not checkouts), biz read
        self.charged_twice: set[str] = set()  # out_trade_no whose payment Alipay doubled
        server.respond = self._respond

    @property
    def gateway_url(self) -> str:
        return f"{self.server.url}/gateway.do"

    # --- what the patient and Alipay's back office do ---------------------------------------

    def open_checkout(self, url: str) -> Trade:
        """The patient's browser arrives at Alipay's checkout with our signed request."""
        with urlopen(url, timeout=5) as response:
            assert response.status == 200
        return self.trades[json.loads(checkout_params(url)["biz_content"])["out_trade_no"]]

    def pay(self, out_trade_no: str, *, status: str = "TRADE_SUCCESS") -> dict[str, str]:
        """The patient pays: Alipay's books change; returns the notification Alipay sends."""
        trade = self.trades[out_trade_no]
        trade.status = status
        trade.paid_at = dt.datetime.now(CHINA)
        return self.notification(trade)

    def notification(self, trade: Trade, *, key: KeyPair = ALIPAY, **changes) -> dict[str, str]:
        """A signed asynchronous notification about ``trade``. ``changes`` replace fields
        before signing (``None`` drops one); ``key`` signs."""
        amount = f"{trade.amount:.2f}"
        now = dt.datetime.now(CHINA)
        fields = {
            "notify_time": _at(now),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "charset": "utf-8",
            "version": "1.0",
            "app_id": APP_ID,
            "auth_app_id": APP_ID,
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "seller_id": SELLER_ID,
            "buyer_id": "2088102177846880",
            "buyer_logon_id": "159****5620",
            "trade_status": trade.status,
            "total_amount": amount,
            "receipt_amount": amount,
            "buyer_pay_amount": amount,
            "invoice_amount": amount,
            "point_amount": "0.00",
            "subject": trade.subject,
            "gmt_create": _at(trade.created_at),
            "gmt_payment": _at(trade.paid_at or now),
            "fund_bill_list": json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]),
        }
        for name, value in changes.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        fields["sign"] = key.sign(signed_text(fields, leave_out=("sign", "sign_type")))
        return fields

    # --- the API ------------------------------------------------------------------------

    def _respond(self, request: Recorded) -> Answer:
        url = urlsplit(request.path)
        if url.path.startswith("/bill/"):
            return self._bill_file(dt.date.fromisoformat(url.path.removeprefix("/bill/")[:10]))
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if request.method == "POST" and request.body:  # the SDK sends GET; Alipay takes both
            params |= dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if not APP.verifies(signed_text(params), params.get("sign", "")):
            return self._unsigned_error("isv.invalid-signature", "验签出错")
        if params.get("app_id") != APP_ID:
            return self._unsigned_error("isv.invalid-app-id", "无效的AppID参数")
        method = params.get("method", "")
        biz = json.loads(params.get("biz_content") or "{}")
        if method == "alipay.trade.wap.pay":  # the browser, not an API call
            return self._checkout_page(params, biz)
        self.calls.append({"method": method, "params": params, "biz": biz})
        if self.bad_day is not None:
            return self.bad_day
        if method in self.fail_calls:
            return self.fail_calls[method]
        handler = {
            "alipay.trade.query": self._query,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
        }.get(method)
        if handler is None:
            return self._unsigned_error("isv.invalid-method", "不存在的方法名")
        answer = signed_answer(method.replace(".", "_") + "_response", handler(biz))
        return self.lose_answers.get(method, answer)

    @staticmethod
    def _unsigned_error(sub_code: str, sub_msg: str) -> Answer:
        body = {
            "error_response": {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": sub_code,
                "sub_msg": sub_msg,
            }
        }
        return Answer(200, body)

    def _checkout_page(self, params: dict, biz: dict) -> Answer:
        self.trades.setdefault(
            biz["out_trade_no"],
            Trade(
                out_trade_no=biz["out_trade_no"],
                trade_no=f"2026{secrets.randbelow(10**24):024d}",
                amount=Decimal(biz["total_amount"]),
                subject=biz["subject"],
            ),
        )
        page = "<html><body>支付宝 收银台</body></html>".encode()
        return Answer(200, page, {"Content-Type": "text/html; charset=utf-8"})

    @staticmethod
    def _business_failure(sub_code: str, sub_msg: str) -> dict:
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _query(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        amount = f"{trade.amount:.2f}"
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "159****5620",
            "trade_status": trade.status,
            "total_amount": amount,
            "receipt_amount": amount if trade.paid_at else "0.00",
            "send_pay_date": _at(trade.paid_at) if trade.paid_at else "",
            "fund_bill_list": [{"amount": amount, "fund_channel": "ALIPAYACCOUNT"}],
        }

    def _refund(self, biz: dict) -> dict:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if self.refuse_refunds:
            return self._business_failure(*self.refuse_refunds)
        amount = Decimal(biz["refund_amount"])
        number = biz.get("out_request_no") or trade.out_trade_no
        done = trade.refunds.get(number)
        if done is not None and done[0] != amount:
            return self._business_failure("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额不一致")
        if done is None:  # the same out_request_no again is the same refund: no money moves
            if trade.status not in ("TRADE_SUCCESS",):
                return self._business_failure("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if trade.refunded + amount > trade.amount:
                return self._business_failure("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade.refunds[number] = (amount, dt.datetime.now(CHINA))
            if trade.refunded == trade.amount:
                trade.status = "TRADE_CLOSED"
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "159****5620",
            "fund_change": "N" if done else "Y",
            "refund_fee": f"{trade.refunded:.2f}",
        }

    def _refund_query(self, biz: dict) -> dict:
        """Code 10000 only says the query worked: refund data, or none when never made."""
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        number = biz["out_request_no"]
        found = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "out_request_no": number,
        }
        if number not in trade.refunds:
            return found
        amount, at = trade.refunds[number]
        return found | {
            "total_amount": f"{trade.amount:.2f}",
            "refund_amount": f"{amount:.2f}",
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": _at(at),
        }

    def _bill_url(self, biz: dict) -> dict:
        if biz.get("bill_type") != "trade":
            return self._business_failure("isp.bill_type_error", "账单类型错误")
        url = f"{self.server.url}/bill/{biz['bill_date']}.csv.zip?token={secrets.token_hex(8)}"
        return {"code": "10000", "msg": "Success", "bill_download_url": url}

    # --- the statement file ----------------------------------------------------------------

    def statement_rows(self, day: dt.date) -> list[list[str]]:
        """The detail rows of ``day``, in Alipay's columns (see ``HEADER``)."""
        rows = []
        for trade in self.trades.values():
            if trade.paid_at and trade.paid_at.astimezone(CHINA).date() == day:
                amount = f"{trade.amount:.2f}"
                rows.append(_row(trade, "交易", _at(trade.paid_at), amount, ""))
                if trade.out_trade_no in self.charged_twice:  # a second trade, same order
                    twice = dataclasses.replace(trade, trade_no=f"{trade.trade_no}9")
                    rows.append(_row(twice, "交易", _at(trade.paid_at), amount, ""))
            for number, (refunded, at) in trade.refunds.items():
                if at.astimezone(CHINA).date() == day:
                    rows.append(_row(trade, "退款", _at(at), f"-{refunded:.2f}", number))
        return rows

    def _bill_file(self, day: dt.date) -> Answer:
        rows = self.statement_rows(day)
        body = statement_zip(day, rows)
        return Answer(200, body, {"Content-Type": "application/octet-stream"})


HEADER = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
]


def _row(trade: Trade, kind: str, at: str, amount: str, refund_no: str) -> list[str]:
    cells = dict.fromkeys(HEADER, "")
    cells |= {
        "支付宝交易号": trade.trade_no,
        "商户订单号": trade.out_trade_no,
        "业务类型": kind,
        "商品名称": trade.subject,
        "创建时间": _at(trade.created_at),
        "完成时间": at,
        "对方账户": "159****5620",
        "订单金额（元）": amount,
        "商家实收（元）": amount,
        "退款批次号/请求号": refund_no,
        "服务费（元）": "0.00",
    }
    # Alipay pads cells with a tab (so that spreadsheets keep long numbers as text).
    return [f"{cells[name]}\t" if cells[name] else cells[name] for name in HEADER]


def statement_csv(day: dt.date, rows: list[list[str]]) -> str:
    """The detail file as Alipay writes it: ``#`` lines around the table."""
    start, end = day.strftime("%Y年%m月%d日"), (day + dt.timedelta(days=1)).strftime("%Y年%m月%d日")
    lines = [
        "#支付宝业务明细查询",
        f"#账号：[{SELLER_ID}0156]",
        f"#起始日期：[{start} 00:00:00]   终止日期：[{end} 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ",".join(HEADER),
        *(",".join(row) for row in rows),
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{sum(r[2].strip() == '交易' for r in rows)}笔",
        f"#退款合计：{sum(r[2].strip() == '退款' for r in rows)}笔",
        f"#导出时间：[{dt.datetime.now(CHINA):%Y年%m月%d日 %H:%M:%S}]",
    ]
    return "\r\n".join(lines) + "\r\n"


class _GbkName(zipfile.ZipInfo):
    """A zip member named in GBK without the UTF-8 flag, as Alipay's zips are."""

    def _encodeFilenameFlags(self):  # zipfile's private hook: writes the name as given
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def statement_zip(day: dt.date, rows: list[list[str]], *, gbk_names: bool = True) -> bytes:
    """Alipay's statement download: the details and a summary, both GBK CSV."""
    stem = f"{SELLER_ID}0156_{day:%Y%m%d}"
    files = {
        f"{stem}_业务明细.csv": statement_csv(day, rows),
        f"{stem}_业务明细(汇总).csv": "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数\r\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            member = _GbkName(name) if gbk_names else zipfile.ZipInfo(name)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, text.encode("gbk"))
    return buffer.getvalue()


def signed_answer(response_type: str, content: dict, *, key: KeyPair = ALIPAY) -> Answer:
    """A synchronous answer as Alipay writes it: the signature covers the exact text of the
    ``<method>_response`` object, which the SDK cuts out of the raw body to verify."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    body = f'{{"{response_type}":{text},"sign":"{key.sign(text)}"}}'
    return Answer(200, body.encode(), {"Content-Type": "application/json;charset=utf-8"})
