"""Payment gateways behind one interface. Channel status words are mapped to ours here, at
the edge; everything above speaks ``PaymentStatus``.

A gateway (see ``Gateway``):
* ``checkout_url(payment)``: where to send the patient to pay;
* ``parse_notification(data)``: verify an asynchronous notification and return it, or raise
  ``ForgedNotification``;
* ``query(payment)``: what the channel knows of a payment (``None``: nothing yet);
* ``refund(refund)``: give money back; the same ``out_refund_no`` again is the same refund;
* ``statement(day)``: the channel's record of a day (China time), for reconciliation.

Network trouble is ``GatewayError`` (try again later); a channel's "no" is an answer.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

GATEWAYS = {"sandbox": "billing.gateways.sandbox.SandboxGateway"}


class ForgedNotification(Exception):
    """The notification's signature or content does not check out: log it, change nothing."""


class GatewayError(Exception):
    """The channel could not be reached or did not answer sensibly: try again later."""


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    status: str  # a PaymentStatus value
    raw: dict


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    gateway_refund_no: str = ""
    error: str = ""  # the channel's reason when it refused


@dataclass(frozen=True)
class StatementLine:
    kind: str  # "payment" or "refund"
    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    at: dt.datetime
    out_refund_no: str = ""


class Gateway(Protocol):
    channel: str

    def checkout_url(self, payment) -> str: ...

    def parse_notification(self, data) -> Notification: ...

    def query(self, payment) -> Notification | None: ...

    def refund(self, refund) -> RefundResult: ...

    def statement(self, day: dt.date) -> list[StatementLine]: ...


def get_gateway(channel: str, *, for_new_payments: bool = False) -> Gateway:
    """The gateway of a channel we know. Only channels in ``PAYMENT_CHANNELS`` take new
    payments; a channel switched off still answers for the payments it already took."""
    if channel not in GATEWAYS or (for_new_payments and channel not in settings.PAYMENT_CHANNELS):
        raise KeyError(channel)
    return import_string(GATEWAYS[channel])()
