"""The sandbox channel: a built-in checkout page (pay / fail / cancel) that plays a payment
channel, the default for ``make run`` and the tests. It keeps its own books
(``SandboxTrade``, ``SandboxRefund``), so query, refund and the day's statement work as they
do at a real channel, and its notifications are HMAC-signed and verified like one's.

Switches play a channel's bad days: ``SANDBOX_REFUNDS_FAIL`` (refunds are refused),
``SANDBOX_UNREACHABLE`` (every call fails as a network error would) and
``SANDBOX_REFUNDS_TIME_OUT``: a refund call times out ``before`` the sandbox made the refund,
or ``after`` it (the answer is lost on the way back); asking about the refund then
(``refund_query``) answers from the books unless the sandbox is unreachable.
"""

import datetime as dt
import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import PaymentStatus, SandboxRefund, SandboxTrade
from billing.payments.gateways import (
    BaseGateway,
    ForgedNotification,
    GatewayError,
    Notification,
    RefundResult,
    StatementLine,
)
from creditcare.money import money_sum

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


def _signed(trade: SandboxTrade, word: str) -> dict:
    fields = {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "amount": f"{trade.amount:.2f}",
        "trade_status": word,
    }
    return {**fields, "sign": sign(fields)}


def _reachable() -> None:
    if settings.SANDBOX_UNREACHABLE:
        raise GatewayError("sandbox channel unreachable (SANDBOX_UNREACHABLE)")


def _timed_out(when: str) -> None:
    if when == settings.SANDBOX_REFUNDS_TIME_OUT:
        raise GatewayError(
            f"sandbox refund timed out {when} it was made (SANDBOX_REFUNDS_TIME_OUT)"
        )


class SandboxGateway(BaseGateway):
    channel = "sandbox"
    label = _("Pay (test channel)")
    name = _("test channel")

    # --- the channel's side: what its checkout page does ---------------------------------

    def checkout_url(self, payment) -> str:
        return reverse("pay:sandbox", args=[payment.out_trade_no])

    def checkout(self, payment, word: str) -> dict:
        """The patient pressed a button on the checkout page: record the outcome in the
        sandbox's books and return the signed notification the channel sends about it. A
        trade once paid stays paid (a channel does not take the money back by itself)."""
        if word not in STATUS_WORDS:
            raise ValueError(word)
        with transaction.atomic():
            trade, _created = SandboxTrade.objects.select_for_update().get_or_create(
                out_trade_no=payment.out_trade_no,
                defaults={
                    "trade_no": f"SB{secrets.token_hex(10)}",
                    "amount": payment.amount,
                    "status": word,
                },
            )
            if trade.status != "PAID" and trade.status != word:
                trade.status = word
                trade.save(update_fields=["status"])
        return _signed(trade, word)

    # --- our side: the gateway interface ---------------------------------------------------

    def parse_notification(self, request) -> Notification:
        return self.parse_fields(request.POST)

    def parse_fields(self, data) -> Notification:
        """Verify the sandbox's signed fields (from its HTTP notification or its page)."""
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

    def query(self, payment) -> Notification | None:
        _reachable()
        trade = SandboxTrade.objects.filter(out_trade_no=payment.out_trade_no).first()
        if trade is None:
            return None  # the patient has not finished at the checkout (or never came)
        return self.parse_fields(_signed(trade, trade.status))

    def refund(self, refund) -> RefundResult:
        _reachable()
        _timed_out("before")
        if settings.SANDBOX_REFUNDS_FAIL:
            return RefundResult(succeeded=False, error="refused (SANDBOX_REFUNDS_FAIL)")
        with transaction.atomic():
            trade = (
                SandboxTrade.objects.select_for_update()
                .filter(out_trade_no=refund.payment.out_trade_no, status="PAID")
                .first()
            )
            if trade is None:
                return RefundResult(succeeded=False, error="no paid trade to refund")
            done = SandboxRefund.objects.filter(out_refund_no=refund.out_refund_no).first()
            if done is None:  # new (the same refund asked again gets the same answer)
                refunded = money_sum(trade.refunds, "amount")
                if refunded + refund.amount > trade.amount:
                    return RefundResult(succeeded=False, error="refund exceeds what was paid")
                try:
                    done = SandboxRefund.objects.create(
                        trade=trade,
                        out_refund_no=refund.out_refund_no,
                        refund_no=f"SR{secrets.token_hex(10)}",
                        amount=refund.amount,
                    )
                except IntegrityError:
                    raise GatewayError("refund number collision at the sandbox") from None
        _timed_out("after")  # made and in the books; only the answer is lost
        return RefundResult(succeeded=True, gateway_refund_no=done.refund_no)

    def refund_query(self, refund) -> RefundResult | None:
        _reachable()
        done = (
            SandboxRefund.objects.select_related("trade")
            .filter(out_refund_no=refund.out_refund_no)
            .first()
        )
        if done is None:
            return None  # never made: the books would have it
        if done.trade.out_trade_no != refund.payment.out_trade_no or done.amount != refund.amount:
            raise GatewayError(f"the sandbox's refund {done.refund_no} is not this one")
        return RefundResult(succeeded=True, gateway_refund_no=done.refund_no)

    def statement(self, day: dt.date) -> list[StatementLine]:
        _reachable()
        tz = timezone.get_default_timezone()
        start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        within = {"created_at__gte": start, "created_at__lt": start + dt.timedelta(days=1)}
        lines = [
            StatementLine("payment", t.out_trade_no, t.trade_no, t.amount, t.created_at)
            for t in SandboxTrade.objects.filter(status="PAID", **within).order_by("pk")
        ]
        lines += [
            StatementLine(
                "refund",
                r.trade.out_trade_no,
                r.trade.trade_no,
                r.amount,
                r.created_at,
                out_refund_no=r.out_refund_no,
            )
            for r in SandboxRefund.objects.filter(**within).select_related("trade").order_by("pk")
        ]
        return lines
