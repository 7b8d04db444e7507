"""The patients' side of the demo region, acted out through the services in time order: each
signs up (at a window or online); the HIS of each institution opens their visits, posts and
now and then voids charges, and closes each visit with its insurance settlement; the patient
pays the bill (Alipay, the sandbox channel, or at a window) on time, late or not at all; a
drug returned after payment is voided and refunded. The SMS provider's delivery reports come
back for the messages sent.

A ``Patients`` holds some of the region's people (all of them, or one worker's share) and a
queue of their coming events; ``advance(until)`` acts out every event before ``until``, each
with the clock moved to its moment. Each person draws from a ``random.Random`` of their own,
so what they do does not depend on how the people are shared among workers.
"""

import datetime as dt
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.models import (
    CreditAgreement,
    Institution,
    InstitutionApiKey,
    SigningChannel,
    User,
)
from accounts.services import agreement_terminate, patient_enrol
from billing.demo_region import cast
from billing.demo_region.cast import Line, Person
from billing.models import (
    Bill,
    BillStatus,
    PaymentLink,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    WindowMethod,
)
from billing.payments.gateways import Notification
from billing.payments.gateways.sandbox import SandboxGateway
from billing.payments.refunds import refund_pay_out
from billing.payments.selectors import window_takings
from billing.payments.services import (
    invoice_mark_printed,
    payment_notified,
    payment_start,
    payment_take_at_window,
)
from billing.visits import services as his
from creditcare.errors import DomainError
from notifications.models import SmsMessage, SmsStatus
from notifications.services import sms_delivery_report

MINUTE, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
WINDOW_OPENS, WINDOW_CLOSES = 7.5, 17.5  # the cashiers' hours, China time
VISITS_PER_WEEKDAY = (1.25, 1.1, 1.05, 1.05, 1.0, 0.75, 0.6)  # Monday first; mean 0.97
# What the SMS provider reports back: (share, Twilio's status).
DELIVERY = ((0.955, "delivered"), (0.025, "undelivered"), (0.02, "failed"))
UNDELIVERED = "30003 Unreachable destination handset"

LinkRef = tuple[str, int]  # ("visit" | "bill" | "link", id): which payment link to pay


@dataclass
class Staff:
    """The demo's staff who act in the region (``accounts.demo.STAFF``)."""

    window: User
    collector: User
    finance: User
    officer: User

    @classmethod
    def load(cls) -> "Staff":
        names = ("window", "collector", "finance", "creditofficer")
        users = {u.username: u for u in User.objects.filter(username__in=names)}
        return cls(*(users[name] for name in names))


@dataclass
class VisitState:
    """A visit as its HIS knows it: the lines it posted (by ``his_line_id``), those voided."""

    person: Person
    institution: Institution
    kind: str
    visit_id: int
    lines: dict[str, Line] = field(default_factory=dict)
    voided: set[str] = field(default_factory=set)

    def live(self) -> dict[str, Line]:
        return {n: line for n, line in self.lines.items() if n not in self.voided}


