"""The region's office in the demo: the periodic tasks at their hours (the overdue sweep,
the day's figures, credit limits, reconciliation, settlement statements, reminders, alerts,
the every-minute query of pending payments), the HIS's daily visit counts, the window's
till, collection staff working their cases, finance resolving differences, paying out
statements and writing off, a credit officer's limit decisions; and a few days that go
wrong on purpose (a payment notification lost at midnight, a till short, a bill paid twice,
a drug returned after payment), so that each screen has something to show at any size.

The office acts while the patients wait (``schedule`` gives its moments); what it asks of a
patient (to keep a promise, to pay an instalment) comes back as orders for their worker.
"""

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import (
    AgreementStatus,
    CreditLine,
    Institution,
    InstitutionApiKey,
    LimitChangeSource,
    Patient,
)
from accounts.services import credit_limit_change
from billing.collections.cases import (
    bill_write_off,
    case_assign,
    case_dispute,
    case_escalate,
    case_log_contact,
    case_plan,
    case_promise,
    case_resend_links,
)
from billing.collections.reminders import reminders_send
from billing.collections.sweep import overdue_sweep
from billing.credit import credit_limits_recompute_many
from billing.demo_region import cast
from billing.demo_region.cast import Person
from billing.demo_region.patients import HOUR, Staff
from billing.figures import figures_record
from billing.models import (
    BILL_OWED,
    Bill,
    BillStatus,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Charge,
    CollectionCase,
    ContactChannel,
    DifferenceKind,
    DifferenceStatus,
    Instalment,
    PaymentPlan,
    PaymentStatus,
    PromiseStatus,
    PromiseToPay,
    ReconciliationDifference,
    Resolution,
    SettlementStatement,
    SettlementStatus,
    Visit,
    WindowMethod,
)
from billing.payments.alerts import alerts_check
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.reconciliation import difference_resolve, reconciliation_run, till_close
from billing.payments.selectors import day_bounds, window_takings
from billing.payments.services import payment_notified, payment_start, payments_settle_pending
from billing.payments.settlement import settlement_pay_out, settlement_statements_build
from billing.visits.services import charge_void, visit_count_report
from creditcare.batching import batched
from creditcare.errors import DomainError

Order = tuple  # (kind, person index, when, *args): what ``Patients.advance`` takes
# The usage rate each institution's HIS reports, give or take a little: visits on credit
# against all its visits.
USAGE = {
    "demo-people-hospital": 0.38,
    "demo-tcm-hospital": 0.42,
    "demo-riverside-chc": 0.34,
    "demo-hill-clinic": 0.31,
}
NO_ANSWER = ("无人接听", "已关机", "号码停机", "接通后挂断")


