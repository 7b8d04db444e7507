from decimal import Decimal

from django import template

from billing.payments import gateways

register = template.Library()


@register.filter
def unit_price(value: Decimal) -> str:
    """``25.5000`` -> ``25.50``, ``0.0325`` -> ``0.0325``: cents always, more only if used."""
    text = f"{Decimal(value):.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


@register.filter
def channel_name(channel: str) -> str:
    """How a payment's channel is named on a page (``gateways.channel_name``)."""
    return gateways.channel_name(channel)
