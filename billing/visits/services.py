"""Writes of visits: open, post and void charges, bill a long stay part-way, close. The HIS
API calls these.

Every function that moves credit is one transaction that locks the credit line first, then
the visit (``billing.locks``), decides, and writes a ``CreditEntry`` for each movement
(``billing.ledger``). Retries are safe: the natural keys (``his_visit_id``,
``his_line_id``) are unique, and the same request again returns the state it produced.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.family import family_payers
from accounts.models import CreditLine, CreditPool, Institution, InstitutionApiKey, Patient
from billing import locks
from billing.ledger import actor_of, credit_move, credit_moves
from billing.models import (
    MAX_VISIT_TOTAL,
    Bill,
    BillStatus,
    Charge,
    ChargeVoid,
    CreditEntry,
    CreditEntryKind,
    DailyVisitCount,
    InterimCharge,
    Visit,
    VisitStatus,
)
from billing.payments.links import payment_link_create, payment_link_url
from billing.payments.refunds import refund_for_void
from billing.visits.eligibility import agreement_ended_refusal, agreement_refusal, patient_for_card
from billing.visits.selectors import billed_part_way, charge_bill, charges_unbilled
from creditcare.errors import DomainError
from creditcare.money import ZERO, money_sum
from notifications.services import sms_queue

# Times a HIS may send: since 2000, and ahead of our clock by no more than clocks drift.
EARLIEST_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ChargeLine:
    his_line_id: str
    item_code: str
    item_name: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    self_pay_estimate: Decimal

    def matches(self, charge: Charge) -> bool:
        return all(getattr(charge, name) == value for name, value in vars(self).items())


@dataclass(frozen=True)
class Settlement:
    total: Decimal
    insurance_fund: Decimal
    personal_account: Decimal
    self_pay: Decimal
    insurance_account_balance: Decimal
    closed_at: dt.datetime | None = None


def credit_limit_exceeded(*, available: Decimal, requested: Decimal) -> DomainError:
    return DomainError(
        "credit_limit_exceeded",
        _("Not enough credit for this: collect payment at the window."),
        {"available": str(available), "requested": str(requested)},
    )


def _visit_not_found_error() -> DomainError:
    return DomainError("visit_not_found", _("No such visit at your institution."))


def _visit_closed_error(visit: Visit) -> DomainError:
    return DomainError(
        "visit_closed",
        _("This visit is closed: no more changes. Open a new visit for new charges."),
        {"visit_id": visit.pk, "closed_at": timezone.localtime(visit.closed_at).isoformat()},
    )


def visit_open(
    *,
    institution: Institution,
    api_key: InstitutionApiKey | None,
    citizen_card: str,
    kind: str,
    his_visit_id: str,
    department: str = "",
    doctor: str = "",
    started_at: dt.datetime | None = None,
) -> tuple[Visit, bool]:
    """Open a visit for a patient with an active agreement. Returns ``(visit, created)``.

    The same ``his_visit_id`` again for the same patient and kind returns the first visit.
    """
    if started_at is not None:
        _started_at_check(started_at)
    patient = patient_for_card(citizen_card)
    existing = Visit.objects.filter(institution=institution, his_visit_id=his_visit_id).first()
    if existing:
        return _same_visit(existing, patient, kind), False
    started_at = started_at or timezone.now()
    try:
        with transaction.atomic():
            lines = locks.credit_lines_lock(patient_id=patient.pk)
            line = next((line for line in lines if line.pool == kind), None)
            # Agreement transitions lock the credit lines first, so this read is stable.
            patient = Patient.objects.select_related("agreement").get(pk=patient.pk)
            refusal = agreement_refusal(patient)
            if refusal:
                raise refusal
            visit = Visit.objects.create(
                institution=institution,
                patient=patient,
                credit_line=line,
                kind=kind,
                his_visit_id=his_visit_id,
                department=department,
                doctor=doctor,
                started_at=started_at,
            )
            sms_queue(
                to=patient.phone,
                template="visit_started",
                context={"patient_name": patient.name, "institution": institution.name},
                dedup_key=f"visit-opened:{visit.pk}",
            )
    except IntegrityError:
        # The same visit posted twice at once: the other request created it.
        existing = Visit.objects.get(institution=institution, his_visit_id=his_visit_id)
        return _same_visit(existing, patient, kind), False
    return visit, True


def _started_at_check(started_at: dt.datetime) -> None:
    if started_at < EARLIEST_TIME:
        raise DomainError("invalid_started_at", _("This time is before the year 2000."))
    if started_at > timezone.now() + CLOCK_SKEW:
        raise DomainError("invalid_started_at", _("This time is in the future."))


def _same_visit(visit: Visit, patient: Patient, kind: str) -> Visit:
    if visit.patient_id != patient.pk or visit.kind != kind:
        raise DomainError(
            "his_visit_id_conflict",
            _("This HIS visit id is already used for another patient or kind of visit."),
            {"visit_id": visit.pk},
        )
    return visit


@dataclass
class ChargePosting:
    """What a charges request left: the visit (with its locked credit line) and, in request
    order, each charge (new, or the one posted before with the same his_line_id)."""

    visit: Visit
    charges: list[Charge]
    new: set[str]  # the his_line_ids posted by this request: live, no void to look up


def charges_post(
    *,
    visit_id: int,
    institution: Institution,
    api_key: InstitutionApiKey | None,
    lines: list[ChargeLine],
) -> ChargePosting:
    """Add charges to an open visit, all or nothing.

    Lines already posted with the same content are skipped (a retry); the same
    ``his_line_id`` with other content is refused. The new lines' self-pay estimates are
    held against the credit line; if that would take available credit below zero, nothing
    is posted.
    """
    ids = [line.his_line_id for line in lines]
    if len(set(ids)) != len(ids):
        raise DomainError(
            "duplicate_his_line_id",
            _("The same his_line_id appears twice in this request."),
            {"his_line_ids": sorted({i for i in ids if ids.count(i) > 1})},
        )
    for charge_line in lines:
        _charge_line_check(charge_line)
    # No savepoint (two statements) when called inside the API's transaction: a refusal is
    # raised after the block, which therefore ends in an exception only on a fault of ours,
    # and that rolls back the caller's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        locked = locks.visit_lock(visit_id=visit_id, institution=institution)
        if locked is None:
            new, refusal = [], _visit_not_found_error()
        else:
            line, visit = locked
            posted = _charges_posted(visit=visit, his_line_ids=ids)
            new, refusal = _charges_decide(line=line, visit=visit, posted=posted, lines=lines)
            if refusal is None and new:
                for charge in _charges_write(line=line, visit=visit, lines=new, api_key=api_key):
                    posted[charge.his_line_id] = charge
    if refusal is not None:
        raise refusal
    return ChargePosting(
        visit=visit, charges=[posted[i] for i in ids], new={line.his_line_id for line in new}
    )


def _charge_line_check(line: ChargeLine) -> None:
    """A charge's fields agree: the rules of a line that its schema cannot state."""
    product = line.quantity * line.unit_price
    if abs(product - line.amount) >= Decimal("0.01"):
        raise DomainError(
            "amount_mismatch",
            _("amount must be quantity x unit_price (to the cent)."),
            {"his_line_id": line.his_line_id, "quantity_x_unit_price": str(product)},
        )
    if line.self_pay_estimate > line.amount:
        raise DomainError(
            "self_pay_estimate_exceeds_amount",
            _("self_pay_estimate cannot exceed the amount."),
            {"his_line_id": line.his_line_id},
        )


