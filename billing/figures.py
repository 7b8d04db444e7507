"""The books at the end of each day, per institution (``DailyFigure``): recorded each night
for the day before, and read by the management reports, which would otherwise sum years of
credit entries on every view.

* Credit outstanding in each pool: the credit entries summed up to the day's end, that is
  the last recorded day's figure and the entries since.
* Owed on overdue bills, by days overdue (COLLECTION_BUCKETS): each bill's self-pay less
  its payment and write-off entries up to the day's end.
* Recovered (paid after the due time) and written off during the day.

The balances are recorded for every institution, pool and bucket, zero included, so a
recorded day is whole. Recording a day again gives the same figures (entries are never
changed), so the nightly task is safe to run twice.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import CreditPool, Institution
from billing.collections.cases import buckets
from billing.collections.selectors import bucket_due_range
from billing.models import (
    BILL_OWED,
    Bill,
    CreditEntry,
    CreditEntryKind,
    DailyFigure,
    FigureMeasure,
)
from billing.payments.selectors import day_bounds
from creditcare.money import ZERO

# The entries that settle a bill: what it still owes is its self-pay plus these (negative).
SETTLING = [CreditEntryKind.PAYMENT, CreditEntryKind.WRITE_OFF]


def figures_record(day: dt.date) -> int:
    """Record the figures at the end of ``day``, a day that has ended; how many rows."""
    if day >= timezone.localdate():
        raise ValueError(f"{day} has not ended: its figures would still change")
    started = timezone.now()
    figures = figures_at(day)
    with transaction.atomic():
        DailyFigure.objects.bulk_create(
            figures,
            update_conflicts=True,
            unique_fields=["measure", "day", "institution", "key"],
            update_fields=["bills", "amount", "recorded_at"],
        )
        # A movement (recovered, written off) that is no longer there.
        DailyFigure.objects.filter(day=day, recorded_at__lt=started).delete()
    return len(figures)


def figures_at(day: dt.date) -> list[DailyFigure]:
    """The figures at the end of ``day``, unsaved."""
    institutions = list(Institution.objects.values_list("pk", flat=True))
    return [
        *_outstanding(day, institutions),
        *_overdue(day, institutions),
        *_moved(day),
    ]


def _outstanding(day: dt.date, institutions: list[int]) -> list[DailyFigure]:
    """Per institution and pool: the last recorded day's figure plus the entries since."""
    at = day_bounds(day)[1]
    totals: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    entries = CreditEntry.objects.filter(created_at__lt=at)
    base = DailyFigure.objects.filter(measure=FigureMeasure.OUTSTANDING, day__lt=day).aggregate(
        day=Max("day")
    )["day"]
    if base is not None:
        entries = entries.filter(created_at__gte=day_bounds(base)[1])
        for institution, pool, amount in DailyFigure.objects.filter(
            measure=FigureMeasure.OUTSTANDING, day=base
        ).values_list("institution", "key", "amount"):
            totals[(institution, pool)] += amount
    # An entry is the institution's of its visit (holds, settlements, bills) or of its bill
    # (payments, write-offs).
    for row in (
        entries.annotate(of=Coalesce("visit__institution", "bill__institution"))
        .values("of", "credit_line__pool")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        totals[(row["of"], row["credit_line__pool"])] += row["total"]
    return [
        DailyFigure(
            day=day,
            institution_id=institution,
            measure=FigureMeasure.OUTSTANDING,
            key=pool,
            amount=totals[(institution, pool)],
        )
        for institution in institutions
        for pool in CreditPool.values
    ]


def _overdue(day: dt.date, institutions: list[int]) -> list[DailyFigure]:
    """Per institution and bucket of days overdue: the bills past due at the day's end and
    what they still owed then."""
    day_start, at = day_bounds(day)
    settled_by_then = (
        CreditEntry.objects.filter(bill=OuterRef("pk"), kind__in=SETTLING, created_at__lt=at)
        .order_by()
        .values("bill")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    # A bill owed then is owed now or was settled since: the rest need not be read.
    candidates = {
        *Bill.objects.filter(status__in=BILL_OWED, due_at__lt=day_start).values_list(
            "pk", flat=True
        ),
        *CreditEntry.objects.filter(
            kind__in=SETTLING, created_at__gte=at, bill__isnull=False
        ).values_list("bill", flat=True),
    }
    # Youngest first: the first bucket whose earliest due time the bill's is at or after,
    # the buckets' due ranges as the collections overview draws them.
    end_of_day = at - dt.timedelta(microseconds=1)
    names = [label for label, _first, _last in buckets()]
    bucket = Case(
        *(
            When(due_at__gte=after, then=Value(name))
            for name in names
            if (after := bucket_due_range(label=name, now=end_of_day)[0]) is not None
        ),
        default=Value(names[-1]),
    )
    owed = {
        (row["institution"], row["bucket"]): row
        for row in Bill.objects.filter(
            pk__in_array=sorted(candidates), closed_at__lt=at, due_at__lt=day_start
        )
        .annotate(owed=F("self_pay") + Coalesce(Subquery(settled_by_then), Value(ZERO)))
        .filter(owed__gt=0)
        .annotate(bucket=bucket)
        .values("institution", "bucket")
        .annotate(bills=Count("pk"), amount=Sum("owed"))
        .order_by()
    }
    return [
        DailyFigure(
            day=day,
            institution_id=institution,
            measure=FigureMeasure.OVERDUE,
            key=name,
            bills=owed[(institution, name)]["bills"] if (institution, name) in owed else 0,
            amount=owed[(institution, name)]["amount"] if (institution, name) in owed else ZERO,
        )
        for institution in institutions
        for name in names
    ]


def _moved(day: dt.date) -> list[DailyFigure]:
    """Per institution: paid after the due time, and written off, during the day."""
    day_start, at = day_bounds(day)
    late = Q(kind=CreditEntryKind.PAYMENT, created_at__gt=F("bill__due_at"))
    written_off = Q(kind=CreditEntryKind.WRITE_OFF)
    figures = []
    for row in (
        CreditEntry.objects.filter(created_at__gte=day_start, created_at__lt=at, kind__in=SETTLING)
        .values("bill__institution")
        .annotate(
            recovered=Sum(-F("amount"), filter=late, default=ZERO),
            recovered_bills=Count("bill", filter=late, distinct=True),
            written_off=Sum(-F("amount"), filter=written_off, default=ZERO),
            written_off_bills=Count("bill", filter=written_off, distinct=True),
        )
        .order_by()
    ):
        for measure, amount, bills in [
            (FigureMeasure.RECOVERED, row["recovered"], row["recovered_bills"]),
            (FigureMeasure.WRITTEN_OFF, row["written_off"], row["written_off_bills"]),
        ]:
            if bills:
                figures.append(
                    DailyFigure(
                        day=day,
                        institution_id=row["bill__institution"],
                        measure=measure,
                        amount=amount,
                        bills=bills,
                    )
                )
    return figures


def figures_days(first: dt.date, last: dt.date, *, month_ends: bool = False) -> list[dt.date]:
    """The days from ``first`` to ``last`` (oldest first, so that each day's outstanding
    credit starts from the one before); with ``month_ends`` only each month's last and
    ``last``."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    if month_ends:
        days = [day for day in days if (day + dt.timedelta(days=1)).day == 1 or day == last]
    return days
