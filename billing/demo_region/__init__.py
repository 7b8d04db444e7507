"""A demo region for ``manage.py seed_demo --region``: months of a region's life, so that
every screen and chart shows something real. A few thousand patients sign up; the HIS of
the demo institutions open tens of thousands of visits, post charges and close them with
their insurance settlement; bills are paid through Alipay, the sandbox channel and at the
window, most within hours, some late, a few never; the nightly tasks sweep them overdue,
suspend agreements and open collection cases; collection staff call, take promises and
plans; finance reconciles, resolves differences, pays out statements and writes off.

Everything is written by the services, as the HIS, the patients, staff and the periodic
tasks would write it, each at its simulated moment: time-machine moves the clock, day by day
from ``months`` ago up to yesterday (China time), in time order within a day. So every
invariant holds as it does for real data (a credit line's ``used`` is the sum of its
entries, bills agree with visits, records are append-only).

How it runs (``seed_region``):
* ``cast`` draws the people and what they are treated for from ``random.Random(seed)``;
* ``patients.Patients`` acts out the patients' events (sign-ups, visits, payments);
* ``office.Office`` acts at its moments of each day (the periodic tasks, staff, finance);
  the patients wait meanwhile. With ``workers`` > 1 the patients are shared among forked
  processes, each with its own connection and clock, which stop at each of the office's
  moments; each person draws from a generator of their own, so the people do the same
  whatever the number of workers.

While it runs: Celery tasks run inline (``task_always_eager``), so nothing is left queued
for a worker; SMS go to the in-memory ``locmem`` backend (nothing reaches a provider) and
the provider's delivery reports are played through ``sms_delivery_report``; no credit score
provider is asked about made-up people; e-invoices come from the sandbox platform at once;
Alipay is configured with throwaway keys made for the run (its checkout is only signed,
never sent); commits skip the wait for the disk (``synchronous_commit = off``, this session
only: a crash loses the last commits, never consistency).
"""

import calendar
import datetime as dt
import logging
import multiprocessing
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal

import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import Count, Q, Sum
from django.test.utils import override_settings
from django.utils import timezone

from accounts.demo import DemoSummary, seed_demo
from accounts.models import Patient
from billing.demo import seed_overdue_bill
from billing.demo_region import cast
from billing.demo_region.office import Office
from billing.demo_region.patients import Patients
from billing.models import (
    BILL_OWED,
    MONEY_TAKEN,
    Bill,
    BillStatus,
    CaseStatus,
    CollectionCase,
    DifferenceStatus,
    Payment,
    ReconciliationDifference,
    Refund,
    Visit,
)
from creditcare.celery import app as celery_app
from notifications.backends import locmem
from notifications.models import SmsMessage

SEED = 20260601
# Visits per patient over six months (the sign-up visit included): a mix of the healthy,
# who come twice, and the chronically ill, who come every fortnight.
VISITS_PER_HALF_YEAR = 7.25

Progress = Callable[[str], None]


class RegionRefused(Exception):
    """The demo region is not seeded here; the message says why."""


@dataclass
class RegionSummary:
    first: dt.date
    last: dt.date
    patients: int = 0
    visits: int = 0
    inpatient: int = 0
    bills: int = 0
    paid: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # channel -> n, amount
    overdue: int = 0  # bills owed past their due time now
    written_off: int = 0
    cases: int = 0
    cases_open: int = 0
    refunds: int = 0
    differences: int = 0
    differences_open: int = 0
    sms: dict[str, int] = field(default_factory=dict)  # status -> messages
    seconds: float = 0.0

    def lines(self) -> list[str]:
        paid = ", ".join(
            f"{channel} {n} ({amount:,.2f})" for channel, (n, amount) in sorted(self.paid.items())
        )
        sms = ", ".join(f"{status} {n}" for status, n in sorted(self.sms.items()))
        return [
            f"Demo region: {self.first} to {self.last}, seeded in {self.seconds / 60:.1f} min.",
            f"  patients {self.patients}, visits {self.visits} ({self.inpatient} inpatient), "
            f"bills {self.bills}",
            f"  paid by channel (payments, CNY): {paid}",
            f"  overdue now {self.overdue}, written off {self.written_off}, collection cases "
            f"{self.cases} ({self.cases_open} open)",
            f"  refunds {self.refunds}, reconciliation differences {self.differences} "
            f"({self.differences_open} open)",
            f"  SMS: {sms}",
        ]