class Office:
    def __init__(self, *, people: list[Person], seed: int, first: dt.date, last: dt.date):
        self.rng = random.Random(f"{seed}:office")
        self.people = {p.index: p for p in people}
        self.by_patient: dict[int, Person] = {}
        self.first, self.last = first, last
        self.staff = Staff.load()
        self.institutions = list(Institution.objects.filter(code__in=cast.INSTITUTION_SHARE))
        self.api_keys = {
            key.institution_id: key
            for key in InstitutionApiKey.objects.filter(
                institution__in=self.institutions, revoked_at=None
            ).order_by("created_at")
        }
        days = (last - first).days + 1
        # What goes wrong, spread over the period whatever its length: each from its day on,
        # on the first day it can (a bill to pay, cash in the till).
        self.mishaps = {
            "lost": [first + dt.timedelta(days=days // 3), last - dt.timedelta(days=3)],
            "twice": [first + dt.timedelta(days=days // 5)],
            "returned": [first + dt.timedelta(days=days // 4)],
            "short": [first + dt.timedelta(days=days // 2)],
        }
        self.outage_until: dt.datetime | None = None

    def learn(self, signed: dict[int, int]) -> None:
        for index, patient_id in signed.items():
            person = self.people[index]
            person.patient_id = patient_id
            self.by_patient[patient_id] = person

    def schedule(self, day: dt.date) -> list[tuple[dt.datetime, list[Callable[[], list]]]]:
        """The office's moments of ``day`` and what it does at each, in time order. The
        patients wait at each moment: the fewer the moments, the better they share out."""
        midnight = dt.datetime.combine(day, dt.time(), timezone.get_default_timezone())
        yesterday = day - dt.timedelta(days=1)
        moments: dict[float, list[Callable[[], list]]] = {}

        def add(hour: float, action: Callable[[], list] | None = None) -> None:
            moments.setdefault(hour, []).extend([action] if action else [])

        if yesterday >= self.first:
            add(5 / 60, self.sweep)
            add(0.5, lambda: self.figures(yesterday))
            if day.weekday() == 6:
                # Weekly here, nightly in production: a limit moves only after a few bills
                # paid on time (or one overdue, which the sweep acts on at once).
                add(2.5, self.limits)
            add(6.5, lambda: self.reconcile(yesterday))
            add(7, lambda: self.statements(yesterday))
        if day <= self.last:
            for hour in (8, 12, 16, 20):
                add(hour)  # the SMS provider's reports, the query of pending payments
            add(8, self.alerts)
            add(20, self.alerts)
            if day.weekday() < 6:
                add(9.5, self.collections)
            add(10, self.reminders)
            if day.weekday() < 5:
                add(14, self.finance)
            if (day - self.first).days % 14 == 13:
                add(16, self.credit_officer)
            add(17.75, lambda: self.till(day))
            add(23 + 50 / 60, lambda: self.visit_counts(day))
            if self.mishap_due("returned", day):
                add(12, lambda: self.mishap("returned", self.drug_returned))
            if self.mishap_due("twice", day):
                add(20, lambda: self.mishap("twice", self.paid_twice))
            if self.mishap_due("lost", day):
                add(23 + 58 / 60, lambda: self.mishap("lost", self.notification_lost))
        # The every-minute query of pending payments, here after the sweep and on the hour.
        return [
            (midnight + h * HOUR, [self.settle, *actions] if h % 1 == 0 or h < 0.1 else actions)
            for h, actions in sorted(moments.items())
        ]

    def mishap_due(self, name: str, day: dt.date) -> bool:
        return bool(self.mishaps[name]) and self.mishaps[name][0] <= day

    def mishap(self, name: str, happen: Callable[[], bool]) -> list:
        if happen():
            self.mishaps[name].pop(0)
        return []

    # --- the periodic tasks -----------------------------------------------------------------

    def settle(self) -> list:
        if self.outage_until and timezone.now() < self.outage_until:
            with override_settings(SANDBOX_UNREACHABLE=True):  # the channel's bad night
                payments_settle_pending()
        else:
            payments_settle_pending()
        return []

    def sweep(self) -> list:
        overdue_sweep()
        return []

    def figures(self, day: dt.date) -> list:
        figures_record(day)
        return []

    def limits(self) -> list:
        """The nightly recomputation of limits, chunk by chunk as its task does it."""
        signed = Patient.objects.filter(
            agreement__status__in=[AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED]
        ).order_by("pk")
        for chunk in batched(signed.values_list("pk", flat=True).iterator(), settings.SWEEP_CHUNK):
            with transaction.atomic():
                credit_limits_recompute_many(patient_ids=chunk)
        return []

    def reconcile(self, day: dt.date) -> list:
        """The sandbox's statement of the day against our books. (Alipay's statement is
        downloaded from Alipay: its days are not reconciled in the demo.)"""
        reconciliation_run(channel="sandbox", day=day)
        return []

    def statements(self, day: dt.date) -> list:
        settlement_statements_build(day=day)
        return []

    def alerts(self) -> list:
        alerts_check()
        return []

    def reminders(self) -> list:
        reminders_send()
        return []

    # --- the HIS's counts, the window's till -------------------------------------------------

    def visit_counts(self, day: dt.date) -> list:
        """Each HIS reports all its visits of the day: those on credit are some 30-45%."""
        start, end = day_bounds(day)
        on_credit = {
            (row["institution_id"], row["kind"]): row["n"]
            for row in Visit.objects.filter(started_at__gte=start, started_at__lt=end)
            .values("institution_id", "kind")
            .annotate(n=Count("pk"))
            .order_by()
        }
        for institution in self.institutions:
            rate = USAGE[institution.code] + self.rng.uniform(-0.05, 0.05)
            counts = {}
            for kind in ("outpatient", "inpatient"):
                credit = on_credit.get((institution.pk, kind), 0)
                counts[kind] = round(credit / rate) + (self.rng.randint(2, 12) if not credit else 0)
            if institution.code not in cast.HOSPITALS:
                counts["inpatient"] = 0
            visit_count_report(institution=institution, day=day, **counts)
        return []

    def till(self, day: dt.date) -> list:
        """The cashier counts the till at closing: what was recorded, but on one day the cash
        is 50.00 short."""
        recorded = window_takings(cashier=self.staff.window, day=day)
        if not recorded:
            return []
        counts = dict(recorded)
        short = Decimal("50.00")
        if self.mishap_due("short", day) and counts.get(WindowMethod.CASH, 0) >= short:
            counts[WindowMethod.CASH] -= short
            self.mishaps["short"].pop(0)
        till_close(cashier=self.staff.window, day=day, counts=counts)
        return []

    # --- collection staff ----------------------------------------------------------------------

    def collections(self) -> list[Order]:
        """The collector's morning: take new cases, call those not called for four days;
        promises, payment plans, escalations, a dispute now and then."""
        orders: list[Order] = []
        now = timezone.now()
        collector = self.staff.collector
        for case in _cases_to_work(now):
            person = self.by_patient.get(case.patient_id)
            if person is None:
                continue  # the demo's own patients: left as the demo made them
            if case.assigned_to_id is None:
                case_assign(case=case, agent=collector, actor=collector)
            if case.called or case.promised or (case.planned and not case.late):
                continue
            if case.disputed:
                case_dispute(case=case, actor=collector, disputed=False, note="医院核实收费无误")
                continue
            reached = not person.unreachable and self.rng.random() < 0.7
            if not reached:
                self.not_reached(case, now)
                continue
            orders += self.reached(case, person, now)
        return orders

    def not_reached(self, case: CollectionCase, now: dt.datetime) -> None:
        collector = self.staff.collector
        outcome = self.rng.choice(NO_ANSWER)
        case_log_contact(case=case, actor=collector, channel=ContactChannel.CALL, outcome=outcome)
        if self.rng.random() < 0.5:
            case_resend_links(case=case, actor=collector)
        if not case.escalated and now - case.opened_at > dt.timedelta(days=45):
            case_escalate(case=case, actor=collector, note="多次联系未果，转法务催收")

    def reached(self, case: CollectionCase, person: Person, now: dt.datetime) -> list[Order]:
        collector, rng, today = self.staff.collector, self.rng, timezone.localdate()
        bills = list(
            Bill.objects.filter(
                patient_id=case.patient_id, status=BillStatus.OVERDUE, plan__isnull=True
            ).order_by("-self_pay")
        )
        if not bills:
            return []
        call = {"case": case, "actor": collector, "channel": ContactChannel.CALL}
        big = bills[0]
        if rng.random() < 0.03:
            case_log_contact(**call, outcome="已接通，对收费有异议")
            case_dispute(
                case=case, actor=collector, disputed=True, note="患者称检查未做，转医院核实"
            )
            return []
        if big.amount_due >= Decimal("600") and rng.random() < 0.6:
            case_log_contact(**call, outcome="已接通，同意分期还款")
            return self.plan(case, person, big, today)
        if rng.random() < 0.75:
            case_log_contact(**call, outcome="已接通，承诺还款")
            owed = sum((b.amount_due for b in bills), Decimal("0.00"))
            day = today + dt.timedelta(days=rng.randint(1, 7))
            try:
                case_promise(case=case, actor=collector, promised_date=day, amount=owed)
            except DomainError:  # what is owed moved meanwhile (an instalment came due)
                return []
            keeps = rng.random() < (0.45 if person.payer == "delinquent" else 0.8)
            if keeps:
                when = _during(day, rng) if rng.random() < 0.8 else now + rng.uniform(2, 30) * HOUR
                return [("pay_overdue", person.index, when)]
            return []
        case_log_contact(**call, outcome="已接通，称近期会还款")
        return []

    def plan(self, case: CollectionCase, person: Person, bill: Bill, today: dt.date) -> list:
        """Three weekly instalments; the patient pays most of them when due."""
        due = bill.amount_due
        part = (due / 3).quantize(Decimal("0.01"))
        amounts = [part, part, due - 2 * part]
        days = [today + dt.timedelta(days=1 + 7 * n) for n in range(3)]
        plan = case_plan(
            case=case,
            actor=self.staff.collector,
            bill=bill,
            instalments=list(zip(days, amounts, strict=True)),
            note="患者经济困难，分三期",
        )
        orders = []
        for instalment in plan.instalments.select_related("payment_link").order_by("number"):
            if self.rng.random() < (0.6 if person.payer == "delinquent" else 0.9):
                when = _during(timezone.localdate(instalment.due_at), self.rng)
                orders.append(("pay", person.index, when, ("link", instalment.payment_link.pk)))
        return orders

    # --- finance -----------------------------------------------------------------------------

    def finance(self) -> list:
        """Finance's afternoon: the differences of last week resolved, statements paid out
        (T+1), on Mondays bills 75 days overdue written off."""
        now, finance = timezone.now(), self.staff.finance
        cutoff = self.last - dt.timedelta(days=6)
        for difference in ReconciliationDifference.objects.filter(
            status=DifferenceStatus.OPEN, run__day__lt=min(cutoff, timezone.localdate())
        ).select_related("run"):
            if difference.kind == DifferenceKind.COUNT:
                resolution, reason = Resolution.WRITTEN_OFF, "现金短款，经核实为找零失误，核销"
            else:
                resolution, reason = (
                    Resolution.TIMING,
                    "通知丢失、渠道查询中断，次日补记入账：跨日差异",
                )
            difference_resolve(
                difference=difference, resolution=resolution, actor=finance, reason=reason
            )
        for statement in SettlementStatement.objects.filter(
            status=SettlementStatus.TO_PAY, day__lt=timezone.localdate() - dt.timedelta(days=1)
        ).select_related("institution"):
            settlement_pay_out(
                statement=statement,
                actor=finance,
                transfer_reference=f"BOC{statement.day:%Y%m%d}{statement.institution_id:03d}"
                f"{statement.channel[:2].upper()}",
            )
        if timezone.localdate().weekday() == 0:
            for bill in Bill.objects.filter(
                status__in=BILL_OWED, due_at__lt=now - dt.timedelta(days=75), plan__isnull=True
            ).filter(patient__citizen_card__startswith=cast.CARD_PREFIX):
                bill_write_off(
                    bill=bill, actor=finance, reason="逾期超过75天，多次催收无果，经审批核销"
                )
        return []

    def credit_officer(self) -> list:
        """Every other week a credit officer raises the outpatient limit of a patient who
        comes often and pays on time (a staff decision the nightly policy leaves alone)."""
        paid = (
            Bill.objects.filter(status=BillStatus.PAID, self_pay__gt=0, pool="outpatient")
            .filter(patient__agreement__status=AgreementStatus.ACTIVE)
            .exclude(patient__bills__status__in=BILL_OWED)
            .values("patient_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=4)
            .order_by("-n", "patient_id")[:5]
        )
        for row in paid[: self.rng.randint(1, 2)]:
            line = CreditLine.objects.get(patient_id=row["patient_id"], pool="outpatient")
            if line.limit < Decimal("600.00"):
                credit_limit_change(
                    credit_line=line,
                    new_limit=Decimal("600.00"),
                    reason="慢病患者，门诊用药频繁，还款记录良好，经审核提高额度",
                    source=LimitChangeSource.STAFF,
                    actor=self.staff.officer,
                )
        return []

    # --- the days that go wrong ------------------------------------------------------------

    def _owed_bill(self) -> Bill | None:
        """A bill to pay now: the latest unpaid, else one overdue (never of someone nobody
        reaches: theirs stay for the collection staff), with no payment under way."""
        reachable = [p for p, person in self.by_patient.items() if not person.unreachable]
        bills = (
            Bill.objects.filter(self_pay__gt=0, patient_id__in=reachable)
            .exclude(payments__status=PaymentStatus.PENDING)
            .exclude(plan__isnull=False)
        )
        return (
            bills.filter(status=BillStatus.UNPAID).order_by("-closed_at").first()
            or bills.filter(status=BillStatus.OVERDUE).order_by("-closed_at").first()
        )

    def notification_lost(self) -> bool:
        """Two minutes before midnight a patient pays at the sandbox, and its notification is
        lost; the channel then answers no query until the morning (``SANDBOX_UNREACHABLE``,
        the sandbox's switch for a channel's bad night). So the morning's reconciliation
        finds money on the day's statement that our books lack; the query records it a
        little later, and the next day's statement lacks what our books have that day."""
        bill = self._owed_bill()
        if bill is None:
            return False
        payment, _url = payment_start(link=bill.payment_link, channel="sandbox")
        SandboxGateway().checkout(payment, "PAID")  # paid; its notification never arrives
        midnight = dt.datetime.combine(
            timezone.localdate() + dt.timedelta(days=1), dt.time(), timezone.get_default_timezone()
        )
        self.outage_until = midnight + 6.25 * HOUR  # back before the 6:30 reconciliation
        return True

    def paid_twice(self) -> bool:
        """A patient pays the same bill in two tabs: the second payment is refunded at once."""
        bill = self._owed_bill()
        if bill is None:
            return False
        gateway = SandboxGateway()
        payments = [payment_start(link=bill.payment_link, channel="sandbox")[0] for _ in "ab"]
        for payment in payments:
            notification = gateway.parse_fields(gateway.checkout(payment, "PAID"))
            payment_notified(channel="sandbox", notification=notification)
        return True

    def drug_returned(self) -> bool:
        """A patient brings back a drug of a bill paid through the sandbox: the HIS voids its
        charge and its self-pay part goes back through the channel."""
        bill = (
            Bill.objects.filter(
                status=BillStatus.PAID,
                self_pay__gt=0,
                payments__channel="sandbox",
                payments__status=PaymentStatus.SUCCEEDED,
                visit__charges__category="drug",
                visit__charges__void=None,
            )
            .exclude(payments__channel__in=["alipay", "window"])
            .order_by("-paid_at")
            .first()
        )
        if bill is None:
            return False
        charge = Charge.objects.filter(visit=bill.visit_id, category="drug", void=None).first()
        charge_void(
            visit_id=bill.visit_id,
            institution=bill.institution,
            api_key=self.api_keys.get(bill.institution_id),
            his_line_id=charge.his_line_id,
            reason="患者退药，药房已收回",
        )
        return True


def _cases_to_work(now: dt.datetime):
    """The open cases, most urgent first, with what keeps them waiting: called in the last
    four days, a promise pending, a plan (and whether an instalment of it is late)."""
    case = OuterRef("pk")
    return (
        CollectionCase.objects.filter(status=CaseStatus.OPEN)
        .annotate(
            called=Exists(
                CaseEvent.objects.filter(
                    case=case,
                    kind=CaseEventKind.CONTACT,
                    created_at__gt=now - dt.timedelta(days=4),
                )
            ),
            promised=Exists(PromiseToPay.objects.filter(case=case, status=PromiseStatus.PENDING)),
            planned=Exists(PaymentPlan.objects.filter(case=case, bill__status__in=BILL_OWED)),
            late=Exists(Instalment.objects.filter(plan__case=case, paid_at=None, due_at__lt=now)),
        )
        .order_by("-priority", "pk")
    )


def _during(day: dt.date, rng: random.Random) -> dt.datetime:
    """A moment of ``day`` when people pay (9:00 to 20:00)."""
    start = dt.datetime.combine(day, dt.time(), timezone.get_default_timezone())
    return start + rng.uniform(9, 20) * HOUR
