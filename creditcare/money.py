"""Money is Decimal with 2 places (CNY). Every rounding goes through here."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
YUAN = Decimal("1")
ZERO = Decimal("0.00")


def quantize(amount: Decimal) -> Decimal:
    """Round to cents, half up (the convention of Chinese hospital billing)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def floor_to_yuan(amount: Decimal) -> Decimal:
    """Credit limits are whole yuan, rounded down so a limit never grows by rounding."""
    return Decimal(amount).quantize(YUAN, rounding=ROUND_DOWN).quantize(CENT)


def money_sum(queryset, field: str) -> Decimal:
    """SUM of a money column, in cents (zero for no rows)."""
    from django.db.models import Sum

    return quantize(queryset.aggregate(total=Sum(field))["total"] or ZERO)