def region_refusal() -> str | None:
    """Why the region cannot be seeded into this database, or ``None``."""
    if not settings.SANDBOX_ENABLED:
        return (
            "The demo region is play data (made-up patients, payments through the sandbox "
            "channel): it is seeded only where the sandbox is enabled (SANDBOX_ENABLED, on "
            "with DEBUG=1), never into a production database."
        )
    if Bill.objects.filter(patient__citizen_card__startswith=cast.CARD_PREFIX).exists() or (
        Visit.objects.filter(patient__citizen_card__startswith=cast.CARD_PREFIX).exists()
    ):
        return (
            "This database has the demo region already: it is not seeded twice. For a new "
            "one, start from an empty database (make clean, or another DATABASE_URL)."
        )
    if Visit.objects.exists():
        return (
            "This database already has visits. The demo region writes months of history "
            "from the past, which must come before anything already there (its nightly "
            "sweeps would rewrite it): seed it into an empty database (make clean, or "
            "another DATABASE_URL), before make run."
        )
    return None


def period(months: int) -> tuple[dt.date, dt.date]:
    """From the same day ``months`` months ago to yesterday (China time)."""
    today = timezone.localdate()
    year, month = divmod(today.month - 1 - months, 12)
    year, month = today.year + year, month + 1
    first = today.replace(
        year=year, month=month, day=min(today.day, calendar.monthrange(year, month)[1])
    )
    return first, today - dt.timedelta(days=1)


def seed_region(
    *,
    months: int = 6,
    patients: int = 3000,
    seed: int = SEED,
    workers: int = 1,
    progress: Progress | None = None,
) -> RegionSummary:
    """Seed the demo region into this database (see the module's docstring); its summary.
    Raises ``RegionRefused`` where it is not to be seeded (``region_refusal``)."""
    refusal = region_refusal()
    if refusal:
        raise RegionRefused(refusal)
    started = time.perf_counter()
    first, last = period(months)
    real_now = timezone.now()
    tz = timezone.get_default_timezone()
    people = cast.cast(
        rng=random.Random(seed), count=patients, first=first, days=(last - first).days + 1, tz=tz
    )
    scale = _visit_scale(people, first, last)
    say = progress or (lambda line: None)
    say(f"Seeding the demo region: {patients} patients, {first} to {last}, {workers} worker(s)...")
    with (
        _demo_world(),
        time_machine.travel(dt.datetime.combine(first, dt.time(), tz), tick=False) as clock,
    ):
        office = Office(people=people, seed=seed, first=first, last=last)
        with _patients_pool(
            people=people, seed=seed, scale=scale, clock=clock, workers=workers
        ) as pool:
            _walk(
                office=office, pool=pool, clock=clock, real_now=real_now, say=say, started=started
            )
    summary = region_summary(first, last)
    summary.seconds = time.perf_counter() - started
    return summary


def _walk(*, office: Office, pool, clock, real_now: dt.datetime, say: Progress, started: float):
    """Day by day: the patients act until each of the office's moments, then the office.
    Past the last day, only the office's night and morning (what the periodic tasks do
    after midnight for yesterday), up to the real time."""
    day, week = office.first, Counter()
    orders: list = []
    while day <= office.last + dt.timedelta(days=1):
        today = day <= office.last
        for number, (moment, actions) in enumerate(office.schedule(day)):
            if not today and (number > 0 and moment > real_now):
                break
            if today or number == 0:
                plan = day if today and number == 0 else None
                signed, tally = pool.advance(moment, day=plan, orders=orders)
                orders = []
                office.learn(signed)
                week.update(tally)
            clock.move_to(moment)
            for action in actions:
                orders += action()
        if today and ((day - office.first).days % 7 == 6 or day == office.last):
            say(
                f"  {day}: week of {week['signed']} sign-ups, "
                f"{week['outpatient'] + week['inpatient']} visits, {week['bills']} bills, "
                f"{sum(n for k, n in week.items() if k.startswith('paid:'))} payments "
                f"({(time.perf_counter() - started) / 60:.1f} min)"
            )
            week = Counter()
        day += dt.timedelta(days=1)