def _charges_posted(*, visit: Visit, his_line_ids: list[str]) -> dict[str, Charge]:
    """The visit's charges under these ids, with their voids and interim bills."""
    charges = visit.charges.filter(his_line_id__in=his_line_ids).select_related("void", "interim")
    return {charge.his_line_id: charge for charge in charges}


def _charges_decide(
    *, line: CreditLine, visit: Visit, posted: dict[str, Charge], lines: list[ChargeLine]
) -> tuple[list[ChargeLine], DomainError | None]:
    """The lines to post, or why none may be: the rules of ``charges_post``."""
    new = []
    for charge_line in lines:
        charge = posted.get(charge_line.his_line_id)
        if charge is None:
            new.append(charge_line)
        elif not charge_line.matches(charge):
            return [], DomainError(
                "his_line_id_conflict",
                _("This his_line_id was already posted with different content."),
                {"his_line_id": charge_line.his_line_id},
            )
    if new and visit.status != VisitStatus.OPEN:
        return [], _visit_closed_error(visit)
    ended = agreement_ended_refusal(visit.patient)
    if new and ended:
        return [], ended
    requested = sum((c.self_pay_estimate for c in new), ZERO)
    if requested > 0 and requested > line.available:
        return [], credit_limit_exceeded(available=line.available, requested=requested)
    new_total = visit.total + sum((c.amount for c in new), ZERO)
    if new_total > MAX_VISIT_TOTAL:
        return [], DomainError(
            "visit_total_too_large",
            _("The visit's total would exceed %(max)s; split it into several visits.")
            % {"max": MAX_VISIT_TOTAL},
            {"total": str(visit.total), "max": str(MAX_VISIT_TOTAL)},
        )
    return new, None