class Patients:
    def __init__(
        self,
        *,
        people: list[Person],
        seed: int,
        scale: float,
        clock,
        worker: int = 0,
        workers: int = 1,
    ):
        self.people = {p.index: p for p in people}
        self.seed, self.scale, self.clock = seed, scale, clock
        self.worker, self.workers = worker, workers
        self.queue: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self.sequence = itertools.count()
        self.rngs: dict[int, random.Random] = {}
        self.sms_rng = random.Random(f"{seed}:sms:{worker}")
        self.tally: Counter = Counter()
        self.signed: dict[int, int] = {}  # person index -> patient id, since last reported
        self.visits: dict[int, VisitState] = {}  # closed with something to pay
        self.visit_numbers = itertools.count(1)
        self.institutions = {
            i.code: i for i in Institution.objects.filter(code__in=cast.INSTITUTION_SHARE)
        }
        self.api_keys = {
            key.institution_id: key
            for key in InstitutionApiKey.objects.filter(
                institution__in=self.institutions.values(), revoked_at=None
            ).order_by("created_at")
        }
        self.staff = Staff.load()
        self.sandbox = SandboxGateway()

    # --- the queue ---------------------------------------------------------------------------

    def at(self, when: dt.datetime, action: Callable, *args, **kwargs) -> None:
        when = max(when, timezone.now())  # never back in time
        heapq.heappush(self.queue, (when, next(self.sequence), partial(action, *args, **kwargs)))

    def rng(self, person: Person) -> random.Random:
        if person.index not in self.rngs:
            self.rngs[person.index] = random.Random(f"{self.seed}:{person.index}")
        return self.rngs[person.index]

    def advance(self, until: dt.datetime, *, day: dt.date | None = None, orders=()) -> dict:
        """Take the office's ``orders``, plan ``day`` if given, act out every event before
        ``until``; on the hour, the delivery reports of (this worker's share of) the SMS sent
        by then. What happened, for the office."""
        for kind, index, when, *args in orders:
            person = self.people[index]
            if kind == "pay_overdue":
                self.at(when, self.pay_overdue, person)
            else:
                self.at(when, self.pay, person, *args)
        if day is not None:
            self.plan_day(day)
        while self.queue and self.queue[0][0] < until:
            when, _n, action = heapq.heappop(self.queue)
            self.clock.move_to(when)
            action()
        if until.minute == 0 or until.hour == 0:  # on the hour, and after midnight
            self.clock.move_to(max(timezone.now(), until - dt.timedelta(seconds=1)))
            self.delivery_reports(before=until - MINUTE)
        signed, self.signed = self.signed, {}
        tally, self.tally = self.tally, Counter()
        return {"signed": signed, "tally": tally}

    # --- days, sign-ups, leaving ---------------------------------------------------------------

    def plan_day(self, day: dt.date) -> None:
        midnight = dt.datetime.combine(day, dt.time(), timezone.get_default_timezone())
        weekday = VISITS_PER_WEEKDAY[day.weekday()]
        for person in self.people.values():
            if person.signs_at.date() == day:
                self.at(person.signs_at, self.sign_up, person)
            elif person.patient_id is not None:
                rng = self.rng(person)
                expected = person.rate * self.scale * weekday
                for _visit in range(int(expected) + (rng.random() < expected % 1)):
                    self.plan_visit(person, midnight, rng)

    def plan_visit(self, person: Person, midnight: dt.datetime, rng: random.Random) -> None:
        shares = [(share, code) for code, share in cast.INSTITUTION_SHARE.items()]
        where = person.home if rng.random() < 0.75 else cast.pick(rng, shares)
        if rng.random() < 0.035 * (2 if person.age >= 60 else 1):  # a stay
            where = where if where in cast.HOSPITALS else "demo-people-hospital"
            admitted = midnight + rng.triangular(0, 24, 10) * HOUR
            self.at(admitted, self.admit, person, self.institutions[where])
        elif rng.random() < 0.04:  # a night at the emergency department
            start = midnight + rng.uniform(0, 24) * HOUR
            self.at(start, self.consult, person, self.institutions["demo-people-hospital"], True)
        else:
            start = midnight + rng.triangular(7.5, 17.5, 9.5) * HOUR
            self.at(start, self.consult, person, self.institutions[where], False)

    def sign_up(self, person: Person) -> None:
        home = self.institutions[person.home]
        agreement = patient_enrol(
            details=person.details,
            institution=home,
            channel=SigningChannel.ONLINE if person.online else SigningChannel.WINDOW,
            actor=None if person.online else self.staff.window,
        )
        person.patient_id = agreement.patient_id
        self.signed[person.index] = person.patient_id
        self.tally["signed"] += 1
        rng, now = self.rng(person), timezone.now()
        if person.ill_at_sign_up:
            self.at(now + rng.uniform(5, 30) * MINUTE, self.consult, person, home, False)
        if person.moves_away_after:
            self.at(now + person.moves_away_after * DAY, self.move_away, person, 0)

    def move_away(self, person: Person, tries: int) -> None:
        agreement = CreditAgreement.objects.get(patient_id=person.patient_id)
        try:
            agreement_terminate(
                agreement=agreement, actor=self.staff.window, reason="已迁出本区，本人申请解约"
            )
            self.tally["terminated"] += 1
        except DomainError:  # bills still to pay, or suspended: they come back later
            if tries < 4:
                self.at(timezone.now() + 10 * DAY, self.move_away, person, tries + 1)

    # --- the HIS --------------------------------------------------------------------------------

    def open(self, person: Person, institution: Institution, kind: str, plan) -> VisitState | None:
        number = f"{timezone.localdate():%Y%m%d}{self.worker}{next(self.visit_numbers):06d}"
        try:
            visit, _created = his.visit_open(
                institution=institution,
                api_key=self.api_keys.get(institution.pk),
                citizen_card=person.card,
                kind=kind,
                his_visit_id=("ZY" if kind == "inpatient" else "MZ") + number,
                department=plan.department,
                doctor=plan.doctor,
                started_at=timezone.now(),
            )
        except DomainError:  # suspended or ended: treated, and paid for, the usual way
            self.tally["refused"] += 1
            return None
        self.tally[kind] += 1
        return VisitState(person, institution, kind, visit.pk)

    def post(self, state: VisitState, lines: list[Line]) -> None:
        """Post the lines, all or nothing; when the credit left does not cover them, the HIS
        posts fewer (the rest is paid at the window, outside the scheme)."""
        lines = sorted(lines, key=lambda line: line.self_pay_estimate)
        while lines:
            numbers = [str(len(state.lines) + n) for n in range(1, len(lines) + 1)]
            try:
                his.charges_post(
                    visit_id=state.visit_id,
                    institution=state.institution,
                    api_key=self.api_keys.get(state.institution.pk),
                    lines=[_charge_line(n, line) for n, line in zip(numbers, lines, strict=True)],
                )
            except DomainError as error:
                if error.code != "credit_limit_exceeded":
                    raise
                self.tally["credit_refused"] += 1
                lines = lines[:-1]
                continue
            state.lines.update(zip(numbers, lines, strict=True))
            return

    def void(self, state: VisitState, number: str, reason: str) -> None:
        his.charge_void(
            visit_id=state.visit_id,
            institution=state.institution,
            api_key=self.api_keys.get(state.institution.pk),
            his_line_id=number,
            reason=reason,
        )
        state.voided.add(number)
        self.tally["voided"] += 1

    def consult(self, person: Person, institution: Institution, emergency: bool) -> None:
        """A consultation: the visit opens at registration; the HIS posts its charges (the
        registration fee and what was ordered) at the cashier's, then closes it."""
        rng = self.rng(person)
        plan = cast.outpatient(rng, person, institution.code)
        if emergency:
            plan.department = "急诊科"
        state = self.open(person, institution, "outpatient", plan)
        if state is None:
            return
        ordered = timezone.now() + rng.uniform(15, 80) * MINUTE
        self.at(ordered, self.post, state, [plan.registration, *plan.orders])
        if len(plan.orders) > 1 and rng.random() < 0.03:  # the wrong item, taken back
            self.at(ordered + rng.uniform(2, 10) * MINUTE, self.void_open, state)
        self.at(ordered + rng.uniform(10, 40) * MINUTE, self.close, state)

    def void_open(self, state: VisitState) -> None:
        numbers = [n for n, line in state.live().items() if line.category != "registration"]
        if numbers:
            self.void(state, numbers[-1], "开错项目，已撤销")

    def admit(self, person: Person, institution: Institution) -> None:
        """A stay: the admission's charges, a ward round's each day, the discharge."""
        rng = self.rng(person)
        plan = cast.stay(rng, person)
        state = self.open(person, institution, "inpatient", plan)
        if state is None:
            return
        self.post(state, plan.admission(rng))
        tz = timezone.get_default_timezone()
        midnight = dt.datetime.combine(timezone.localdate(), dt.time(), tz)
        for number in range(1, plan.nights + 1):
            ward_round = midnight + number * DAY + rng.uniform(8, 11) * HOUR
            self.at(ward_round, self.ward_day, state, plan, number)
        self.at(midnight + plan.nights * DAY + rng.uniform(11.2, 15) * HOUR, self.close, state)

    def ward_day(self, state: VisitState, plan: cast.StayPlan, number: int) -> None:
        self.post(state, plan.day(self.rng(state.person), number))

    def close(self, state: VisitState) -> None:
        rng, now = self.rng(state.person), timezone.now()
        live = state.live().values()
        total = sum((line.amount for line in live), Decimal("0.00"))
        self_pay = sum((line.self_pay_estimate for line in live), Decimal("0.00"))
        fund, account, balance = cast.split(rng, state.person, total, self_pay)
        his.visit_close(
            visit_id=state.visit_id,
            institution=state.institution,
            api_key=self.api_keys.get(state.institution.pk),
            settlement=his.Settlement(
                total=total,
                insurance_fund=fund,
                personal_account=account,
                self_pay=self_pay,
                insurance_account_balance=balance,
                closed_at=now,
            ),
        )
        self.tally["bills"] += 1
        if self_pay:
            self.visits[state.visit_id] = state
            self.plan_payment(state, due=now + settings.BILL_DUE_AFTER[state.kind], rng=rng)

    # --- paying ---------------------------------------------------------------------------------

    def plan_payment(self, state: VisitState, *, due: dt.datetime, rng: random.Random) -> None:
        """When the patient will pay (if ever), by their habit: most within hours, reliable
        payers almost always by the due time, others late, some only when collection staff
        get a promise, some never."""
        person, now, r = state.person, timezone.now(), rng.random()
        if person.payer == "never":
            return
        if person.payer == "reliable":
            hours = (
                rng.uniform(0.05, 3)
                if r < 0.72
                else rng.uniform(3, 40)
                if r < 0.95
                else rng.uniform(40, 46)
                if r < 0.985
                else None
            )
            days_late = rng.uniform(0.5, 6)
        elif person.payer == "sloppy":
            if r >= 0.95:
                return  # left to the collection staff
            hours = rng.uniform(0.1, 6) if r < 0.40 else rng.uniform(6, 44) if r < 0.62 else None
            days_late = rng.uniform(0.5, 20)
        else:
            if r >= 0.5:
                return  # never, unless collection staff get a promise
            hours = rng.uniform(1, 40) if r < 0.2 else None
            days_late = rng.uniform(3, 30)
        channel = _channel(rng, person)
        if hours is None:
            when = due + days_late * DAY
        elif state.kind == "inpatient" and rng.random() < 0.5:  # at the discharge desk
            when, channel = now + rng.uniform(0.2, 1.5) * HOUR, "window"
        else:
            when = now + hours * HOUR
        self.at(when, self.pay, person, ("visit", state.visit_id), channel)

    def pay_overdue(self, person: Person) -> None:
        """A promise kept: the patient pays what is overdue."""
        owed = Bill.objects.filter(
            patient_id=person.patient_id, status=BillStatus.OVERDUE, plan__isnull=True
        ).values_list("pk", flat=True)
        for bill_id in owed:
            self.pay(person, ("bill", bill_id), _channel(self.rng(person), person))

    def pay(self, person: Person, ref: LinkRef, channel: str = "") -> None:
        """The patient pays through a payment link (a bill's, or an instalment's) at a
        channel: online at the hours people pay, at the window while it is open."""
        rng = self.rng(person)
        channel = channel or _channel(rng, person)
        now = timezone.localtime()
        later = _window_time(now, rng) if channel == "window" else _online_time(now, rng)
        if later is not None:
            self.at(later, self.pay, person, ref, channel)
            return
        link = _link(ref)
        if not link.amount_due:
            return  # paid meanwhile
        if channel == "window":
            self.pay_at_window(person, link, rng)
        elif channel == "alipay":
            self.pay_alipay(link, rng)
        else:
            self.pay_sandbox(person, ref, link, rng)

    def pay_at_window(self, person: Person, link: PaymentLink, rng: random.Random) -> None:
        method = person.window_method
        payment_take_at_window(
            bill=link.bill,
            amount=link.amount_due,
            method=method,
            actor=self.staff.window,
            reference="" if method == WindowMethod.CASH else f"{rng.randrange(10**8):08d}",
        )
        self.tally["paid:window"] += 1
        if rng.random() < 0.2:  # the patient asks for the paper invoice
            bill = Bill.objects.select_related("invoice").get(pk=link.bill_id)
            if bill.status == BillStatus.PAID:
                invoice_mark_printed(invoice=bill.invoice, actor=self.staff.window)
        self.maybe_return_drug(link, rng)

    def pay_alipay(self, link: PaymentLink, rng: random.Random) -> None:
        """Alipay as the demo plays it: the checkout is signed for real (nothing is sent to
        Alipay), and Alipay's notification is acted on as the notify view acts on one whose
        signature checks out. (Alipay's statements and refunds would need Alipay itself:
        the demo neither reconciles its days nor refunds its payments.)"""
        payment, _url = payment_start(link=link, channel="alipay", client_ip="10.8.0.20")
        now = timezone.localtime()
        trade_no = f"{now:%Y%m%d}2200{rng.randrange(10**16):016d}"
        payment_notified(
            channel="alipay",
            notification=Notification(
                out_trade_no=payment.out_trade_no,
                gateway_trade_no=trade_no,
                amount=payment.amount,
                status=PaymentStatus.SUCCEEDED,
                raw={
                    "out_trade_no": payment.out_trade_no,
                    "trade_no": trade_no,
                    "total_amount": f"{payment.amount:.2f}",
                    "trade_status": "TRADE_SUCCESS",
                    "gmt_payment": f"{now:%Y-%m-%d %H:%M:%S}",
                    "app_id": settings.ALIPAY_APP_ID,
                    "demo": "played by seed_demo --region",
                },
            ),
        )
        self.tally["paid:alipay"] += 1

    def pay_sandbox(self, person: Person, ref: LinkRef, link: PaymentLink, rng) -> None:
        """The sandbox's checkout page, its buttons pressed: mostly paid; now and then
        cancelled or failed (the patient tries again), or left half way (the every-minute
        query cancels it; they come back later); rarely paid in two tabs."""
        payment, _url = payment_start(link=link, channel="sandbox", client_ip="10.8.0.21")
        r, now = rng.random(), timezone.now()
        if r < 0.015:  # left at the checkout
            self.at(now + rng.uniform(40, 120) * MINUTE, self.pay, person, ref, "sandbox")
            return
        if r < 0.045:
            self.press(payment, "CLOSED" if r < 0.035 else "FAILED")
            self.at(now + rng.uniform(1, 15) * MINUTE, self.pay, person, ref, "sandbox")
            return
        second = None
        if r > 0.998 and link.instalment_id is None:
            second = payment_start(link=link, channel="sandbox")[0]
        self.press(payment, "PAID")
        self.tally["paid:sandbox"] += 1
        if second is not None:
            self.press(second, "PAID")  # the bill is paid already: refunded at once
        self.maybe_return_drug(link, rng)

    def press(self, payment, word: str) -> None:
        fields = self.sandbox.checkout(payment, word)
        payment_notified(channel="sandbox", notification=self.sandbox.parse_fields(fields))

    # --- refunds ----------------------------------------------------------------------------------

    def maybe_return_drug(self, link: PaymentLink, rng: random.Random) -> None:
        """Now and then a drug is brought back after the bill was paid in one payment (the
        sandbox's or the window's: Alipay's refunds would need Alipay)."""
        state = self.visits.get(link.bill.visit_id)
        if state is None or rng.random() >= 0.012:
            return
        paid = Bill.objects.filter(pk=link.bill_id, status=BillStatus.PAID).exists()
        taken = link.bill.payments.filter(status=PaymentStatus.SUCCEEDED).count()
        drugs = [n for n, line in state.live().items() if line.category == "drug"]
        if paid and taken == 1 and drugs:
            later = timezone.localtime() + rng.uniform(2, 30) * HOUR
            self.at(_window_time(later, rng) or later, self.return_drug, state, drugs[0])

    def return_drug(self, state: VisitState, number: str) -> None:
        """The HIS voids the drug's charge: its self-pay part is refunded, through the
        sandbox or waiting at the window, where the patient collects it later."""
        refunds = Refund.objects.filter(payment__bill__visit_id=state.visit_id)
        before = set(refunds.values_list("pk", flat=True))
        self.void(state, number, "患者退药，药房已收回")
        rng = self.rng(state.person)
        for refund in refunds.exclude(pk__in=before):
            self.tally["refunds"] += 1
            if refund.status == RefundStatus.AT_WINDOW:
                later = timezone.localtime() + rng.uniform(1, 40) * HOUR
                self.at(_window_time(later, rng) or later, self.pay_out, refund.pk)

    def pay_out(self, refund_id: int) -> None:
        """Back to the card it was paid with, or in cash; by bank transfer when the till has
        not taken that much today (a till's count cannot be less than nothing)."""
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        window = self.staff.window
        if refund.payment.method == WindowMethod.CARD:
            method, till = RefundMethod.CARD, WindowMethod.CARD
        else:
            method, till = RefundMethod.CASH, WindowMethod.CASH
        if window_takings(cashier=window, day=timezone.localdate()).get(till, 0) < refund.amount:
            method = RefundMethod.BANK_TRANSFER
        refund_pay_out(refund=refund, actor=window, method=method, note="患者到窗口领取")

    # --- the SMS provider ---------------------------------------------------------------------

    def delivery_reports(self, *, before: dt.datetime) -> None:
        """The provider's delivery reports of the messages sent (this worker's share)."""
        sent = (
            SmsMessage.objects.filter(status=SmsStatus.SENT, sent_at__lt=before)
            .annotate(share=F("pk") % self.workers)
            .filter(share=self.worker)
            .values_list("provider_message_id", flat=True)
        )
        for provider_id in list(sent):
            status = cast.pick(self.sms_rng, DELIVERY)
            sms_delivery_report(
                provider_message_id=provider_id,
                provider_status=status,
                error="" if status == "delivered" else UNDELIVERED,
            )


