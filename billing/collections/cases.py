"""Collection cases: opened for bills long overdue, prioritised, worked by agents (contacts,
links resent, promises, payment plans, escalation, disputes), closed when nothing overdue
is left; write-offs by finance.
"""

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing import locks
from billing.collections.overdue import (
    Overdue,
    agreement_review,
    days_overdue,
    overdue_by_patient,
)
from billing.collections.reminders import reminder_text_context
from billing.events import EventType, bill_event
from billing.ledger import credit_move
from billing.models import (
    BILL_OWED,
    Bill,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CollectionCase,
    CreditEntry,
    CreditEntryKind,
    Instalment,
    PaymentLink,
    PaymentPlan,
    PromiseStatus,
    PromiseToPay,
)
from billing.payments.links import payment_link_create
from creditcare.bulk import rows_insert, rows_update
from creditcare.errors import DomainError
from creditcare.i18n import site_language
from creditcare.money import ZERO, money_sum, quantize
from notifications.services import sms_queue

logger = logging.getLogger(__name__)


ON_TOP = 1_000_000  # a priority above any amount and age


def buckets() -> list[tuple[str, int, int | None]]:
    """``[(label, first day, last day or None)]`` from COLLECTION_BUCKETS (upper bounds)."""
    bounds = settings.COLLECTION_BUCKETS
    result, first = [], 1
    for last in bounds:
        result.append((f"{first}-{last}", first, last))
        first = last + 1
    result.append((f">{bounds[-1]}", first, None))
    return result


def bucket_of(days: int) -> str:
    for label, _first, last in buckets():
        if last is None or days <= last:
            return label
    raise AssertionError("unreachable")