def _visit_scale(people: list[cast.Person], first: dt.date, last: dt.date) -> float:
    """What each person's rate is multiplied by for the region to make its number of
    visits: ``VISITS_PER_HALF_YEAR`` a patient over six months, fewer over a shorter period."""
    days = (last - first).days + 1
    wanted = VISITS_PER_HALF_YEAR * len(people) * min(1.0, days / 183)
    at_sign_up = sum(p.ill_at_sign_up for p in people)
    end = dt.datetime.combine(
        last + dt.timedelta(days=1), dt.time(), timezone.get_default_timezone()
    )
    exposure = sum(p.rate * max(0.0, (end - p.signs_at).total_seconds() / 86400) for p in people)
    return max(0.0, wanted - at_sign_up) / (0.97 * exposure) if exposure else 0.0


# --- the world while it runs ------------------------------------------------------------------


@contextmanager
def _demo_world() -> Iterator[None]:
    """Settings, tasks, logs and commits as the demo needs them, for its run only."""
    private, public = _throwaway_keys(), _throwaway_keys()
    demo_settings = override_settings(
        DEBUG=False,  # no log of the run's million queries
        SMS_BACKEND="locmem",
        CREDIT_SCORE_PROVIDER="none",
        PAYMENT_CHANNELS=["sandbox", "alipay"],
        ALIPAY_APP_ID="2021000000000000",
        ALIPAY_APP_PRIVATE_KEY=private[0],
        ALIPAY_PUBLIC_KEY=public[1],
        SANDBOX_UNREACHABLE=False,
        SANDBOX_REFUNDS_FAIL=False,
        SANDBOX_REFUNDS_TIME_OUT="",
        EINVOICE_PROVIDER="sandbox",
        SANDBOX_EINVOICE_DELAY_SECONDS=0,  # no worker to come back for them
        SANDBOX_EINVOICE_REFUSE="",
        SANDBOX_EINVOICE_TIME_OUT="",
    )
    eager = celery_app.conf.task_always_eager
    logging.disable(logging.INFO)  # a line per payment otherwise; warnings still show
    connection_created.connect(_commit_without_waiting)
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _commit_without_waiting(connection=connection)
    try:
        with demo_settings:
            celery_app.conf.task_always_eager = True
            yield
    finally:
        celery_app.conf.task_always_eager = eager
        logging.disable(logging.NOTSET)
        connection_created.disconnect(_commit_without_waiting)
        locmem.outbox.clear()
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.in_atomic_block:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")


def _commit_without_waiting(*, connection, **_) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")


def _throwaway_keys() -> tuple[str, str]:
    """An RSA key pair (private, public PEM) that exists for one run."""
    # 1024 bits: the Alipay SDK checks the keys each time it is built (once a payment), a
    # cost that grows with their size; these sign nothing anyone verifies.
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


# --- the patients, in this process or shared among workers ------------------------------------


class _Inline:
    def __init__(self, patients: Patients):
        self.patients = patients

    def advance(self, until: dt.datetime, *, day, orders) -> tuple[dict, Counter]:
        result = self.patients.advance(until, day=day, orders=orders)
        locmem.outbox.clear()  # the phone network of the demo keeps nothing
        return result["signed"], result["tally"]