def _link(ref: LinkRef) -> PaymentLink:
    kind, pk = ref
    links = PaymentLink.objects.select_related("bill", "instalment")
    if kind == "link":
        return links.get(pk=pk)
    if kind == "bill":
        return links.get(bill_id=pk, instalment=None)
    return links.get(bill__visit_id=pk, bill__interim=False, instalment=None)


def _charge_line(number: str, line: Line) -> his.ChargeLine:
    return his.ChargeLine(
        his_line_id=number,
        item_code=line.code,
        item_name=line.name,
        category=line.category,
        quantity=Decimal(line.quantity),
        unit_price=line.unit_price,
        amount=line.amount,
        self_pay_estimate=line.self_pay_estimate,
    )


def _channel(rng: random.Random, person: Person) -> str:
    """Mostly their usual way; sometimes another."""
    if rng.random() < 0.85:
        return person.channel
    return cast.pick(rng, cast.CHANNELS)


def _window_time(now: dt.datetime, rng: random.Random) -> dt.datetime | None:
    """``None`` while the window is open at ``now``; else a time after it opens again."""
    hour = now.hour + now.minute / 60
    if WINDOW_OPENS <= hour < WINDOW_CLOSES:
        return None
    day = now.date() + (DAY if hour >= WINDOW_CLOSES else dt.timedelta())
    opens = dt.datetime.combine(day, dt.time(), now.tzinfo) + WINDOW_OPENS * HOUR
    return opens + rng.uniform(0, 3) * HOUR


def _online_time(now: dt.datetime, rng: random.Random) -> dt.datetime | None:
    """``None`` at an hour people pay on their phones; else that morning."""
    if now.hour >= 7:
        return None
    return dt.datetime.combine(now.date(), dt.time(), now.tzinfo) + rng.uniform(7, 9.5) * HOUR
