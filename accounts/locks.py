"""Row locks of accounts: a patient's credit lines, then their agreement.

Every service that moves credit takes its locks in one order, so two of them never wait on
each other: credit line, visit, bill, payment, refund (``billing.locks`` holds the rest).
A patient's lines are locked together, in primary-key order. An agreement's transitions
lock the lines first, so no charge lands on credit while the agreement's state is decided.
Call these inside ``transaction.atomic``.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from django.db.models import QuerySet

from accounts.models import CreditAgreement, CreditLine


def credit_lines_lock(*, patient_id: int) -> list[CreditLine]:
    """Lock all of a patient's credit lines (none yet before they sign)."""
    return credit_lines_lock_many(patient_ids=[patient_id])


def credit_lines_lock_many(*, patient_ids: Iterable[int]) -> list[CreditLine]:
    """Lock the credit lines of many patients in one statement (the overdue sweep's chunks),
    in primary-key order like every other lock of lines, so the two never deadlock."""
    return list(_lines_for_update(patient_ids))


def credit_line_ids_lock_many(*, patient_ids: Iterable[int]) -> list[int]:
    """``credit_lines_lock_many`` for a caller that needs the locks, not the lines."""
    return list(_lines_for_update(patient_ids).values_list("pk", flat=True))


class LineLimit(NamedTuple):
    """What deciding a line's limit needs of it, without a model instance."""

    pk: int
    patient_id: int
    pool: str
    limit: Decimal


def credit_line_limits_lock_many(*, patient_ids: Iterable[int]) -> list[LineLimit]:
    """``credit_lines_lock_many`` for the limits of a chunk of thousands of patients: each
    line's key, patient, pool and limit as a row, not a model instance."""
    rows = _lines_for_update(patient_ids).values_list("pk", "patient_id", "pool", "limit")
    return [LineLimit(*row) for row in rows]


def _lines_for_update(patient_ids: Iterable[int]) -> QuerySet:
    lines = CreditLine.objects.select_for_update().filter(patient_id__in_array=list(patient_ids))
    return lines.order_by("pk")


def credit_line_lock(*, pk: int) -> CreditLine:
    return CreditLine.objects.select_for_update().get(pk=pk)


def agreement_lock(*, patient_id: int) -> CreditAgreement:
    """Lock a patient's credit lines, then their agreement."""
    credit_lines_lock(patient_id=patient_id)
    return CreditAgreement.objects.select_for_update().get(patient_id=patient_id)
