"""What billing tells the hospitals' systems by webhook (``webhooks``): each event's data
is the bill as the API shows it (``BillOutput``), so one schema describes both."""

from django.db.models import QuerySet

from billing.models import Bill
from billing.visits.api.serializers import BillOutput
from billing.visits.selectors import bills_for_output
from webhooks.models import EventType
from webhooks.services import event_emit, events_emit_many, institutions_wanting

__all__ = ["EventType", "bill_event", "bill_events_many", "bills_to_tell"]


def bill_event(type: str, bill: Bill, **data: dict) -> None:
    """Record ``type`` about ``bill`` in the caller's transaction (sent after commit). The
    bill's output is made only when some endpoint of its institution wants the event."""
    if bill.institution_id not in institutions_wanting(type):
        return
    bill = bills_for_output(Bill.objects.filter(pk=bill.pk)).get()
    event_emit(
        type=type,
        institution_id=bill.institution_id,
        bill_id=bill.pk,
        data={"bill": BillOutput(bill).data, **data},
    )


def bills_to_tell(type: str, bills: QuerySet[Bill]) -> list[int]:
    """The ids of ``bills`` some endpoint wants ``type`` of (one statement when none does)."""
    wanting = institutions_wanting(type)
    if not wanting:
        return []
    return list(bills.filter(institution_id__in=wanting).values_list("pk", flat=True))


def bill_events_many(type: str, bill_ids: list[int]) -> None:
    """``bill_event`` for many bills, in a few statements."""
    if not bill_ids:
        return
    bills = bills_for_output(Bill.objects.filter(pk__in_array=bill_ids))
    events_emit_many(
        type=type,
        events=[(bill.institution_id, bill.pk, {"bill": BillOutput(bill).data}) for bill in bills],
    )
