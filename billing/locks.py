"""Row locks of billing, in the one order every service takes them:

    credit line -> visit -> bill -> payment -> refund -> collection case

The credit line comes first because every decision about credit (a charge, a close, a
payment, a write-off) reads what it has available, and ``accounts.locks`` locks the same
lines before an agreement changes state. Each helper locks what comes before its row in the
order too, so a service names the last row it needs and gets the chain. Call these inside
``transaction.atomic``.
"""

from collections.abc import Iterable

from accounts.locks import (
    credit_line_ids_lock_many,
    credit_line_lock,
    credit_lines_lock,
)
from accounts.models import CreditLine, Institution
from billing.models import Bill, CaseStatus, CollectionCase, Payment, Refund, Visit

__all__ = [
    "bill_lock",
    "collection_case_lock",
    "credit_line_ids_lock_many",
    "credit_line_lock",
    "credit_lines_lock",
    "open_case_lock",
    "open_cases_lock_many",
    "payment_lock",
    "refund_lock",
    "visit_lock",
]


def visit_lock(*, visit_id: int, institution: Institution) -> tuple[CreditLine, Visit] | None:
    """Lock the visit's credit line, then the visit, in one statement, reading the
    patient's agreement with them; ``None`` if ``institution`` has no such visit.

    Only this function locks visits, always with their line, so no transaction holds a visit
    without its line. After a wait PostgreSQL returns the latest version of both rows.
    """
    visit = (
        Visit.objects.select_related("credit_line", "patient__agreement")
        .select_for_update(of=("credit_line", "self"))
        .filter(pk=visit_id, institution=institution)
        .first()
    )
    if visit is None:
        return None
    visit.institution = institution
    return visit.credit_line, visit


def bill_lock(*, bill_id: int) -> tuple[CreditLine, Bill]:
    """Lock the bill's credit line, then the bill."""
    line_id = Bill.objects.values_list("credit_line_id", flat=True).get(pk=bill_id)
    line = credit_line_lock(pk=line_id)
    bill = Bill.objects.select_for_update().get(pk=bill_id)
    bill.credit_line = line
    return line, bill


def payment_lock(*, payment_id: int) -> tuple[CreditLine, Bill, Payment]:
    """Lock the payment's credit line and bill, then the payment."""
    bill_id = Payment.objects.values_list("bill_id", flat=True).get(pk=payment_id)
    line, bill = bill_lock(bill_id=bill_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    payment.bill = bill
    return line, bill, payment


def refund_lock(*, refund_id: int) -> tuple[CreditLine, Bill, Payment, Refund]:
    """Lock the refund's credit line, bill and payment, then the refund."""
    payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
    line, bill, payment = payment_lock(payment_id=payment_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    refund.payment = payment
    return line, bill, payment, refund


def collection_case_lock(*, case_id: int) -> CollectionCase:
    """Lock a collection case; a service that also moves money locks those rows first."""
    return CollectionCase.objects.select_for_update().get(pk=case_id)


def open_case_lock(*, patient_id: int) -> CollectionCase | None:
    """Lock the patient's open collection case, if there is one."""
    return next(iter(open_cases_lock_many(patient_ids=[patient_id])), None)


def open_cases_lock_many(*, patient_ids: Iterable[int]) -> list[CollectionCase]:
    """Lock the open collection cases of many patients (the sweep's chunks) in one statement."""
    cases = CollectionCase.objects.select_for_update().filter(
        patient_id__in_array=list(patient_ids), status=CaseStatus.OPEN
    )
    return list(cases.order_by("pk"))
