"""Reminders of bills coming due and overdue (``REMINDER_SCHEDULE``), queued in the SMS
outbox once per bill and step, sent only in ``REMINDER_SENDING_HOURS``.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.models import FamilyPayer
from billing.collections.overdue import days_overdue
from billing.models import (
    BILL_OWED,
    Bill,
    CaseStatus,
    CollectionCase,
    Instalment,
    PaymentLink,
    PaymentPlan,
)
from billing.payments.links import payment_link_url, payment_token_url
from creditcare.batching import Progress, batched
from notifications.models import SmsMessage
from notifications.services import Sms, send_check, sms_queue_many

logger = logging.getLogger(__name__)


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


def in_sending_hours(now: dt.datetime) -> bool:
    start, end = settings.REMINDER_SENDING_HOURS
    return start <= timezone.localtime(now).hour < end


def _owed_bills() -> QuerySet:
    """Bills that get reminders: owed, not split into a payment plan (its instalments get
    them instead), not in a disputed collection case."""
    disputed = CollectionCase.objects.filter(
        status=CaseStatus.OPEN, disputed=True, patient_id=OuterRef("patient_id")
    )
    in_plan = PaymentPlan.objects.filter(bill_id=OuterRef("pk"))
    return (
        Bill.objects.filter(status__in=BILL_OWED).exclude(Exists(in_plan)).exclude(Exists(disputed))
    )


def _owed_instalments() -> QuerySet:
    disputed = CollectionCase.objects.filter(
        status=CaseStatus.OPEN, disputed=True, patient_id=OuterRef("plan__bill__patient_id")
    )
    return Instalment.objects.filter(paid_at=None, plan__bill__status__in=BILL_OWED).exclude(
        Exists(disputed)
    )


# What reminders are about, by the prefix of the id in their dedup key
# ``reminder:<prefix><id>:<step>``: bills, and instalments of payment plans.
REMINDED: dict[str, Callable[[], QuerySet]] = {"": _owed_bills, "i": _owed_instalments}


def reminders_due(*, now: dt.datetime) -> list[tuple[ReminderStep, str, list[int]]]:
    """For each step and kind, the ids whose latest due step it is that did not get it yet."""
    steps = reminder_schedule()
    due = []
    for prefix, owed in REMINDED.items():
        for step, later in zip(steps, [*steps[1:], None], strict=True):
            rows = owed().filter(due_at__lte=step.latest_due_at(now))
            if later is not None:  # passed by a later step: that one is sent instead
                rows = rows.filter(due_at__gt=later.latest_due_at(now))
            sent = SmsMessage.objects.filter(
                dedup_key=Concat(
                    Value(f"reminder:{prefix}"),
                    Cast(OuterRef("pk"), CharField()),
                    Value(f":{step.key}"),
                )
            )
            ids = list(rows.exclude(Exists(sent)).order_by("pk").values_list("pk", flat=True))
            due.append((step, prefix, ids))
    return due


def reminder_text_context(
    *,
    bill: Bill,
    amount: Decimal,
    link: PaymentLink,
    now: dt.datetime,
    due_at: dt.datetime | None = None,
) -> dict:
    """What a reminder of ``bill`` says (``due_at``: its instalment's, for one of its plan)."""
    return reminder_text(
        patient_name=bill.patient.name,
        institution=bill.institution.name,
        amount=amount,
        due_at=due_at or bill.due_at,
        link_url=payment_link_url(link),
        now=now,
    )


def reminder_text(
    *,
    patient_name: str,
    institution: str,
    amount: Decimal,
    due_at: dt.datetime,
    link_url: str,
    now: dt.datetime,
) -> dict:
    """What a reminder says: who, where, how much, by when or how many days late, the link."""
    return {
        "patient_name": patient_name,
        "institution": institution,
        "amount": amount,
        "due_at": due_at,
        "days": days_overdue(due_at, now) if due_at <= now else 0,
        "link": link_url,
    }


# Reminders per transaction: one read of the bills, one INSERT of their messages, one commit,
# whatever the size of the chunk (sms_queue_many writes up to 1,000 rows in one statement).
REMINDER_CHUNK = 1000


def _bill_reminders(ids: list[int], now: dt.datetime) -> Iterator[tuple[int, int, str, dict]]:
    """(bill id, patient id, phone, text context) of each bill still owed. A morning's batch
    reads 100k bills: each a model with only what its amount needs, the rest plain columns
    (models of their patients, institutions and links cost more than rendering the texts)."""
    own_link = PaymentLink.objects.filter(bill_id=OuterRef("pk"), instalment=None)
    bills = (
        _owed_bills()
        .filter(pk__in_array=ids)
        .only("status", "self_pay", "paid_amount", "due_at", "patient_id")
        .annotate(
            patient_name=F("patient__name"),
            # The stored E.164 text, which is what str() of the parsed number gives.
            phone=Cast("patient__phone", CharField()),
            institution_name=F("institution__name"),
            link_token=Subquery(own_link.values("token")[:1]),
        )
    )
    for bill in bills:
        context = reminder_text(
            patient_name=bill.patient_name,
            institution=bill.institution_name,
            amount=bill.amount_due,
            due_at=bill.due_at,
            link_url=payment_token_url(bill.link_token),
            now=now,
        )
        yield bill.pk, bill.patient_id, bill.phone, context


def _instalment_reminders(ids: list[int], now: dt.datetime) -> Iterator[tuple[int, int, str, dict]]:
    """(instalment id, patient id, phone, text context) of each instalment still owed: a
    few, by plan."""
    instalments = (
        _owed_instalments()
        .filter(pk__in_array=ids)
        .select_related("plan__bill__patient", "plan__bill__institution", "payment_link")
    )
    for instalment in instalments:
        bill = instalment.plan.bill
        context = reminder_text_context(
            bill=bill,
            amount=min(instalment.amount, bill.amount_due),
            link=instalment.payment_link,
            now=now,
            due_at=instalment.due_at,
        )
        yield instalment.pk, bill.patient_id, str(bill.patient.phone), context


def reminders_queue(
    *, step: ReminderStep, prefix: str, ids: Iterable[int], now: dt.datetime
) -> int:
    """Queue the step's reminder for each bill (or instalment) still owed, in one statement.
    Returns how many were queued (not those another run queued meanwhile)."""
    read = _instalment_reminders if prefix == "i" else _bill_reminders
    reminders = list(read(list(ids), now))
    # A copy to each family member who pays for the patient (one statement a chunk).
    family: dict[int, list[str]] = {}
    for patient_id, phone in FamilyPayer.objects.filter(
        patient_id__in={patient_id for _pk, patient_id, _phone, _context in reminders},
        removed_at=None,
    ).values_list("patient_id", "phone"):
        family.setdefault(patient_id, []).append(str(phone))
    messages = [
        Sms(
            to=to,
            template="bill_reminder",
            context={**context, "for_family": True} if copy else context,
            dedup_key=f"reminder:{prefix}{pk}:{step.key}" + (f":family:{to}" if copy else ""),
        )
        for pk, patient_id, phone, context in reminders
        for to, copy in [(phone, False), *((p, True) for p in family.get(patient_id, []))]
    ]
    with transaction.atomic():
        return len(sms_queue_many(messages))


def reminders_send(*, as_of: dt.datetime | None = None, progress: Progress | None = None) -> int:
    """Queue every reminder due as of ``as_of`` (default now). Nothing is queued outside
    REMINDER_SENDING_HOURS of the real clock: the next run within them catches up. Returns
    how many were queued."""
    now = timezone.now()
    if not in_sending_hours(now):
        logger.info("reminders: outside sending hours, nothing queued")
        return 0
    due = reminders_due(now=min(as_of or now, now))
    total, done, queued = sum(len(ids) for _, _, ids in due), 0, 0
    for step, prefix, ids in due:
        for chunk in batched(ids, REMINDER_CHUNK):
            queued += reminders_queue(step=step, prefix=prefix, ids=chunk, now=now)
            done += len(chunk)
            if progress:
                progress(done, total)
    logger.info("reminders: %d queued", queued)
    return queued


def next_sending_start(now: dt.datetime) -> dt.datetime:
    """When sending hours next begin (today's, if not begun yet)."""
    local = timezone.localtime(now)
    start = local.replace(hour=settings.REMINDER_SENDING_HOURS[0], minute=0, second=0)
    start = start.replace(microsecond=0)
    return start if local < start else start + dt.timedelta(days=1)


@send_check("bill_reminder")
def _reminder_still_wanted(message: SmsMessage) -> bool | dt.datetime:
    """A reminder whose bill was paid (or paused) between queueing and sending is dropped;
    so is one a collection agent sent (``case-link:``) for a bill paid meanwhile. One whose
    turn comes in quiet hours (a retry, a late worker) waits for the morning."""
    kind, subject, *rest = message.dedup_key.split(":")
    if kind == "case-link":  # case-link:<event>:<bill>
        wanted = Bill.objects.filter(pk=int(rest[0]), status__in=BILL_OWED).exists()
    else:
        prefix = "i" if subject.startswith("i") else ""
        wanted = REMINDED[prefix]().filter(pk=int(subject.removeprefix("i"))).exists()
    now = timezone.now()
    if wanted and not in_sending_hours(now):
        return next_sending_start(now)
    return wanted