def case_priority(*, amount: Decimal, days: int, on_top: bool) -> int:
    """Older and larger first: a day overdue weighs as much as 10 CNY."""
    return (ON_TOP if on_top else 0) + days * 10 + int(amount // 10)


def _overdue_bills(patient_ids: Iterable[int], now: dt.datetime) -> QuerySet:
    """Owed and past due, payment plans included: what keeps a case open."""
    return Bill.objects.filter(
        patient_id__in_array=list(patient_ids), status__in=BILL_OWED, due_at__lte=now
    )


def _owed(patient_id: int, now: dt.datetime) -> Decimal:
    """What the patient owes on bills past due (a plan's future instalments included): the
    measure of promises to pay."""
    return _owed_by_patient([patient_id], now).get(patient_id, ZERO)


def _owed_by_patient(patient_ids: Iterable[int], now: dt.datetime) -> dict[int, Decimal]:
    """``_owed`` of many patients in one query; those owing nothing past due are left out."""
    rows = (
        _overdue_bills(patient_ids, now)
        .values("patient_id")
        .annotate(owed=Sum(F("self_pay") - F("paid_amount")))
        .values_list("patient_id", "owed")
        .order_by()
    )
    return {patient_id: quantize(owed) for patient_id, owed in rows}


def case_refresh(case: CollectionCase, *, now: dt.datetime | None = None) -> CollectionCase:
    """Amount, age and priority from what is late now (a plan kept to is not)."""
    cases_refresh([case], now=now or timezone.now())
    return case


def cases_refresh(cases: list[CollectionCase], *, now: dt.datetime) -> None:
    """``case_refresh`` of many cases, in two statements."""
    _cases_figure(cases, now=now)
    rows_update(cases, ["overdue_amount", "oldest_due_at", "priority"])


def _cases_figure(cases: list[CollectionCase], *, now: dt.datetime) -> None:
    """Set the cases' amount, age and priority in memory, from one query."""
    overdue = overdue_by_patient(patient_ids=[case.patient_id for case in cases], now=now)
    today = timezone.localdate(now)
    for case in cases:
        case.overdue_amount, case.oldest_due_at, case.priority = _case_figures(
            overdue.get(case.patient_id),
            on_top=case.on_top_since is not None and case.on_top_since <= today,
            now=now,
        )


def _case_figures(
    late: Overdue | None, *, on_top: bool, now: dt.datetime
) -> tuple[Decimal, dt.datetime | None, int]:
    """A case's amount, oldest due time and priority, from what of its patient is late."""
    amount, since = (late.amount, late.since) if late else (ZERO, None)
    days = days_overdue(since, now) if since else 0
    return amount, since, case_priority(amount=amount, days=days, on_top=on_top)


def case_due_by(now: dt.datetime) -> dt.datetime:
    """The latest due time of a bill overdue long enough at ``now`` to open a case: the end
    of the day COLLECTION_CASE_AFTER_DAYS days ago, China time."""
    old_enough = timezone.localdate(now) - dt.timedelta(days=settings.COLLECTION_CASE_AFTER_DAYS)
    next_day = dt.datetime.combine(
        old_enough + dt.timedelta(days=1), dt.time.min, timezone.get_default_timezone()
    )
    return next_day - dt.timedelta(microseconds=1)


def cases_open(*, patient_ids: Iterable[int], now: dt.datetime) -> list[int]:
    """Open a case, with its figures and its event, for each of these patients who has a bill
    overdue COLLECTION_CASE_AFTER_DAYS days (China time) and no open case, in four
    statements: the cases' ids. The caller holds the patients' credit lines, so no other
    sweep opens one meanwhile."""
    # Overdue since before the cut-off is the same as a bill overdue at the cut-off (what is
    # overdue at a time is overdue after it, since its due time or its oldest instalment's).
    due_by = case_due_by(now)
    overdue = overdue_by_patient(patient_ids=patient_ids, now=now)
    late = {patient_id: o for patient_id, o in overdue.items() if o.since <= due_by}
    with_case = CollectionCase.objects.filter(
        status=CaseStatus.OPEN, patient_id__in_array=list(late)
    )
    for patient_id in with_case.values_list("patient_id", flat=True):
        del late[patient_id]
    patients, opened_at = sorted(late), timezone.now()
    figures = [_case_figures(late[patient_id], on_top=False, now=now) for patient_id in patients]
    ids = rows_insert(
        CollectionCase,
        {
            "patient_id": patients,
            "overdue_amount": [amount for amount, _since, _priority in figures],
            "oldest_due_at": [since for _amount, since, _priority in figures],
            "priority": [priority for _amount, _since, priority in figures],
            "opened_at": opened_at,
        },
        count=len(patients),
    )
    rows_insert(
        CaseEvent,
        {"case_id": ids, "kind": CaseEventKind.OPENED.value, "created_at": opened_at},
        count=len(ids),
    )
    return ids


def case_review(*, patient_id: int, now: dt.datetime | None = None) -> str | None:
    """Refresh the patient's open case; close it if nothing overdue is left. Also keeps
    promises that what was paid has met."""
    with transaction.atomic():
        case = locks.open_case_lock(patient_id=patient_id)
        if case is None:
            return None
        closed = cases_review(cases=[case], now=now or timezone.now())
        return "closed" if closed else "refreshed"


def cases_review(*, cases: list[CollectionCase], now: dt.datetime) -> list[CollectionCase]:
    """``case_review`` of many locked open cases, in a constant number of statements.
    Returns those it closed."""
    if not cases:
        return []
    cases_refresh(cases, now=now)
    by_id = {case.pk: case for case in cases}
    owed = _owed_by_patient((case.patient_id for case in cases), now)
    kept, events = [], []
    for promise in PromiseToPay.objects.filter(
        case_id__in_array=list(by_id), status=PromiseStatus.PENDING
    ):
        case = by_id[promise.case_id]
        if owed.get(case.patient_id, ZERO) <= promise.owed_when_made - promise.amount:
            promise.keep()
            promise.resolved_at = now
            kept.append(promise)
            events.append(
                CaseEvent(case=case, kind=CaseEventKind.PROMISE_KEPT, amount=promise.amount)
            )
    rows_update(kept, ["status", "resolved_at"])
    # Nothing owed past due (a plan's future instalments included) closes the case.
    closed = [case for case in cases if case.patient_id not in owed]
    with site_language():
        note = _("nothing overdue left")
    for case in closed:
        case.close()
        case.closed_at = now
        events.append(CaseEvent(case=case, kind=CaseEventKind.CLOSED, note=note))
    rows_update(closed, ["status", "closed_at"])
    CaseEvent.objects.bulk_create(events)
    return closed


def promises_resolve(*, now: dt.datetime) -> int:
    """Promises whose day has passed: kept if what is owed fell by the amount, else broken
    (the case goes on top from the day after the promised date). Returns how many broke."""
    today = timezone.localdate(now)
    broken = 0
    pending = PromiseToPay.objects.filter(status=PromiseStatus.PENDING, promised_date__lt=today)
    for promise in pending.select_related("case").order_by("pk"):
        with transaction.atomic():
            case = locks.collection_case_lock(case_id=promise.case_id)
            promise = PromiseToPay.objects.select_for_update().get(pk=promise.pk)
            if promise.status != PromiseStatus.PENDING:
                continue
            case_refresh(case, now=now)
            kept = _owed(case.patient_id, now) <= promise.owed_when_made - promise.amount
            promise.keep() if kept else promise.break_()
            promise.resolved_at = now
            promise.save(update_fields=["status", "resolved_at"])
            kind = CaseEventKind.PROMISE_KEPT if kept else CaseEventKind.PROMISE_BROKEN
            CaseEvent.objects.create(case=case, kind=kind, amount=promise.amount)
            if not kept:
                case.on_top_since = promise.promised_date + dt.timedelta(days=1)
                case.save(update_fields=["on_top_since"])
                case_refresh(case, now=now)
                broken += 1
    return broken


def overdue_review(*, patient_id: int) -> None:
    """After money came in or a bill was written off: lift a suspension if nothing overdue
    is left, close or refresh the collection case, keep promises met."""
    agreement_review(patient_id=patient_id)
    case_review(patient_id=patient_id)


def _event(case: CollectionCase, kind: str, actor: User, **fields) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, **fields)


