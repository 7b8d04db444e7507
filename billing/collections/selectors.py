"""Reads of collections: the queue, a case's page, the overview."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts.models import User
from accounts.roles import COLLECTION_STAFF
from billing.collections.cases import bucket_of, buckets, recovered
from billing.collections.overdue import days_overdue, overdue_bills
from billing.models import (
    BILL_OWED,
    Bill,
    CaseEvent,
    CaseStatus,
    CollectionCase,
    Instalment,
    PaymentPlan,
    PromiseStatus,
    PromiseToPay,
)
from billing.payments.links import payment_link_url
from billing.payments.selectors import day_bounds
from creditcare.money import money_sum, quantize


def _start_of_day(day: dt.date) -> dt.datetime:
    return day_bounds(day)[0]


def bucket_due_range(
    *, label: str, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The due times whose days overdue (``days_overdue``: calendar days, China time) fall in
    the bucket ``label``, as ``(due at or after, due before)``, ``None`` for an open end.
    As in ``bucket_of``, the first bucket also holds day 0 (due earlier today)."""
    today = timezone.localdate(now)
    for index, (name, first, last) in enumerate(buckets()):
        if name != label:
            continue
        # days >= first  <=>  due day <= today - first  <=>  due < start of (today - first + 1)
        before = None if index == 0 else _start_of_day(today - dt.timedelta(days=first - 1))
        # days <= last  <=>  due day >= today - last
        after = None if last is None else _start_of_day(today - dt.timedelta(days=last))
        return after, before
    raise KeyError(label)


def _in_range(rows: QuerySet, field: str, after, before) -> QuerySet:
    if after is not None:
        rows = rows.filter(**{f"{field}__gte": after})
    if before is not None:
        rows = rows.filter(**{f"{field}__lt": before})
    return rows


def collection_queue(cases: QuerySet[CollectionCase]) -> QuerySet[CollectionCase]:
    """Cases with what the queue shows: the patient, the agent, the next pending promise, and
    whether a payment plan exists."""
    pending = PromiseToPay.objects.filter(
        case=OuterRef("pk"), status=PromiseStatus.PENDING
    ).order_by("promised_date", "pk")
    return cases.select_related("patient", "assigned_to").annotate(
        next_promise_date=Subquery(pending.values("promised_date")[:1]),
        next_promise_amount=Subquery(pending.values("amount")[:1]),
        has_plan=Exists(PaymentPlan.objects.filter(case=OuterRef("pk"))),
    )


def cases_in_bucket(
    cases: QuerySet[CollectionCase], *, label: str, now: dt.datetime
) -> QuerySet[CollectionCase]:
    """Cases whose oldest overdue bill is in the bucket."""
    after, before = bucket_due_range(label=label, now=now)
    return _in_range(cases, "oldest_due_at", after, before)


def cases_at_institution(
    cases: QuerySet[CollectionCase], *, institution_id: int
) -> QuerySet[CollectionCase]:
    """Cases whose patient owes a bill to the institution."""
    owed = Bill.objects.filter(
        patient_id=OuterRef("patient_id"), institution_id=institution_id, status__in=BILL_OWED
    )
    return cases.filter(Exists(owed))


def cases_promise_due_today(
    cases: QuerySet[CollectionCase], *, now: dt.datetime
) -> QuerySet[CollectionCase]:
    due = PromiseToPay.objects.filter(
        case=OuterRef("pk"), status=PromiseStatus.PENDING, promised_date=timezone.localdate(now)
    )
    return cases.filter(Exists(due))


def cases_promise_broken(cases: QuerySet[CollectionCase]) -> QuerySet[CollectionCase]:
    """Cases with a broken promise, or put on top by one and not acted on since."""
    broken = PromiseToPay.objects.filter(case=OuterRef("pk"), status=PromiseStatus.BROKEN)
    return cases.filter(Q(Exists(broken)) | Q(on_top_since__isnull=False))


@dataclass(frozen=True)
class InstalmentLine:
    instalment: Instalment
    link_url: str | None


@dataclass(frozen=True)
class OverdueBillLine:
    bill: Bill
    days: int
    link_url: str | None
    instalments: list[InstalmentLine]
    link_expired: bool = False  # the pay page refuses it: resending it would not help

    @property
    def has_plan(self) -> bool:
        return bool(self.instalments)


@dataclass(frozen=True)
class CaseDetail:
    case: CollectionCase
    bucket: str | None
    days: int | None
    bills: list[OverdueBillLine]
    promises: list[PromiseToPay]
    events: list[CaseEvent]


def case_overdue_bills(*, case: CollectionCase, now: dt.datetime) -> QuerySet[Bill]:
    """The patient's bills that are overdue now, the oldest first."""
    return Bill.objects.filter(
        patient_id=case.patient_id, status__in=BILL_OWED, due_at__lte=now
    ).order_by("due_at", "pk")


