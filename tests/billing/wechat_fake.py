"""WeChat Pay's side, played by a local HTTP server (``tests.fake_http.FakeServer``) and
reached through the real ``wechatpayv3`` SDK: it checks the merchant's request signatures,
keeps its own books (orders, refunds), signs its answers with the "platform" private key
as WeChat does, builds notifications as WeChat sends them (resource encrypted with
AES-256-GCM under the APIv3 key, body signed over ``timestamp\\nnonce\\nbody\\n``) and serves
the day's trade bill (a gzipped CSV, every value prefixed with a backtick)."""

import base64
import datetime as dt
import functools
import gzip
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from tests.fake_http import Answer, FakeServer, Recorded

MCHID = "1900000109"
APPID = "wx2421b1c4370ec43b"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_TEST"
BILL_COLUMNS = tuple(  # a trade bill's (ALL) columns, in WeChat's order
    [
        "交易时间",
        "公众账号ID",
        "商户号",
        "特约商户号",
        "设备号",
        "微信订单号",
        "商户订单号",
        "用户标识",
        "交易类型",
        "交易状态",
        "付款银行",
        "货币种类",
        "应结订单金额",
        "代金券金额",
        "微信退款单号",
        "商户退款单号",
        "退款金额",
        "充值券退款金额",
        "退款类型",
        "退款状态",
        "商品名称",
        "商户数据包",
        "手续费",
        "费率",
        "订单金额",
        "申请退款金额",
        "费率备注",
    ]
)


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A fresh 2048-bit key per name, made once per test run (they take a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # as WeChat's apiclient_key.pem
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _fen(yuan: int) -> str:
    return f"{yuan / 100:.2f}"


@dataclass
class Trade:
    order: dict  # what the merchant sent
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: dt.datetime | None = None


@dataclass
class WechatPayFake:
    server: FakeServer
    merchant_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa_key("merchant"))
    platform_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa_key("platform"))
    apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16))  # 32 bytes
    trades: dict[str, Trade] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    bills: dict[str, bytes] = field(default_factory=dict)
    # The channel's bad days: the status a new refund gets, or an error answer to calls.
    refund_status: str = "SUCCESS"
    refuse: dict[str, Answer] = field(default_factory=dict)  # route name -> answer
    # Route name -> answer sent after acting all the same: the real answer lost on its way.
    lose_answers: dict[str, Answer] = field(default_factory=dict)
    sign_answers_with: rsa.RSAPrivateKey | None = None  # a forger's key, to test checks

    def __post_init__(self) -> None:
        self.server.respond = self.respond

    def settings(self) -> dict:
        return {
            "WECHAT_MCHID": MCHID,
            "WECHAT_APPID": APPID,
            "WECHAT_PRIVATE_KEY": private_pem(self.merchant_key),
            "WECHAT_CERT_SERIAL_NO": MERCHANT_SERIAL,
            "WECHAT_APIV3_KEY": self.apiv3_key,
            "WECHAT_PUBLIC_KEY": public_pem(self.platform_key),
            "WECHAT_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
            "WECHAT_API_BASE_URL": self.server.url,
        }

    # --- what arrived ------------------------------------------------------------------------

    def authorized(self, request: Recorded) -> bool:
        """Does the request's Authorization verify with the merchant's public key?"""
        header = request.headers.get("Authorization", "")
        scheme, _, params = header.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if scheme != "WECHATPAY2-SHA256-RSA2048" or fields.get("mchid") != MCHID:
            return False
        if fields.get("serial_no") != MERCHANT_SERIAL:
            return False
        message = (
            f"{request.method}\n{request.path}\n{fields.get('timestamp')}\n"
            f"{fields.get('nonce_str')}\n{request.body.decode()}\n"
        )
        try:
            self.merchant_key.public_key().verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def calls(self, route: str) -> list[Recorded]:
        return [r for r in self.server.requests if self._route(r)[0] == route]

    # --- WeChat's answers --------------------------------------------------------------------

    def _route(self, request: Recorded) -> tuple[str, str]:
        path = urlsplit(request.path).path
        if request.method == "POST" and path == "/v3/pay/transactions/h5":
            return "h5", ""
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path):
            return "close", match[1]
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path):
            return "query", match[1]
        if request.method == "POST" and path == "/v3/refund/domestic/refunds":
            return "refund", ""
        if match := re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path):
            return "refund_query", match[1]
        if path == "/v3/bill/tradebill":
            return "tradebill", ""
        if path == "/v3/billdownload/file":
            return "download", ""
        return "unknown", ""

    def signed(self, status: int, body: dict | None = None) -> Answer:
        """An answer signed as WeChat signs its answers (204s too, over an empty body)."""
        text = json.dumps(body) if body is not None else ""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        key = self.sign_answers_with or self.platform_key
        return Answer(
            status,
            text.encode(),
            {
                "Content-Type": "application/json",
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": PUBLIC_KEY_ID,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{nonce}\n{text}\n"),
            },
        )

    def error(self, status: int, code: str, message: str = "") -> Answer:
        return Answer(status, {"code": code, "message": message or code})  # errors: unsigned

    def respond(self, request: Recorded) -> Answer:
        route, number = self._route(request)
        if not self.authorized(request):
            return self.error(401, "SIGN_ERROR")
        if route in self.refuse:
            return self.refuse[route]
        handler = getattr(self, f"_{route}", None)
        answer = handler(request, number) if handler else self.error(404, "NOT_FOUND")
        return self.lose_answers.get(route, answer)

    def _h5(self, request: Recorded, _number: str) -> Answer:
        order = request.json()
        self.trades.setdefault(order["out_trade_no"], Trade(order))
        prepay_id = f"wx{secrets.token_hex(14)}"
        return self.signed(200, {"h5_url": f"{self.server.url}/h5pay?prepay_id={prepay_id}"})

    def trade(self, out_trade_no: str) -> dict:
        """The transaction as WeChat describes it (notification resource, query answer)."""
        trade = self.trades[out_trade_no]
        total = trade.order["amount"]["total"]
        found = {
            "appid": trade.order["appid"],
            "mchid": trade.order["mchid"],
            "out_trade_no": out_trade_no,
            "trade_type": "MWEB",
            "trade_state": trade.state,
            "trade_state_desc": trade.state,
            "amount": {"total": total, "currency": "CNY"},
        }
        if trade.transaction_id:
            found["transaction_id"] = trade.transaction_id
            found["amount"] |= {"payer_total": total, "payer_currency": "CNY"}
            found["payer"] = {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
        if trade.success_time:
            found["success_time"] = trade.success_time.isoformat(timespec="seconds")
        return found

    def _query(self, request: Recorded, out_trade_no: str) -> Answer:
        if parse_qs(urlsplit(request.path).query).get("mchid") != [MCHID]:
            return self.error(400, "PARAM_ERROR")
        if out_trade_no not in self.trades:
            return self.error(404, "ORDER_NOT_EXIST", "订单不存在")
        return self.signed(200, self.trade(out_trade_no))

    def _close(self, _request: Recorded, out_trade_no: str) -> Answer:
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self.error(404, "ORDER_NOT_EXIST")
        if trade.state == "SUCCESS":
            return self.error(400, "ORDERPAID", "订单已支付")
        trade.state = "CLOSED"
        return self.signed(204)

    def _refund(self, request: Recorded, _number: str) -> Answer:
        asked = request.json()
        trade = self.trades.get(asked.get("out_trade_no", ""))
        if trade is None or trade.state != "SUCCESS":
            return self.error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        done = self.refunds.get(asked["out_refund_no"])
        if done is None:  # the same out_refund_no again is the same refund
            given = sum(
                r["amount"]["refund"]
                for r in self.refunds.values()
                if r["out_trade_no"] == asked["out_trade_no"]
            )
            if given + asked["amount"]["refund"] > trade.order["amount"]["total"]:
                return self.error(400, "INVALID_REQUEST", "退款金额超过订单可退金额")
            done = self.refunds[asked["out_refund_no"]] = {
                "refund_id": f"50000{secrets.randbelow(10**20):020d}",
                "out_refund_no": asked["out_refund_no"],
                "transaction_id": trade.transaction_id,
                "out_trade_no": asked["out_trade_no"],
                "channel": "ORIGINAL",
                "status": self.refund_status,
                "create_time": timezone.localtime().isoformat(timespec="seconds"),
                "success_time": timezone.localtime().isoformat(timespec="seconds"),
                "amount": {**asked["amount"], "payer_refund": asked["amount"]["refund"]},
            }
        return self.signed(200, done)

    def _refund_query(self, _request: Recorded, out_refund_no: str) -> Answer:
        if out_refund_no not in self.refunds:
            return self.error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self.signed(200, self.refunds[out_refund_no])

    def bill_csv(self, day: dt.date) -> str:
        """The day's trade bill (ALL) as WeChat writes it."""

        def row(**values: str) -> str:
            return ",".join(f"`{values.get(name, '')}" for name in BILL_COLUMNS)

        rows = []
        for no, trade in self.trades.items():
            at = trade.success_time
            if trade.state != "SUCCESS" or at is None or timezone.localdate(at) != day:
                continue
            total = _fen(trade.order["amount"]["total"])
            rows.append(
                row(
                    交易时间=timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S"),
                    公众账号ID=APPID,
                    商户号=MCHID,
                    微信订单号=trade.transaction_id,
                    商户订单号=no,
                    交易类型="MWEB",
                    交易状态="SUCCESS",
                    货币种类="CNY",
                    应结订单金额=total,
                    代金券金额="0.00",
                    退款金额="0.00",
                    订单金额=total,
                    申请退款金额="0.00",
                    商品名称=trade.order["description"],
                )
            )
        for refund in self.refunds.values():
            at = dt.datetime.fromisoformat(refund["success_time"])
            if timezone.localdate(at) != day or refund["status"] not in ("SUCCESS", "PROCESSING"):
                continue
            rows.append(
                row(
                    交易时间=at.strftime("%Y-%m-%d %H:%M:%S"),
                    公众账号ID=APPID,
                    商户号=MCHID,
                    微信订单号=refund["transaction_id"],
                    商户订单号=refund["out_trade_no"],
                    交易状态="REFUND",
                    货币种类="CNY",
                    应结订单金额="0.00",
                    微信退款单号=refund["refund_id"],
                    商户退款单号=refund["out_refund_no"],
                    退款金额=_fen(refund["amount"]["refund"]),
                    退款类型="ORIGINAL",
                    退款状态="SUCCESS",
                    订单金额="0.00",
                    申请退款金额=_fen(refund["amount"]["refund"]),
                )
            )
        summary = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额"
        return "\r\n".join([",".join(BILL_COLUMNS), *rows, summary, f"`{len(rows)},`0,`0,`0,`0,`0"])

    def _tradebill(self, request: Recorded, _number: str) -> Answer:
        query = parse_qs(urlsplit(request.path).query)
        day = dt.date.fromisoformat(query["bill_date"][0])
        if query.get("bill_type") != ["ALL"]:
            return self.error(400, "PARAM_ERROR")
        text = self.bill_csv(day)
        if text.count("\r\n") <= 2:  # header and summary only
            return self.error(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        token = secrets.token_hex(8)
        self.bills[token] = gzip.compress(text.encode())
        return self.signed(
            200,
            {
                "download_url": f"{self.server.url}/v3/billdownload/file?token={token}",
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(text.encode()).hexdigest(),
            },
        )

    def _download(self, request: Recorded, _number: str) -> Answer:
        token = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        if token not in self.bills:
            return self.error(404, "NOT_FOUND")
        # The file itself is not signed: its digest is in the signed bill answer.
        return Answer(200, self.bills[token], {"Content-Type": "application/octet-stream"})

    # --- the patient at WeChat's checkout, and WeChat's notification --------------------------

    def pay(self, out_trade_no: str, state: str = "SUCCESS") -> None:
        trade = self.trades[out_trade_no]
        trade.state = state
        if state in ("SUCCESS", "PAYERROR"):
            trade.transaction_id = f"42000{secrets.randbelow(10**23):023d}"
        if state == "SUCCESS":
            trade.success_time = timezone.localtime()

    def notification(
        self,
        out_trade_no: str,
        *,
        resource: dict | None = None,
        event_type: str = "TRANSACTION.SUCCESS",
        sign_with: rsa.RSAPrivateKey | None = None,
        apiv3_key: str | None = None,
        timestamp: int | None = None,
        serial: str = PUBLIC_KEY_ID,
    ) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of the notification WeChat sends about a trade; the keyword
        arguments play a forger or a replay."""
        plain = json.dumps({**self.trade(out_trade_no), **(resource or {})}, ensure_ascii=False)
        nonce, associated = secrets.token_hex(6), "transaction"
        key = (apiv3_key or self.apiv3_key).encode()
        ciphertext = AESGCM(key).encrypt(nonce.encode(), plain.encode(), associated.encode())
        body = json.dumps(
            {
                "id": f"EV-{secrets.token_hex(8)}",
                "create_time": timezone.localtime().isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        sent_at, sign_nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        signature = rsa_sign(sign_with or self.platform_key, f"{sent_at}\n{sign_nonce}\n{body}\n")
        return body.encode(), {
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": sent_at,
            "Wechatpay-Nonce": sign_nonce,
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
