"""Overdue bills: the sweep that marks them, the reminders, and what an overdue bill does to
the agreement (suspension, lifted automatically once everything overdue is paid).

Reminder steps (``REMINDER_SCHEDULE``) are times relative to a bill's due time: ``-24h`` is
24 hours before it, ``3d`` the third calendar day after the due day (China time). A step is
due once its time has come and it was not sent; of the steps due, only the latest is sent,
so a late or missed beat catches up without a burst of stale reminders. The outbox's dedup
key ``reminder:<bill>:<step>`` makes each step go out at most once, whatever retries or
double beats happen; a reminder claimed by a worker after its bill was paid is cancelled.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.models import AgreementStatus, CreditAgreement, CreditLine
from accounts.services import agreement_reactivate, agreement_suspend_for_overdue
from billing.models import BILL_OWED, Bill, BillStatus
from billing.services import payment_link_url
from creditcare.batching import batched
from notifications.models import SmsMessage
from notifications.services import send_check, sms_queue

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


# --- the schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderStep:
    key: str  # as written in the setting: "-24h", "1d", ...
    hours: int | None = None  # an exact offset from the due time
    days: int | None = None  # calendar days after the due day, from its midnight

    @classmethod
    def parse(cls, text: str) -> "ReminderStep":
        match = re.fullmatch(r"(-?\d+)([hd])", text.strip())
        if not match:
            raise ImproperlyConfigured(f"REMINDER_SCHEDULE: {text!r} is not like -24h or 3d")
        number, unit = int(match[1]), match[2]
        if unit == "d" and number < 1:
            raise ImproperlyConfigured(f"REMINDER_SCHEDULE: {text!r}: days count from 1")
        return cls(text.strip(), **({"hours": number} if unit == "h" else {"days": number}))

    @property
    def order(self) -> int:
        return self.hours if self.hours is not None else self.days * 24

    def latest_due_at(self, now: dt.datetime) -> dt.datetime:
        """The latest due time of a bill for which this step has come at ``now``."""
        if self.hours is not None:
            return now - dt.timedelta(hours=self.hours)
        tz = timezone.get_default_timezone()
        due_day = timezone.localdate(now, tz) - dt.timedelta(days=self.days)
        end_of_due_day = dt.datetime.combine(due_day + dt.timedelta(days=1), dt.time.min, tz)
        return end_of_due_day - dt.timedelta(microseconds=1)


def reminder_schedule() -> list[ReminderStep]:
    steps = sorted(
        (ReminderStep.parse(t) for t in settings.REMINDER_SCHEDULE), key=lambda s: s.order
    )
    if len({s.key for s in steps}) != len(steps):
        raise ImproperlyConfigured("REMINDER_SCHEDULE lists a step twice")
    return steps


def days_overdue(due_at: dt.datetime, now: dt.datetime) -> int:
    """Calendar days since the due day, China time (0 on the due day itself)."""
    return max((timezone.localdate(now) - timezone.localdate(due_at)).days, 0)


def in_sending_hours(now: dt.datetime) -> bool:
    start, end = settings.REMINDER_SENDING_HOURS
    return start <= timezone.localtime(now).hour < end


# --- reminders ---------------------------------------------------------------------------


def _reminder_key(bill_id: int, step: ReminderStep) -> str:
    return f"reminder:{bill_id}:{step.key}"


def reminders_paused() -> Q:
    """Bills that get no reminders (a disputed collection case, a payment plan)."""
    return Q(pk__in=[])


def reminders_due(*, now: dt.datetime) -> list[tuple[ReminderStep, list[int]]]:
    """For each step, the bills whose latest due step it is and that did not get it yet."""
    steps = reminder_schedule()
    due = []
    for step, later in zip(steps, [*steps[1:], None], strict=True):
        bills = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=step.latest_due_at(now))
        if later is not None:  # passed by a later step: that one is sent instead
            bills = bills.filter(due_at__gt=later.latest_due_at(now))
        sent = SmsMessage.objects.filter(
            dedup_key=Concat(
                Value("reminder:"), Cast(OuterRef("pk"), CharField()), Value(f":{step.key}")
            )
        )
        bills = bills.exclude(reminders_paused()).exclude(Exists(sent))
        due.append((step, list(bills.order_by("pk").values_list("pk", flat=True))))
    return due


def reminders_queue(*, step: ReminderStep, bill_ids: Iterable[int], now: dt.datetime) -> int:
    """Queue the step's reminder for each bill still owed. Returns how many were queued."""
    queued = 0
    bills = (
        Bill.objects.filter(pk__in=list(bill_ids), status__in=BILL_OWED)
        .exclude(reminders_paused())
        .select_related("patient", "institution", "payment_link")
    )
    for bill in bills:
        key = _reminder_key(bill.pk, step)
        with transaction.atomic():
            message = sms_queue(
                to=bill.patient.phone,
                template="bill_reminder",
                context={
                    "patient_name": bill.patient.name,
                    "institution": bill.institution.name,
                    "amount": bill.amount_due,
                    "due_at": bill.due_at,
                    "days": days_overdue(bill.due_at, now) if bill.due_at <= now else 0,
                    "link": payment_link_url(bill.payment_link),
                },
                dedup_key=key,
            )
        queued += message.created_at >= now  # not one another run queued meanwhile
    return queued