def _charges_write(
    *,
    line: CreditLine,
    visit: Visit,
    lines: list[ChargeLine],
    api_key: InstitutionApiKey | None,
) -> list[Charge]:
    """Save the decided charges, hold each one's estimate, add them to the visit's sums."""
    charges = Charge.objects.bulk_create(
        [Charge(visit=visit, posted_by=api_key, **vars(charge_line)) for charge_line in lines]
    )
    actor = actor_of(api_key)
    holds = [
        CreditEntry(
            kind=CreditEntryKind.HOLD,
            amount=charge.self_pay_estimate,
            actor=actor,
            visit=visit,
            charge=charge,
        )
        for charge in charges
    ]
    credit_moves(line=line, entries=holds)
    _visit_sums_add(
        visit=visit,
        total=sum((c.amount for c in charges), ZERO),
        held=sum((c.self_pay_estimate for c in charges), ZERO),
    )
    return charges


def _visit_sums_add(*, visit: Visit, total: Decimal, held: Decimal) -> None:
    """Add to a locked visit's ``total`` and ``held`` caches."""
    Visit.objects.filter(pk=visit.pk).update(total=F("total") + total, held=F("held") + held)
    visit.total += total
    visit.held += held


def charge_void(
    *,
    visit_id: int,
    institution: Institution,
    api_key: InstitutionApiKey | None,
    his_line_id: str,
    reason: str,
) -> tuple[Visit, Charge]:
    """Take a charge back and release its hold. Voiding a voided charge changes nothing.

    A charge on a bill (an interim one, or the final one once the visit is closed) can be
    voided only once that bill is paid: its self-pay part is then refunded
    (``refunds.refund_for_void``)."""
    with transaction.atomic():
        locked = locks.visit_lock(visit_id=visit_id, institution=institution)
        if locked is None:
            raise _visit_not_found_error()
        line, visit = locked
        charge = (
            Charge.objects.filter(visit=visit, his_line_id=his_line_id)
            .select_related("void", "interim__bill")
            .first()
        )
        if charge is None:
            raise DomainError(
                "charge_not_found",
                _("This visit has no charge with this his_line_id."),
                {"his_line_id": his_line_id},
            )
        if hasattr(charge, "void"):
            return visit, charge
        bill = charge_bill(visit=visit, charge=charge)
        if bill is not None and bill.status != BillStatus.PAID:
            raise _bill_not_paid_error(bill) if bill.interim else _visit_closed_error(visit)
        ChargeVoid.objects.create(charge=charge, reason=reason, voided_by=api_key)
        if bill is not None:
            refund_for_void(bill=bill, charge=charge, actor=actor_of(api_key), reason=reason)
            # The live charges; the bill keeps what was settled.
            _visit_sums_add(visit=visit, total=-charge.amount, held=ZERO)
        else:
            credit_move(
                line=line,
                kind=CreditEntryKind.RELEASE,
                amount=-charge.self_pay_estimate,
                actor=actor_of(api_key),
                visit=visit,
                charge=charge,
            )
            _visit_sums_add(visit=visit, total=-charge.amount, held=-charge.self_pay_estimate)
    return visit, charge


def _bill_not_paid_error(bill: Bill) -> DomainError:
    return DomainError(
        "bill_not_paid",
        _(
            "This charge is on a bill that is not paid: only a paid bill's charges can be "
            "voided (their self-pay part is then refunded)."
        ),
        {"bill_id": bill.pk},
    )


