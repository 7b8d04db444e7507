"""What is overdue, by how much and how long, and what it does to the agreement."""

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AgreementStatus, CreditAgreement
from accounts.services import agreement_reactivate, agreement_suspend_for_overdue
from billing import locks
from billing.models import (
    BILL_OWED,
    Bill,
    BillStatus,
    Instalment,
    PaymentPlan,
)
from creditcare.i18n import site_language

logger = logging.getLogger(__name__)


def overdue_bills(*, now: dt.datetime) -> QuerySet:
    """Bills late at ``now`` for collections: owed and past their due time, but a bill split
    into a payment plan only while one of its instalments is past due and unpaid. (The
    agreement stays suspended until a planned bill is paid off all the same.)"""
    in_plan = PaymentPlan.objects.filter(bill_id=OuterRef("pk"))
    late_instalment = Instalment.objects.filter(
        plan__bill_id=OuterRef("pk"), paid_at=None, due_at__lte=now
    )
    return Bill.objects.filter(status__in=BILL_OWED, due_at__lte=now).filter(
        ~Exists(in_plan) | Exists(late_instalment)
    )


def overdue_part(bill: Bill, now: dt.datetime) -> tuple[Decimal, dt.datetime]:
    """What of an overdue bill is overdue, and since when: all it owes since its due time,
    or for a plan its unpaid instalments past due, since the oldest of them."""
    plan = PaymentPlan.objects.filter(bill=bill).first()
    if plan is None:
        return bill.amount_due, bill.due_at
    late = list(plan.instalments.filter(paid_at=None, due_at__lte=now).order_by("due_at"))
    if not late:
        return Decimal("0.00"), bill.due_at
    return min(sum(i.amount for i in late), bill.amount_due), late[0].due_at


def days_overdue(due_at: dt.datetime, now: dt.datetime) -> int:
    """Calendar days since the due day, China time (0 on the due day itself)."""
    return max((timezone.localdate(now) - timezone.localdate(due_at)).days, 0)


def agreement_review(*, patient_id: int, as_of: dt.datetime | None = None) -> str | None:
    """Suspend the agreement of someone with a bill overdue past the grace period; reactivate
    one suspended for that once nothing is past due. Returns what happened, if anything."""
    as_of = as_of or timezone.now()
    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    with transaction.atomic():
        # The credit lines first: no payment lands while we decide.
        locks.credit_lines_lock(patient_id=patient_id)
        agreement = CreditAgreement.objects.filter(patient_id=patient_id).first()
        if agreement is None:
            return None
        overdue = list(
            Bill.objects.filter(patient_id=patient_id, status__in=BILL_OWED, due_at__lte=cutoff)
            .order_by("due_at")
            .values_list("pk", flat=True)
        )
        if overdue and agreement.status == AgreementStatus.ACTIVE:
            with site_language():
                reason = _("overdue bill(s) %(bills)s") % {
                    "bills": ", ".join(map(str, overdue[:10]))
                }
            agreement_suspend_for_overdue(agreement=agreement, reason=reason)
            return "suspended"
        written_off = Bill.objects.filter(patient_id=patient_id, status=BillStatus.WRITTEN_OFF)
        # Back only once nothing is past due at all: a bill overdue within the grace period
        # would suspend it again at the next sweep.
        past_due = Bill.objects.filter(
            patient_id=patient_id, status__in=BILL_OWED, due_at__lte=as_of
        )
        if (
            not past_due.exists()
            and agreement.status == AgreementStatus.SUSPENDED
            and agreement.suspended_for_overdue
            and not written_off.exists()  # a write-off: staff decide whether to reactivate
        ):
            with site_language():
                reason = _("overdue bills paid")
            agreement_reactivate(agreement=agreement, actor=None, reason=reason)
            return "reactivated"
    return None
