"""A patient paying through the pages: shared by the payment tests."""

import re

from billing.models import Payment
from notifications.models import SmsMessage


def sent_code() -> str:
    sms = SmsMessage.objects.filter(template="verification_code").order_by("-pk").first()
    return re.search(r"\b(\d{6})\b", sms.body).group(1)


def start(client, link) -> Payment:
    response = client.post(f"/p/{link.token}/pay/", {"channel": "sandbox"})
    assert response.status_code == 302
    payment = Payment.objects.latest("pk")
    assert response["Location"] == f"/pay/sandbox/{payment.out_trade_no}/"
    return payment


def press(client, payment, outcome: str):
    """The patient presses a button on the sandbox's checkout page."""
    return client.post(f"/pay/sandbox/{payment.out_trade_no}/", {"outcome": outcome})