class _Forked:
    """The patients shared among forked processes by index; the orders go to whoever has
    the person."""

    def __init__(self, *, people, workers: int, **kwargs):
        self.workers = workers
        self.pipes, self.processes = [], []
        connections.close_all()  # each process opens its own
        context = multiprocessing.get_context("fork")
        for worker in range(workers):
            mine = [p for p in people if p.index % workers == worker]
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(child, mine, worker, workers, kwargs),
                daemon=True,
                name=f"demo-region-{worker}",
            )
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    def advance(self, until: dt.datetime, *, day, orders) -> tuple[dict, Counter]:
        for worker, pipe in enumerate(self.pipes):
            mine = [order for order in orders if order[1] % self.workers == worker]
            pipe.send(("advance", until, day, mine))
        signed, tally = {}, Counter()
        for pipe in self.pipes:
            kind, *answer = pipe.recv()
            if kind == "error":
                raise RuntimeError(f"a demo region worker failed:\n{answer[0]}")
            signed.update(answer[0]["signed"])
            tally.update(answer[0]["tally"])
        return signed, tally

    def close(self) -> None:
        for pipe in self.pipes:
            with suppress(BrokenPipeError, OSError):
                pipe.send(("stop",))
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


def _serve(pipe, people, worker: int, workers: int, kwargs) -> None:
    """A worker process: act out the patients' events until told to stop."""
    try:
        patients = Patients(people=people, worker=worker, workers=workers, **kwargs)
        while True:
            message = pipe.recv()
            if message[0] == "stop":
                break
            _kind, until, day, orders = message
            result = patients.advance(until, day=day, orders=orders)
            locmem.outbox.clear()
            pipe.send(("done", result))
    except Exception:
        pipe.send(("error", traceback.format_exc()))
    finally:
        connections.close_all()


@contextmanager
def _patients_pool(*, people, seed: int, scale: float, clock, workers: int):
    if workers <= 1:
        yield _Inline(Patients(people=people, seed=seed, scale=scale, clock=clock))
        return
    pool = _Forked(people=people, workers=workers, seed=seed, scale=scale, clock=clock)
    try:
        yield pool
    finally:
        pool.close()


# --- the summary ------------------------------------------------------------------------------


def region_summary(first: dt.date, last: dt.date) -> RegionSummary:
    """What the region's records hold now (the demo's own six patients aside)."""
    region = Q(patient__citizen_card__startswith=cast.CARD_PREFIX)
    bills = Bill.objects.filter(region)
    paid = (
        Payment.objects.filter(status__in=MONEY_TAKEN, bill__in=bills)
        .values("channel")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    differences = ReconciliationDifference.objects.all()
    cases = CollectionCase.objects.filter(region)

    return RegionSummary(
        first=first,
        last=last,
        patients=Patient.objects.filter(citizen_card__startswith=cast.CARD_PREFIX).count(),
        visits=Visit.objects.filter(region).count(),
        inpatient=Visit.objects.filter(region, kind="inpatient").count(),
        bills=bills.count(),
        paid={row["channel"]: (row["n"], row["amount"]) for row in paid},
        overdue=bills.filter(status__in=BILL_OWED, due_at__lt=timezone.now()).count(),
        written_off=bills.filter(status=BillStatus.WRITTEN_OFF).count(),
        cases=cases.count(),
        cases_open=cases.filter(status=CaseStatus.OPEN).count(),
        refunds=Refund.objects.filter(payment__bill__in=bills).count(),
        differences=differences.count(),
        differences_open=differences.filter(status=DifferenceStatus.OPEN).count(),
        sms=dict(SmsMessage.objects.values_list("status").annotate(n=Count("pk")).order_by()),
    )


def seed_demo_with_region(
    *, months: int, patients: int, seed: int = SEED, workers: int = 1, progress=None
) -> tuple[DemoSummary, RegionSummary]:
    """``seed_demo``'s institutions, staff and patients, then the region. The demo's overdue
    bill (dated three weeks back) is made after the region's months, at the real time: made
    before, the region's nightly sweeps, run at earlier times, would undo what it did."""
    refusal = region_refusal()
    if refusal:
        raise RegionRefused(refusal)
    deferred: list[dict] = []
    seed_demo(overdue_bill=lambda **about: deferred.append(about))
    region = seed_region(
        months=months, patients=patients, seed=seed, workers=workers, progress=progress
    )
    for about in deferred:
        seed_overdue_bill(**about)
    return seed_demo(overdue_bill=seed_overdue_bill), region  # finds it all: as it is now
