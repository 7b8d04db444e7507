"""Payment gateways behind one interface. Channel status words are mapped to ours here, at
the edge; everything above speaks ``PaymentStatus``.

A gateway:
* ``checkout_url(payment)``: where to send the patient to pay;
* ``parse_notification(data)``: verify an asynchronous notification and return it, or raise
  ``ForgedNotification``.

Refunds, queries and statements come with the real channels (the next issue).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string

GATEWAYS = {"sandbox": "billing.gateways.sandbox.SandboxGateway"}


class ForgedNotification(Exception):
    """The notification's signature or content does not check out: log it, change nothing."""


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    status: str  # a PaymentStatus value
    raw: dict


def get_gateway(channel: str):
    if channel not in settings.PAYMENT_CHANNELS or channel not in GATEWAYS:
        raise KeyError(channel)
    return import_string(GATEWAYS[channel])()
