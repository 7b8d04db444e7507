"""The sandbox channel: a built-in checkout page (pay / fail / cancel) whose buttons post an
HMAC-signed notification to ``/pay/notify/sandbox/``, as a real channel would. The default
for ``make run`` and the tests."""

import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.urls import reverse

from billing.gateways import ForgedNotification, Notification
from billing.models import PaymentStatus

STATUS_WORDS = {  # the sandbox's words -> ours
    "PAID": PaymentStatus.SUCCEEDED,
    "FAILED": PaymentStatus.FAILED,
    "CLOSED": PaymentStatus.CANCELLED,
}
SIGNED_FIELDS = ("out_trade_no", "trade_no", "amount", "trade_status")


def _secret() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"sandbox-gateway", hashlib.sha256).digest()


def sign(fields: dict) -> str:
    message = "&".join(f"{name}={fields[name]}" for name in SIGNED_FIELDS).encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


class SandboxGateway:
    channel = "sandbox"

    def checkout_url(self, payment) -> str:
        return reverse("pay:sandbox", args=[payment.out_trade_no])

    def checkout_forms(self, payment) -> list[dict]:
        """The signed notification behind each button of the checkout page."""
        trade_no = f"SB{secrets.token_hex(10)}"
        forms = []
        for word in STATUS_WORDS:
            fields = {
                "out_trade_no": payment.out_trade_no,
                "trade_no": trade_no,
                "amount": f"{payment.amount:.2f}",
                "trade_status": word,
            }
            forms.append({**fields, "sign": sign(fields)})
        return forms

    def parse_notification(self, data) -> Notification:
        try:
            fields = {name: str(data[name]) for name in SIGNED_FIELDS}
            signature = str(data["sign"])
        except KeyError as missing:
            raise ForgedNotification(f"missing {missing}") from None
        if not hmac.compare_digest(signature, sign(fields)):
            raise ForgedNotification("bad signature")
        if fields["trade_status"] not in STATUS_WORDS:
            raise ForgedNotification(f"unknown status {fields['trade_status']!r}")
        try:
            amount = Decimal(fields["amount"])
        except InvalidOperation:
            raise ForgedNotification("bad amount") from None
        return Notification(
            out_trade_no=fields["out_trade_no"],
            gateway_trade_no=fields["trade_no"],
            amount=amount,
            status=STATUS_WORDS[fields["trade_status"]],
            raw=fields,
        )