def _acted(case: CollectionCase) -> None:
    """An agent acted: a case put on top by a broken promise takes its normal place."""
    if case.on_top_since is not None:
        case.on_top_since = None
        case.save(update_fields=["on_top_since"])
        case_refresh(case)


def _open_case(case: CollectionCase) -> CollectionCase:
    case = locks.collection_case_lock(case_id=case.pk)
    if case.status != CaseStatus.OPEN:
        raise DomainError("case_closed", _("This case is closed."))
    return case


def case_assign(*, case: CollectionCase, agent: User | None, actor: User) -> CollectionCase:
    if agent is not None and not agent.has_perm("billing.work_collectioncase"):
        raise DomainError("not_an_agent", _("Cases go to collection staff only."))
    with transaction.atomic():
        case = _open_case(case)
        case.assigned_to = agent
        case.save(update_fields=["assigned_to"])
        _event(case, CaseEventKind.ASSIGNED, actor, note=agent.get_username() if agent else "")
    return case


def case_log_contact(
    *, case: CollectionCase, actor: User, channel: str, outcome: str, note: str = ""
) -> CaseEvent:
    with transaction.atomic():
        case = _open_case(case)
        event = _event(
            case, CaseEventKind.CONTACT, actor, channel=channel, outcome=outcome, note=note
        )
        _acted(case)
    return event


def case_resend_links(*, case: CollectionCase, actor: User) -> int:
    """Send the patient an SMS with the link of each overdue bill (or its next instalment)."""
    now = timezone.now()
    sent = 0
    with transaction.atomic():
        case = _open_case(case)
        event = _event(case, CaseEventKind.LINK_RESENT, actor)
        bills = _overdue_bills([case.patient_id], now).select_related("patient", "institution")
        for bill in bills.prefetch_related("payment_links").order_by("due_at"):
            link, amount = _link_to_pay(bill)
            sms_queue(
                to=bill.patient.phone,
                template="bill_reminder",
                context=reminder_text_context(bill=bill, amount=amount, link=link, now=now),
                dedup_key=f"case-link:{event.pk}:{bill.pk}",
            )
            sent += 1
    return sent


def _link_to_pay(bill: Bill) -> tuple[PaymentLink, Decimal]:
    """The link to send for a bill: its next unpaid instalment's, else its own; one that
    expired (an old bill) works again for a while."""
    link, amount = bill.payment_link or payment_link_create(bill=bill), bill.amount_due
    plan = getattr(bill, "plan", None)
    if plan is not None:
        nxt = plan.instalments.filter(paid_at=None).select_related("payment_link").first()
        if nxt is not None:
            link, amount = nxt.payment_link, min(nxt.amount, bill.amount_due)
    if link.expires_at <= timezone.now():
        link.expires_at = timezone.now() + settings.PAYMENT_LINK_VALID_AFTER_DUE
        link.save(update_fields=["expires_at"])
    return link, amount


def case_promise(
    *, case: CollectionCase, actor: User, promised_date: dt.date, amount: Decimal, note: str = ""
) -> PromiseToPay:
    amount = quantize(amount)
    with transaction.atomic():
        case = _open_case(case)
        case_refresh(case)
        if promised_date < timezone.localdate():
            raise DomainError("promise_in_past", _("A promise must be for today or later."))
        owed = _owed(case.patient_id, timezone.now())
        if not ZERO < amount <= owed:
            raise DomainError(
                "promise_amount",
                _("The amount must be more than 0 and at most what is overdue (%(owed)s).")
                % {"owed": owed},
            )
        promise = PromiseToPay.objects.create(
            case=case,
            promised_date=promised_date,
            amount=amount,
            owed_when_made=owed,
            created_by=actor,
        )
        _event(case, CaseEventKind.PROMISE, actor, amount=amount, note=f"{promised_date} {note}")
        _acted(case)
    return promise