def visit_interim(
    *,
    visit_id: int,
    institution: Institution,
    api_key: InstitutionApiKey | None,
    his_settlement_id: str,
    settlement: Settlement,
) -> tuple[Visit, Bill, bool]:
    """Bill a long inpatient stay part-way; the stay goes on. Returns ``(visit, bill,
    created)``.

    Every live charge not billed yet goes on an interim bill of ``self_pay``, due as a
    closed visit's; their hold becomes the bill. ``total`` must equal those charges. The same
    ``his_settlement_id`` again with the same settlement returns the bill it made."""
    with transaction.atomic():
        locked = locks.visit_lock(visit_id=visit_id, institution=institution)
        if locked is None:
            raise _visit_not_found_error()
        line, visit = locked
        earlier = visit.bills.filter(interim=True, his_settlement_id=his_settlement_id).first()
        if earlier is not None:
            if _same_settlement(earlier, settlement):
                return visit, earlier, False
            raise DomainError(
                "his_settlement_id_conflict",
                _("This his_settlement_id was already billed with other numbers."),
                {"bill_id": earlier.pk},
            )
        _interim_check(visit)
        charge_ids = list(charges_unbilled(visit=visit).values_list("pk", flat=True))
        if not charge_ids:
            raise DomainError(
                "nothing_to_bill", _("Every charge of this stay is on a bill already.")
            )
        closed_at = _settlement_check(visit=visit, settlement=settlement)
        bill = _bill_raise(
            line=line,
            visit=visit,
            settlement=settlement,
            closed_at=closed_at,
            api_key=api_key,
            his_settlement_id=his_settlement_id,
        )
        InterimCharge.objects.bulk_create(
            [InterimCharge(charge_id=charge_id, bill=bill) for charge_id in charge_ids]
        )
        _visit_sums_add(visit=visit, total=ZERO, held=-visit.held)
        _bill_notify(visit=visit, bill=bill)
    return visit, bill, True


def _interim_check(visit: Visit) -> None:
    """Refuse an interim bill of a visit that cannot take one."""
    if visit.status != VisitStatus.OPEN:
        raise _visit_closed_error(visit)
    if visit.kind != CreditPool.INPATIENT:
        raise DomainError(
            "interim_not_inpatient",
            _("Only an inpatient stay is billed part-way: close an outpatient visit instead."),
        )
    ended = agreement_ended_refusal(visit.patient)
    if ended:
        raise ended


def visit_close(
    *,
    visit_id: int,
    institution: Institution,
    api_key: InstitutionApiKey | None,
    settlement: Settlement,
) -> Visit:
    """Settle a visit: its hold becomes a bill of ``self_pay`` (a zero bill is paid at once).

    ``total`` must equal the live charges on no interim bill, and the sum of its parts.
    Closing a closed visit again with the same settlement returns it unchanged.
    """
    with transaction.atomic():
        locked = locks.visit_lock(visit_id=visit_id, institution=institution)
        if locked is None:
            raise _visit_not_found_error()
        line, visit = locked
        if visit.status == VisitStatus.CLOSED:
            if _same_settlement(visit.bill, settlement):
                return visit
            raise _visit_closed_error(visit)
        ended = agreement_ended_refusal(visit.patient)
        if ended:
            raise ended
        closed_at = _settlement_check(visit=visit, settlement=settlement)
        bill = _bill_raise(
            line=line, visit=visit, settlement=settlement, closed_at=closed_at, api_key=api_key
        )
        visit.close()
        visit.held = ZERO
        visit.closed_at = closed_at
        visit.save(update_fields=["status", "held", "closed_at"])
        _bill_notify(visit=visit, bill=bill)
    return visit


def _settlement_check(*, visit: Visit, settlement: Settlement) -> dt.datetime:
    """Refuse a settlement that does not fit the visit's charges not billed yet; its
    closing time."""
    live_total = money_sum(charges_unbilled(visit=visit), "amount")
    if settlement.total != live_total:
        raise DomainError(
            "total_mismatch",
            _("The total does not match the visit's charges."),
            {
                "charges_total": str(live_total),
                "total": str(settlement.total),
                "difference": str(settlement.total - live_total),
            },
        )
    parts = settlement.insurance_fund + settlement.personal_account + settlement.self_pay
    if settlement.total != parts:
        raise DomainError(
            "settlement_mismatch",
            _("insurance_fund + personal_account + self_pay must equal the total."),
            {
                "total": str(settlement.total),
                "parts": str(parts),
                "difference": str(settlement.total - parts),
            },
        )
    now = timezone.now()
    closed_at = settlement.closed_at or now
    # After an interim bill, not before it: a bill is due after its closing time.
    last_bill = visit.bills.order_by("-closed_at").values_list("closed_at", flat=True).first()
    not_before = max(visit.started_at, last_bill) if last_bill else visit.started_at
    if closed_at < not_before or closed_at > now + CLOCK_SKEW:
        raise DomainError(
            "invalid_closed_at",
            _("closed_at must be between the visit's start (or its latest bill) and now."),
            {
                "started_at": timezone.localtime(visit.started_at).isoformat(),
                "not_before": timezone.localtime(not_before).isoformat(),
            },
        )
    return closed_at


