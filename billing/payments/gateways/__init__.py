"""Payment gateways behind one interface. Channel status words are mapped to ours here, at
the edge; everything above speaks ``PaymentStatus``.

A gateway (see ``Gateway``; ``BaseGateway`` has the common parts):
* ``label`` and ``configured()``: what the patient sees, and whether settings allow its use;
* ``checkout_url(payment)``: where to send the patient to pay; ``checkout_origins()``: the
  origins the patient's browser goes through from there (the bill page's
  Content-Security-Policy lets its forms lead there);
* ``parse_notification(request)``: verify an asynchronous notification (the HTTP request
  the channel sent to ``/pay/notify/<channel>/``) and return it, or raise
  ``ForgedNotification``; ``acknowledge()`` / ``refuse(reason)`` answer the channel;
* ``query(payment)``: what the channel knows of a payment (``None``: nothing yet);
* ``refund(refund)``: give money back; the same ``out_refund_no`` again is the same refund;
* ``refund_query(refund)``: did the channel make the refund numbered ``out_refund_no``?
  ``RefundResult(succeeded=True)``: made; ``None``: never made; ``succeeded=False``: it
  failed or was closed there (the money is not back); ``GatewayError``: it cannot tell.
  Asked when every ``refund`` call went unanswered: a lost answer may hide a refund made,
  so only one the channel says is not made may go to a window to be paid out;
* ``statement(day)``: the channel's record of a day (China time), for reconciliation.

Network trouble is ``GatewayError`` (try again later); a channel's "no" is an answer.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

WINDOW_CHANNEL = "window"  # payments taken at a hospital window: no gateway, no statement

GATEWAYS = {
    "sandbox": "billing.payments.gateways.sandbox.SandboxGateway",
    "alipay": "billing.payments.gateways.alipay.AlipayGateway",
    "wechat": "billing.payments.gateways.wechat.WechatGateway",
}


class ForgedNotification(Exception):
    """The notification's signature or content does not check out: log it, change nothing."""


class NotificationIgnored(Exception):
    """A genuine notification that asks nothing of us (e.g. WeChat's refund events): it is
    acknowledged so the channel stops re-sending, and changes nothing."""


class GatewayError(Exception):
    """The channel could not be reached or did not answer sensibly: try again later."""


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    gateway_trade_no: str
    amount: Decimal
    status: str  # a PaymentStatus value
    raw: dict
    paid_at: dt.datetime | None = None  # when the channel took the money, if it says (statements)


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    gateway_refund_no: str = ""
    error: str = ""  # the channel's reason when it refused (or never made it)


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
    label: str

    def configured(self) -> bool: ...

    def checkout_url(self, payment) -> str: ...

    def checkout_origins(self) -> list[str]: ...

    def parse_notification(self, request: HttpRequest) -> Notification: ...

    def acknowledge(self) -> HttpResponse: ...

    def refuse(self, reason: str) -> HttpResponse: ...

    def query(self, payment) -> Notification | None: ...

    def refund(self, refund) -> RefundResult: ...

    def refund_query(self, refund) -> RefundResult | None: ...

    def statement(self, day: dt.date) -> list[StatementLine]: ...


class BaseGateway:
    """What channels share: the answers to a notification (Alipay's words by default)."""

    channel = ""
    label = ""  # the patient's button
    name = ""  # the channel itself, as a sentence names it (a refund's SMS)

    def configured(self) -> bool:
        return True

    def checkout_origins(self) -> list[str]:
        return []  # a checkout of our own

    def acknowledge(self) -> HttpResponse:
        return HttpResponse("success", content_type="text/plain")

    def refuse(self, reason: str) -> HttpResponse:
        return HttpResponse("fail", status=400, content_type="text/plain")


def get_gateway(channel: str, *, for_new_payments: bool = False) -> Gateway:
    """The gateway of a channel we know. Only channels in ``PAYMENT_CHANNELS`` and configured
    take new payments; a channel switched off still answers for the payments it took. The
    sandbox (play money) is not there at all unless ``SANDBOX_ENABLED``."""
    if channel not in GATEWAYS or (channel == "sandbox" and not settings.SANDBOX_ENABLED):
        raise KeyError(channel)
    gateway = import_string(GATEWAYS[channel])()
    if for_new_payments and (channel not in settings.PAYMENT_CHANNELS or not gateway.configured()):
        raise KeyError(channel)
    return gateway


def channel_name(channel: str) -> str:
    """How staff screens name a channel ("test channel", "Alipay", the window); the code if
    unknown."""
    if channel in GATEWAYS:
        return str(import_string(GATEWAYS[channel]).name)
    return str(_("hospital window")) if channel == WINDOW_CHANNEL else channel


def channels_offered() -> list[tuple[str, str]]:
    """``[(channel, label)]`` the patient may choose, in the hospital's order."""
    offered = []
    for channel in settings.PAYMENT_CHANNELS:
        try:
            offered.append((channel, get_gateway(channel, for_new_payments=True).label))
        except KeyError:
            continue
    return offered
