"""The nightly overdue sweep and everything that follows from it."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import AgreementStatus, CreditAgreement, Patient
from billing.collections.cases import cases_review
from billing.collections.overdue import agreement_review
from billing.credit import credit_limits_recompute
from billing.models import (
    BILL_OWED,
    Bill,
    BillStatus,
)
from creditcare.batching import Progress, batched

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    bills: int  # marked overdue
    suspended: int  # agreements suspended
    reactivated: int  # agreements reactivated (all overdue paid)
    limits: int  # credit limits changed
    cases_opened: int = 0
    cases_closed: int = 0
    promises_broken: int = 0

    def summary(self) -> str:
        return (
            f"{self.bills} bill(s) marked overdue, {self.suspended} agreement(s) suspended, "
            f"{self.reactivated} reactivated, {self.limits} limit(s) changed, "
            f"{self.cases_opened} case(s) opened, {self.cases_closed} closed, "
            f"{self.promises_broken} promise(s) broken"
        )


def overdue_sweep(
    *, as_of: dt.datetime | None = None, progress: Progress | None = None
) -> SweepResult:
    """Mark every unpaid bill past its due time ``overdue`` (set-based, in batches), then
    suspend or reactivate agreements and lower the limits of the people concerned.

    Idempotent: run again, or for a day already done, it changes nothing.
    """
    as_of = min(as_of or timezone.now(), timezone.now())
    marked, newly_patients = _bills_mark_overdue(as_of=as_of)
    to_review = _agreements_to_review(as_of=as_of)
    total = len(to_review) + len(newly_patients)
    suspended = reactivated = limits = 0
    for done, patient_id in enumerate(to_review, 1):
        outcome = agreement_review(patient_id=patient_id, as_of=as_of)
        suspended += outcome == "suspended"
        reactivated += outcome == "reactivated"
        if progress:
            progress(done, total)
    for done, patient in enumerate(Patient.objects.filter(pk__in=newly_patients).order_by("pk"), 1):
        limits += len(credit_limits_recompute(patient=patient))
        if progress:
            progress(len(to_review) + done, total)
    cases = cases_review(now=as_of)
    result = SweepResult(
        marked, suspended, reactivated, limits, cases.opened, cases.closed, cases.promises_broken
    )
    logger.info("overdue sweep as of %s: %s", as_of.isoformat(), result.summary())
    return result


def _bills_mark_overdue(*, as_of: dt.datetime) -> tuple[int, list[int]]:
    """Mark the unpaid bills due by ``as_of`` overdue; how many, and whose (patient ids)."""
    newly = list(
        Bill.objects.filter(status=BillStatus.UNPAID, due_at__lte=as_of)
        .order_by("pk")
        .values_list("pk", "patient_id")
    )
    marked = 0
    for chunk in batched(newly, 2000):
        marked += Bill.objects.filter(
            pk__in=[pk for pk, _ in chunk], status=BillStatus.UNPAID
        ).update(status=BillStatus.OVERDUE)
    return marked, sorted({patient_id for _, patient_id in newly})


def _agreements_to_review(*, as_of: dt.datetime) -> list[int]:
    """Patients whose agreement the overdue bills may suspend or reactivate."""
    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    # Everything overdue must be paid (a payment plan included) before credit comes back.
    overdue = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=cutoff)
    to_suspend = (
        CreditAgreement.objects.filter(status=AgreementStatus.ACTIVE)
        .filter(Exists(overdue.filter(patient_id=OuterRef("patient_id"))))
        .values_list("patient_id", flat=True)
    )
    past_due = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=as_of)
    to_reactivate = (
        CreditAgreement.objects.filter(status=AgreementStatus.SUSPENDED, suspended_for_overdue=True)
        .exclude(Exists(past_due.filter(patient_id=OuterRef("patient_id"))))
        .values_list("patient_id", flat=True)
    )
    return sorted(set(to_suspend) | set(to_reactivate))
