"""What is overdue, by how much and how long, and what it does to the agreement."""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import agreements_reactivate_after_overdue, agreements_suspend_for_overdue
from billing import locks
from billing.models import (
    BILL_OWED,
    Bill,
    BillStatus,
    Instalment,
    PaymentPlan,
)
from creditcare.i18n import site_language
from creditcare.money import quantize

logger = logging.getLogger(__name__)


def overdue_bills(*, now: dt.datetime) -> QuerySet:
    """Bills late at ``now`` for collections: owed and past their due time, but a bill split
    into a payment plan only while one of its instalments is past due and unpaid. (The
    agreement stays suspended until a planned bill is paid off all the same.)"""
    return Bill.objects.filter(overdue_condition(now=now))


def overdue_condition(*, now: dt.datetime) -> Q:
    """``overdue_bills`` as a condition on bills, for counts and sums of many patients."""
    in_plan = PaymentPlan.objects.filter(bill_id=OuterRef("pk"))
    return Q(status__in=BILL_OWED, due_at__lte=now) & (~Exists(in_plan) | Exists(_late(now)))


def _late(now: dt.datetime) -> QuerySet:
    """The unpaid instalments past due of the outer bill's plan."""
    return Instalment.objects.filter(plan__bill_id=OuterRef("pk"), paid_at=None, due_at__lte=now)


@dataclass(frozen=True)
class Overdue:
    """What of a patient's bills is overdue, and since when."""

    amount: Decimal
    since: dt.datetime


def overdue_by_patient(*, patient_ids: Iterable[int], now: dt.datetime) -> dict[int, Overdue]:
    """What of each patient's overdue bills is overdue, and since when, in one query: all a
    bill owes since its due time, or for a plan its unpaid instalments past due, since the
    oldest of them. Patients with nothing overdue are left out."""
    late = _late(now).values("plan__bill_id").order_by()
    amount_due = F("self_pay") - F("paid_amount")
    parts = (
        overdue_bills(now=now)
        .filter(patient_id__in_array=list(patient_ids))
        .annotate(
            in_plan=Exists(PaymentPlan.objects.filter(bill_id=OuterRef("pk"))),
            late_amount=Subquery(late.annotate(total=Sum("amount")).values("total")),
            late_since=Subquery(late.annotate(first=Min("due_at")).values("first")),
        )
        .annotate(
            part=Case(
                When(in_plan=True, then=Least("late_amount", amount_due)), default=amount_due
            ),
            since=Case(When(in_plan=True, then="late_since"), default="due_at"),
        )
        .values("patient_id")
        .annotate(amount=Sum("part"), since=Min("since"))
        .order_by()
    )
    return {row["patient_id"]: Overdue(quantize(row["amount"]), row["since"]) for row in parts}


def days_overdue(due_at: dt.datetime, now: dt.datetime) -> int:
    """Calendar days since the due day, China time (0 on the due day itself)."""
    return max((timezone.localdate(now) - timezone.localdate(due_at)).days, 0)


def agreement_review(*, patient_id: int, as_of: dt.datetime | None = None) -> str | None:
    """Suspend or reactivate one patient's agreement (``agreements_review``): what happened."""
    suspended, reactivated = agreements_review(patient_ids=[patient_id], as_of=as_of)
    return "suspended" if suspended else "reactivated" if reactivated else None


def agreements_review(
    *, patient_ids: Iterable[int], as_of: dt.datetime | None = None
) -> tuple[list[int], list[int]]:
    """Suspend the agreements of those with a bill overdue past the grace period; reactivate
    those suspended for that once nothing is past due. A constant number of statements,
    however many patients. Returns who was suspended, and who reactivated."""
    as_of = as_of or timezone.now()
    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    patient_ids = list(patient_ids)
    with transaction.atomic():
        # The credit lines first: no payment lands while we decide.
        locks.credit_line_ids_lock_many(patient_ids=patient_ids)
        bills = Bill.objects.filter(patient_id__in_array=patient_ids)
        overdue: dict[int, list[int]] = defaultdict(list)
        for patient_id, bill_id in (
            bills.filter(status__in=BILL_OWED, due_at__lte=cutoff)
            .order_by("patient_id", "due_at", "pk")
            .values_list("patient_id", "pk")
        ):
            overdue[patient_id].append(bill_id)
        # Back only once nothing is past due at all (a bill overdue within the grace period
        # would suspend it again at the next sweep), and never after a write-off: staff
        # decide whether to reactivate.
        kept_out = set(
            bills.filter(
                Q(status__in=BILL_OWED, due_at__lte=as_of) | Q(status=BillStatus.WRITTEN_OFF)
            ).values_list("patient_id", flat=True)
        )
        with site_language():
            suspend_reason, reactivate_reason = (
                _("overdue bill(s) %(bills)s"),
                _("overdue bills paid"),
            )
        suspended = agreements_suspend_for_overdue(
            reasons={
                patient_id: suspend_reason % {"bills": ", ".join(map(str, bill_ids[:10]))}
                for patient_id, bill_ids in overdue.items()
            }
        )
        reactivated = agreements_reactivate_after_overdue(
            reasons={p: reactivate_reason for p in patient_ids if p not in kept_out}
        )
    return [a.patient_id for a in suspended], [a.patient_id for a in reactivated]