def reminders_send(*, as_of: dt.datetime | None = None, progress: Progress | None = None) -> int:
    """Queue every reminder due as of ``as_of`` (default now). Nothing is queued outside
    REMINDER_SENDING_HOURS of the real clock: the next run within them catches up. Returns
    how many were queued."""
    now = timezone.now()
    if not in_sending_hours(now):
        logger.info("reminders: outside sending hours, nothing queued")
        return 0
    due = reminders_due(now=min(as_of or now, now))
    total, done, queued = sum(len(ids) for _, ids in due), 0, 0
    for step, ids in due:
        for chunk in batched(ids, 200):
            queued += reminders_queue(step=step, bill_ids=chunk, now=now)
            done += len(chunk)
            if progress:
                progress(done, total)
    logger.info("reminders: %d queued", queued)
    return queued


@send_check("bill_reminder")
def _reminder_still_wanted(message: SmsMessage) -> bool:
    """A reminder whose bill was paid (or paused) between queueing and sending is dropped."""
    bill_id = int(message.dedup_key.split(":")[1])
    return (
        Bill.objects.filter(pk=bill_id, status__in=BILL_OWED).exclude(reminders_paused()).exists()
    )


# --- the sweep and its consequences ------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    bills: int  # marked overdue
    suspended: int  # agreements suspended
    reactivated: int  # agreements reactivated (all overdue paid)
    limits: int  # credit limits changed

    def summary(self) -> str:
        return (
            f"{self.bills} bill(s) marked overdue, {self.suspended} agreement(s) suspended, "
            f"{self.reactivated} reactivated, {self.limits} limit(s) changed"
        )


def overdue_sweep(
    *, as_of: dt.datetime | None = None, progress: Progress | None = None
) -> SweepResult:
    """Mark every unpaid bill past its due time ``overdue`` (set-based, in batches), then
    suspend or reactivate agreements and lower the limits of the people concerned.

    Idempotent: run again, or for a day already done, it changes nothing.
    """
    from accounts.services import credit_limits_recompute

    as_of = min(as_of or timezone.now(), timezone.now())
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

    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    overdue = Bill.objects.filter(status__in=BILL_OWED, due_at__lte=cutoff)
    to_review = set(
        CreditAgreement.objects.filter(status=AgreementStatus.ACTIVE)
        .filter(Exists(overdue.filter(patient_id=OuterRef("patient_id"))))
        .values_list("patient_id", flat=True)
    )
    to_review |= set(
        CreditAgreement.objects.filter(status=AgreementStatus.SUSPENDED, suspended_for_overdue=True)
        .exclude(Exists(overdue.filter(patient_id=OuterRef("patient_id"))))
        .values_list("patient_id", flat=True)
    )
    newly_patients = sorted({patient_id for _, patient_id in newly})
    total = len(to_review) + len(newly_patients)
    suspended = reactivated = limits = 0
    for done, patient_id in enumerate(sorted(to_review), 1):
        outcome = agreement_review(patient_id=patient_id, as_of=as_of)
        suspended += outcome == "suspended"
        reactivated += outcome == "reactivated"
        if progress:
            progress(done, total)
    from accounts.models import Patient

    for done, patient in enumerate(Patient.objects.filter(pk__in=newly_patients).order_by("pk"), 1):
        limits += len(credit_limits_recompute(patient=patient))
        if progress:
            progress(len(to_review) + done, total)
    result = SweepResult(marked, suspended, reactivated, limits)
    logger.info("overdue sweep as of %s: %s", as_of.isoformat(), result.summary())
    return result


def agreement_review(*, patient_id: int, as_of: dt.datetime | None = None) -> str | None:
    """Suspend the agreement of someone with a bill overdue past the grace period; reactivate
    one suspended for that once nothing overdue is left. Returns what happened, if anything."""
    as_of = as_of or timezone.now()
    cutoff = as_of - dt.timedelta(hours=settings.OVERDUE_SUSPEND_GRACE_HOURS)
    with transaction.atomic():
        # The credit lines first, the shared lock order: no payment lands while we decide.
        list(CreditLine.objects.select_for_update().filter(patient_id=patient_id).order_by("pk"))
        agreement = CreditAgreement.objects.filter(patient_id=patient_id).first()
        if agreement is None:
            return None
        overdue = list(
            Bill.objects.filter(patient_id=patient_id, status__in=BILL_OWED, due_at__lte=cutoff)
            .order_by("due_at")
            .values_list("pk", flat=True)
        )
        if overdue and agreement.status == AgreementStatus.ACTIVE:
            agreement_suspend_for_overdue(
                agreement=agreement,
                reason=f"overdue bill(s) {', '.join(map(str, overdue[:10]))}",
            )
            return "suspended"
        if (
            not overdue
            and agreement.status == AgreementStatus.SUSPENDED
            and agreement.suspended_for_overdue
        ):
            agreement_reactivate(agreement=agreement, actor=None, reason="overdue bills paid")
            return "reactivated"
    return None