def case_detail(*, case_id: int, now: dt.datetime | None = None) -> CaseDetail | None:
    """A case as its page shows it: every overdue bill with its link (or, split into a
    plan, each instalment with its own), its promises, its history newest first."""
    now = now or timezone.now()
    case = (
        CollectionCase.objects.select_related("patient", "assigned_to").filter(pk=case_id).first()
    )
    if case is None:
        return None
    bills = list(
        case_overdue_bills(case=case, now=now)
        .select_related("institution")
        .prefetch_related("payment_links")
    )
    instalments: dict[int, list[InstalmentLine]] = {}
    for instalment in (
        Instalment.objects.filter(plan__bill__in=[bill.pk for bill in bills])
        .select_related("plan", "payment_link")
        .order_by("plan__bill_id", "number")
    ):
        link = getattr(instalment, "payment_link", None)
        instalments.setdefault(instalment.plan.bill_id, []).append(
            InstalmentLine(instalment, payment_link_url(link) if link else None)
        )
    lines = [
        OverdueBillLine(
            bill=bill,
            days=days_overdue(bill.due_at, now),
            link_url=payment_link_url(bill.payment_link) if bill.payment_link else None,
            instalments=instalments.get(bill.pk, []),
            link_expired=bool(bill.payment_link and bill.payment_link.expires_at <= now),
        )
        for bill in bills
    ]
    days = days_overdue(case.oldest_due_at, now) if case.oldest_due_at else None
    return CaseDetail(
        case=case,
        bucket=bucket_of(days) if days is not None and case.status == CaseStatus.OPEN else None,
        days=days,
        bills=lines,
        promises=list(case.promises.select_related("created_by").order_by("-created_at", "-pk")),
        events=list(case.events.select_related("actor").order_by("-created_at", "-pk")),
    )


@dataclass(frozen=True)
class BucketTotal:
    label: str
    bills: int
    amount: Decimal


@dataclass(frozen=True)
class AgentLoad:
    agent: User | None  # None: the unassigned cases
    cases: int
    amount: Decimal


@dataclass(frozen=True)
class CollectionsOverview:
    now: dt.datetime
    buckets: list[BucketTotal]  # overdue bills by their own days overdue
    week_start: dt.datetime
    month_start: dt.datetime
    recovered_week: Decimal
    recovered_month: Decimal
    agents: list[AgentLoad]
    open_cases: int
    promises_due_today: int
    broken_on_top: int

    @property
    def overdue_bills(self) -> int:
        return sum(bucket.bills for bucket in self.buckets)

    @property
    def overdue_amount(self) -> Decimal:
        return sum((bucket.amount for bucket in self.buckets), Decimal("0.00"))


def collections_overview(*, now: dt.datetime | None = None) -> CollectionsOverview:
    """What is overdue by bucket, what came back this week (from Monday 00:00, China time)
    and this month (from the 1st), and who works how many open cases."""
    now = now or timezone.now()
    overdue = overdue_bills(now=now)
    totals = []
    for label, _first, _last in buckets():
        after, before = bucket_due_range(label=label, now=now)
        rows = _in_range(overdue, "due_at", after, before)
        amount = money_sum(rows, "self_pay") - money_sum(rows, "paid_amount")
        totals.append(BucketTotal(label, rows.count(), amount))

    today = timezone.localdate(now)
    week_start = _start_of_day(today - dt.timedelta(days=today.weekday()))
    month_start = _start_of_day(today.replace(day=1))

    open_cases = CollectionCase.objects.filter(status=CaseStatus.OPEN)
    load = {
        row["assigned_to"]: (row["cases"], quantize(row["amount"] or 0))
        for row in open_cases.values("assigned_to").annotate(
            cases=Count("pk"), amount=Sum("overdue_amount")
        )
    }
    agents = User.objects.filter(
        Q(groups__name=COLLECTION_STAFF, is_active=True) | Q(pk__in=[pk for pk in load if pk])
    ).distinct()
    zero = (0, Decimal("0.00"))
    agent_rows = [AgentLoad(agent, *load.get(agent.pk, zero)) for agent in agents]
    agent_rows.sort(key=lambda row: (-row.cases, row.agent.get_username()))
    agent_rows.append(AgentLoad(None, *load.get(None, zero)))
    return CollectionsOverview(
        now=now,
        buckets=totals,
        week_start=week_start,
        month_start=month_start,
        recovered_week=recovered(since=week_start),
        recovered_month=recovered(since=month_start),
        agents=agent_rows,
        open_cases=open_cases.count(),
        promises_due_today=cases_promise_due_today(open_cases, now=now).count(),
        broken_on_top=open_cases.filter(on_top_since__isnull=False).count(),
    )
