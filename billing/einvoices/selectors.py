from django.utils import timezone

from billing.models import EInvoice, EInvoiceStatus


def einvoices_of_bill(bill_id: int) -> list[EInvoice]:
    """A bill's e-invoices: its own (blue) first, then the red ones reversing its refunds."""
    return list(
        EInvoice.objects.filter(invoice__bill_id=bill_id)
        .select_related("invoice__bill__institution", "original")
        .order_by("red", "created_at")
    )


def einvoices_due(limit: int = 1000) -> list[str]:
    """Requested e-invoices whose time to ask has come (a lost task's too), oldest first."""
    return [
        str(pk)
        for pk in EInvoice.objects.filter(
            status=EInvoiceStatus.REQUESTED, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]
