"""The credit policy applied from billing's side: repayment records are read from the bills
here and handed to ``accounts.services.credit_limits_apply_policy_many``."""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Patient
from accounts.policy import RepaymentRecord
from accounts.selectors import credit_scores_latest
from accounts.services import credit_limits_apply_policy_many
from billing.collections.overdue import overdue_condition
from billing.models import (
    Bill,
    BillStatus,
)


def credit_limits_recompute(*, patient: Patient) -> int:
    """The policy applied to the patient's repayment record and latest score on record. How
    many limits changed."""
    return credit_limits_recompute_many(patient_ids=[patient.pk])


def credit_limits_recompute_many(*, patient_ids: Iterable[int]) -> int:
    """The policy applied to the repayment records and latest scores of many patients (the
    nightly recomputation in chunks, and the overdue sweep), in a constant number of
    statements however many they are."""
    cards = dict(
        Patient.objects.filter(pk__in_array=list(patient_ids)).values_list("pk", "citizen_card")
    )
    scores = credit_scores_latest(citizen_cards=cards.values())
    records = bills_repayment_records(patient_ids=cards)
    return credit_limits_apply_policy_many(
        facts={
            patient_id: (records[patient_id], score.score if (score := scores.get(card)) else None)
            for patient_id, card in cards.items()
        }
    )


def bills_repayment_record(*, patient_id: int, now: dt.datetime | None = None) -> RepaymentRecord:
    return bills_repayment_records(patient_ids=[patient_id], now=now)[patient_id]


def bills_repayment_records(
    *, patient_ids: Iterable[int], now: dt.datetime | None = None
) -> dict[int, RepaymentRecord]:
    """Counts for the credit policy, for each patient, in two queries. Bills with nothing to
    pay are not repayments; a bill written off counts as late."""
    now = now or timezone.now()
    patient_ids = list(patient_ids)
    bills = Bill.objects.filter(patient_id__in_array=patient_ids, self_pay__gt=0)
    since = now - dt.timedelta(days=settings.REPAYMENT_LOOKBACK_DAYS)
    late = Q(closed_at__gte=since) & (
        Q(status=BillStatus.PAID, paid_at__gt=F("due_at")) | Q(status=BillStatus.WRITTEN_OFF)
    )
    counts = {
        row["patient_id"]: row
        for row in bills.values("patient_id")
        .annotate(
            late=Count("pk", filter=late), overdue=Count("pk", filter=overdue_condition(now=now))
        )
        .order_by()
    }
    # On time since the last late repayment, if any.
    last_late = (
        Bill.objects.filter(late, patient_id=OuterRef("patient_id"), self_pay__gt=0)
        .values("patient_id")
        .annotate(last=Max("due_at"))
        .values("last")
    )
    streaks = dict(
        bills.filter(status=BillStatus.PAID, paid_at__lte=F("due_at"))
        .annotate(last_late=Subquery(last_late))
        .filter(Q(last_late=None) | Q(due_at__gt=F("last_late")))
        .values("patient_id")
        .annotate(on_time=Count("pk"))
        .values_list("patient_id", "on_time")
        .order_by()
    )
    empty = {"late": 0, "overdue": 0}
    return {
        patient_id: RepaymentRecord(
            on_time_streak=streaks.get(patient_id, 0),
            late_repayments=counts.get(patient_id, empty)["late"],
            overdue_bills=counts.get(patient_id, empty)["overdue"],
        )
        for patient_id in patient_ids
    }
