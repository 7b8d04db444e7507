"""The credit policy applied from billing's side: a patient's repayment record is read from
their bills here and handed to ``accounts.services.credit_limits_apply_policy``."""

import datetime as dt

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import CreditLimitChange, Patient
from accounts.policy import RepaymentRecord
from accounts.selectors import credit_score_latest
from accounts.services import credit_limits_apply_policy
from billing.collections.overdue import overdue_bills
from billing.models import (
    Bill,
    BillStatus,
)


def credit_limits_recompute(*, patient: Patient) -> list[CreditLimitChange]:
    """The policy applied to the patient's repayment record and latest score on record (the
    nightly recomputation, and after the overdue sweep)."""
    latest = credit_score_latest(citizen_card=patient.citizen_card)
    return credit_limits_apply_policy(
        patient=patient,
        record=bills_repayment_record(patient_id=patient.pk),
        score=latest.score if latest else None,
    )


def bills_repayment_record(*, patient_id: int, now: dt.datetime | None = None) -> RepaymentRecord:
    """Counts for the credit policy. Bills with nothing to pay are not repayments; a bill
    written off counts as late."""
    now = now or timezone.now()
    bills = Bill.objects.filter(patient_id=patient_id, self_pay__gt=0)
    since = now - dt.timedelta(days=settings.REPAYMENT_LOOKBACK_DAYS)
    late = bills.filter(closed_at__gte=since).filter(
        Q(status=BillStatus.PAID, paid_at__gt=F("due_at")) | Q(status=BillStatus.WRITTEN_OFF)
    )
    last_late = late.order_by("-due_at").values_list("due_at", flat=True).first()
    on_time = bills.filter(status=BillStatus.PAID, paid_at__lte=F("due_at"))
    if last_late:
        on_time = on_time.filter(due_at__gt=last_late)
    return RepaymentRecord(
        on_time_streak=on_time.count(),
        late_repayments=late.count(),
        overdue_bills=overdue_bills(now=now).filter(patient_id=patient_id, self_pay__gt=0).count(),
    )