def case_plan(
    *,
    case: CollectionCase,
    actor: User,
    bill: Bill,
    instalments: list[tuple[dt.date, Decimal]],
    note: str = "",
) -> PaymentPlan:
    """Split what is left of an overdue bill into instalments (due at the end of each day,
    China time), each with its own link; their reminders replace the bill's."""
    instalments = [(day, quantize(amount)) for day, amount in instalments]
    with transaction.atomic():
        _line, bill = locks.bill_lock(bill_id=bill.pk)  # money rows before the case
        case = _open_case(case)
        if bill.patient_id != case.patient_id or not bill.is_owed:
            raise DomainError("plan_bill", _("Choose an unpaid bill of this patient."))
        if PaymentPlan.objects.filter(bill=bill).exists():
            raise DomainError("plan_exists", _("This bill already has a payment plan."))
        days = [day for day, _ in instalments]
        if len(instalments) < 2 or days != sorted(set(days)) or days[0] < timezone.localdate():
            raise DomainError(
                "plan_dates",
                _("A plan has at least two instalments on different days, from today on."),
            )
        if any(amount <= 0 for _, amount in instalments) or (
            sum(amount for _, amount in instalments) != bill.amount_due
        ):
            raise DomainError(
                "plan_amounts",
                _("The instalments must be more than 0 and add up to %(due)s.")
                % {"due": bill.amount_due},
            )
        plan = PaymentPlan.objects.create(bill=bill, case=case, created_by=actor)
        tz = timezone.get_default_timezone()
        for number, (day, amount) in enumerate(instalments, 1):
            end_of_day = dt.datetime.combine(day, dt.time(23, 59), tz)
            instalment = Instalment.objects.create(
                plan=plan, number=number, amount=amount, due_at=end_of_day
            )
            payment_link_create(bill=bill, instalment=instalment)
        summary = ", ".join(f"{day}: {amount}" for day, amount in instalments)
        _event(case, CaseEventKind.PLAN, actor, amount=bill.amount_due, note=f"{summary} {note}")
        case.on_top_since = None
        case.save(update_fields=["on_top_since"])
        case_refresh(case)  # what is late now is the plan's late instalments only
    return plan


def case_escalate(*, case: CollectionCase, actor: User, note: str) -> CollectionCase:
    with transaction.atomic():
        case = _open_case(case)
        case.escalated = True
        case.save(update_fields=["escalated"])
        _event(case, CaseEventKind.ESCALATED, actor, note=note)
    return case


def case_dispute(*, case: CollectionCase, actor: User, disputed: bool, note: str) -> CollectionCase:
    """A disputed case gets no reminders until the dispute is resolved."""
    with transaction.atomic():
        case = _open_case(case)
        if case.disputed == disputed:
            return case
        case.disputed = disputed
        case.save(update_fields=["disputed"])
        kind = CaseEventKind.DISPUTED if disputed else CaseEventKind.DISPUTE_RESOLVED
        _event(case, kind, actor, note=note)
    return case


def bill_write_off(*, bill: Bill, actor: User, reason: str) -> Bill:
    """Finance gives up what is left of an overdue bill. The amount stays in the record (the
    bill, the credit entry, the case's history); the credit it held is released, and the
    agreement stays suspended until staff decide otherwise."""
    if not actor.has_perm("billing.write_off_bill"):
        raise PermissionDenied
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Please give a reason."))
    with transaction.atomic():
        line, bill = locks.bill_lock(bill_id=bill.pk)
        if bill.status not in BILL_OWED or bill.due_at > timezone.now():
            raise DomainError("not_overdue", _("Only an overdue bill can be written off."))
        amount = bill.amount_due
        bill.write_off()
        bill.written_off_amount = amount
        bill.save(update_fields=["status", "written_off_amount"])
        bill_event(EventType.BILL_WRITTEN_OFF, bill)
        credit_move(
            line=line,
            kind=CreditEntryKind.WRITE_OFF,
            amount=-amount,
            actor=f"staff:{actor.get_username()}",
            bill=bill,
        )
        case = CollectionCase.objects.filter(
            patient_id=bill.patient_id, status=CaseStatus.OPEN
        ).first()
        if case is not None:
            _event(case, CaseEventKind.WRITTEN_OFF, actor, amount=amount, note=reason)
    overdue_review(patient_id=bill.patient_id)
    logger.info("bill %s: %s written off by %s: %s", bill.pk, amount, actor, reason)
    return bill


def recovered(*, since: dt.datetime) -> Decimal:
    """Money received since ``since`` for bills that were overdue when it came."""
    payments = CreditEntry.objects.filter(
        kind=CreditEntryKind.PAYMENT, created_at__gte=since, bill__due_at__lt=F("created_at")
    )
    return -money_sum(payments, "amount")
