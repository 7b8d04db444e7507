"""The nightly overdue sweep and everything that follows from it, set-based in chunks of
patients: each chunk is one transaction of a constant number of statements, whatever its
size, so a region's night costs statements per chunk, not per bill."""

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import AgreementStatus, CreditAgreement
from billing import locks
from billing.collections.cases import case_due_by, cases_open, cases_review, promises_resolve
from billing.collections.overdue import agreements_review, overdue_bills
from billing.credit import credit_limits_recompute_many
from billing.events import EventType, bill_events_many, bills_to_tell
from billing.models import (
    BILL_OWED,
    Bill,
    BillStatus,
    CaseStatus,
    CollectionCase,
)
from creditcare.batching import Progress, batched

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    bills: int = 0  # marked overdue
    suspended: int = 0  # agreements suspended
    reactivated: int = 0  # agreements reactivated (all overdue paid)
    limits: int = 0  # credit limits changed
    cases_opened: int = 0
    cases_closed: int = 0
    promises_broken: int = 0

    def __add__(self, other: "SweepResult") -> "SweepResult":
        return SweepResult(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

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
    """Mark every unpaid bill past its due time ``overdue``; suspend or reactivate
    agreements; lower the limits of those with newly overdue bills; open, refresh and close
    collection cases; resolve the promises whose day has passed.

    Chunk by chunk of patients (``SWEEP_CHUNK``), each chunk committed whole. Idempotent and
    crash-safe: run again, it finishes what a crash left and changes nothing else.
    """
    as_of = min(as_of or timezone.now(), timezone.now())
    result = SweepResult(promises_broken=promises_resolve(now=as_of))
    chunks = list(sweep_chunks(as_of=as_of))
    for done, (patient_ids, bills) in enumerate(chunks, 1):
        result += _chunk_sweep(patient_ids, bills=bills, as_of=as_of)
        if progress:
            progress(done, len(chunks))
    logger.info("overdue sweep as of %s: %s", as_of.isoformat(), result.summary())
    return result


def sweep_chunks(*, as_of: dt.datetime) -> Iterator[tuple[list[int], dict[int, list[int]]]]:
    """The sweep's chunks of ``SWEEP_CHUNK`` patients, each with the unpaid bills due by
    ``as_of`` (to mark overdue) of those who have some, by patient."""
    due: dict[int, list[int]] = defaultdict(list)
    for bill_id, patient_id in Bill.objects.filter(
        status=BillStatus.UNPAID, due_at__lte=as_of
    ).values_list("pk", "patient_id"):
        due[patient_id].append(bill_id)
    patients = sorted(due.keys() | _patients_to_review(as_of=as_of))
    for chunk in batched(patients, settings.SWEEP_CHUNK):
        yield chunk, {patient_id: due[patient_id] for patient_id in chunk if patient_id in due}


def bills_mark_overdue(*, bill_ids: list[int]) -> int:
    """Mark these bills overdue if still unpaid; how many were. The hospitals' systems that
    asked are told (``bill.overdue``)."""
    unpaid = Bill.objects.filter(pk__in_array=bill_ids, status=BillStatus.UNPAID)
    to_tell = bills_to_tell(EventType.BILL_OVERDUE, unpaid)
    marked = unpaid.update(status=BillStatus.OVERDUE)
    bill_events_many(EventType.BILL_OVERDUE, to_tell)
    return marked


def _chunk_sweep(
    patient_ids: list[int], *, bills: dict[int, list[int]], as_of: dt.datetime
) -> SweepResult:
    """One chunk of patients, in one transaction: bills marked, agreements reviewed, limits
    of those with newly overdue bills recomputed, cases refreshed and closed, cases opened."""
    with transaction.atomic():
        # The agreements first: their review locks the chunk's credit lines (the lock order),
        # and marking the bills changes nothing it reads (unpaid and overdue are both owed).
        suspended, reactivated = agreements_review(patient_ids=patient_ids, as_of=as_of)
        marked = bills_mark_overdue(bill_ids=[b for ids in bills.values() for b in ids])
        limits = credit_limits_recompute_many(patient_ids=bills)
        # The cases open already first: those about to open come with their figures.
        closed = cases_review(cases=locks.open_cases_lock_many(patient_ids=patient_ids), now=as_of)
        opened = cases_open(patient_ids=patient_ids, now=as_of)
    return SweepResult(
        bills=marked,
        suspended=len(suspended),
        reactivated=len(reactivated),
        limits=limits,
        cases_opened=len(opened),
        cases_closed=len(closed),
    )


def _patients_to_review(*, as_of: dt.datetime) -> set[int]:
    """Patients with no bill to mark whom the sweep may still concern: an agreement to
    suspend (the grace period ended) or to reactivate, a case to open or to refresh."""
    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    # Everything overdue must be paid (a payment plan included) before credit comes back.
    overdue = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=cutoff)
    to_suspend = CreditAgreement.objects.filter(status=AgreementStatus.ACTIVE).filter(
        Exists(overdue.filter(patient_id=OuterRef("patient_id")))
    )
    past_due = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=as_of)
    to_reactivate = CreditAgreement.objects.filter(
        status=AgreementStatus.SUSPENDED, suspended_for_overdue=True
    ).exclude(Exists(past_due.filter(patient_id=OuterRef("patient_id"))))
    open_cases = CollectionCase.objects.filter(status=CaseStatus.OPEN)
    return {
        *to_suspend.values_list("patient_id", flat=True),
        *to_reactivate.values_list("patient_id", flat=True),
        *overdue_bills(now=case_due_by(as_of))
        .exclude(Exists(open_cases.filter(patient_id=OuterRef("patient_id"))))
        .values_list("patient_id", flat=True),
        *open_cases.values_list("patient_id", flat=True),
    }