def _bill_raise(
    *,
    line: CreditLine,
    visit: Visit,
    settlement: Settlement,
    closed_at: dt.datetime,
    api_key: InstitutionApiKey | None,
    his_settlement_id: str = "",
) -> Bill:
    """The visit's bill (an interim one when ``his_settlement_id`` is given), holding its
    self-pay on the credit line in place of the visit's hold."""
    # The hold always covers the bill up to its size, even if the limit was lowered since;
    # only a bill larger than the hold needs the credit still available for the rest.
    beyond_hold = settlement.self_pay - visit.held
    if beyond_hold > 0 and beyond_hold > line.available:
        raise credit_limit_exceeded(
            available=line.available + visit.held, requested=settlement.self_pay
        )
    paid = settlement.self_pay == 0
    bill = Bill.objects.create(
        visit=visit,
        interim=bool(his_settlement_id),
        his_settlement_id=his_settlement_id,
        patient_id=visit.patient_id,
        institution_id=visit.institution_id,
        credit_line=line,
        pool=visit.kind,
        total=settlement.total,
        insurance_fund=settlement.insurance_fund,
        personal_account=settlement.personal_account,
        self_pay=settlement.self_pay,
        insurance_account_balance=settlement.insurance_account_balance,
        closed_at=closed_at,
        due_at=closed_at + settings.BILL_DUE_AFTER[visit.kind],
        status=BillStatus.PAID if paid else BillStatus.UNPAID,
        paid_at=closed_at if paid else None,
    )
    actor = actor_of(api_key)
    settle = CreditEntry(kind=CreditEntryKind.SETTLE, amount=-visit.held, actor=actor, visit=visit)
    owed = CreditEntry(
        kind=CreditEntryKind.BILL, amount=bill.amount_due, actor=actor, visit=visit, bill=bill
    )
    credit_moves(line=line, entries=[settle, owed])
    return bill


def _bill_notify(*, visit: Visit, bill: Bill) -> None:
    """A new bill's SMS: what is owed, by when, and the link to pay it; a copy to each family
    member who pays for the patient when there is something to pay. A closed visit's SMS
    also says when nothing is owed; an interim bill's is sent only when something is."""
    link = payment_link_create(bill=bill) if bill.amount_due else None
    if bill.interim and link is None:
        return
    if bill.interim:
        template, dedup_key = "interim_bill", f"interim-bill:{bill.pk}"
    else:
        template, dedup_key = "visit_ended", f"visit-closed:{visit.pk}"
    context = {
        "patient_name": visit.patient.name,
        "institution": visit.institution.name,
        "amount_due": bill.amount_due,
        "due_at": bill.due_at,
        "link": payment_link_url(link) if link else "",
    }
    if link is None:
        # A stay billed part-way owes what its interim bills say: not "nothing to pay".
        context["after_interim"] = billed_part_way(visit=visit)
    sms_queue(to=visit.patient.phone, template=template, context=context, dedup_key=dedup_key)
    for payer in family_payers(visit.patient) if link else []:
        sms_queue(
            to=str(payer.phone),
            template=template,
            context={**context, "for_family": True},
            dedup_key=f"{dedup_key}:family:{payer.pk}",
        )


def _same_settlement(bill: Bill, settlement: Settlement) -> bool:
    fields = [
        "total",
        "insurance_fund",
        "personal_account",
        "self_pay",
        "insurance_account_balance",
    ]
    same = all(getattr(bill, name) == getattr(settlement, name) for name in fields)
    return same and (settlement.closed_at is None or settlement.closed_at == bill.closed_at)


def visit_count_report(
    *, institution: Institution, day: dt.date, outpatient: int, inpatient: int
) -> tuple[DailyVisitCount, bool]:
    """The HIS's count of all its visits on ``day`` (China time): stored, or replacing what
    it reported before for that day. Whether it is new."""
    today = timezone.localdate()
    if not today - dt.timedelta(days=settings.VISIT_COUNT_MAX_AGE_DAYS) <= day <= today:
        raise DomainError(
            "invalid_count_date",
            _("A count is of a day from %(days)s days ago to today.")
            % {"days": settings.VISIT_COUNT_MAX_AGE_DAYS},
            {"date": day.isoformat()},
        )
    return DailyVisitCount.objects.update_or_create(
        institution=institution,
        day=day,
        defaults={"outpatient": outpatient, "inpatient": inpatient},
    )
