"""The nightly overdue sweep against one raw UPDATE of the same bills, and reminders queued.

Run by hand (never in `make test`), from the repository root:

    .venv/bin/python bench/overdue.py [--bills 1000000] [--overdue-share 0.1] [--keep]

It needs a PostgreSQL server where it may CREATE DATABASE: the server of DATABASE_URL (its
database name is ignored), else BENCH_PG (default postgres://postgres@127.0.0.1:5432). It
creates `<prefix>_base` (migrated, then loaded with SQL: patients COPYed with their
identity numbers encrypted and hashed in Python as the model does, everything else by
`INSERT ... SELECT`), vacuums and analyses it, and makes identical copies of it with
`CREATE DATABASE ... TEMPLATE` for each timed run:

* `sweep`: the shipped `overdue_sweep()` with all its consequences (bills marked,
  agreements suspended, limits recomputed, collection cases opened), in its own process;
* `mark`: the marking alone (`sweep._bills_mark_overdue`), in its own process;
* `raw`: one `UPDATE billing_bill SET status = 'overdue' WHERE ...` through psycopg2;
* then, on the swept copy, `reminders_send()` as the beat task runs it (sending hours
  opened to the whole day), which queues one reminder per past-due bill into the outbox.

The data: N bills of N/4 patients (4 bills each, outpatient, 10 to 69 yuan), each bill a
closed visit with one charge, its payment link and its three credit entries (hold, settle,
bill); every patient has a signed agreement, two credit lines with their limit changes, and
`used` equal to the sum of the line's entries. A share of the bills (at most one a patient)
is unpaid and 8 to 41 days past due, so every consequence of the sweep happens; the others
are unpaid and due in 30 to 47 hours (no reminder yet).

Statements are counted in process (every `execute` through Django, plus BEGIN and COMMIT
of each transaction, as `CaptureQueriesContext` counts them) and printed per 1,000 bills.
Queueing hands each message to Celery after commit: the broker is kombu's `memory://` here,
so what is timed is the outbox. The last line is

    overdue: sweep=<s>s raw_update=<s>s ratio=<r> reminders_100k=<s>s

where ratio is the whole sweep over the raw UPDATE; with fewer than 100,000 past-due bills
reminders_100k is the measured time scaled linearly to 100,000 (the line before says so).
The method and the current results are in docs/performance.md.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BILLS_PER_PATIENT = 4
REMINDERS = 100_000


def server_url() -> str:
    """The server of DATABASE_URL without its database, else BENCH_PG."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    return os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


# --- The parent: databases, children, the report ---------------------------------------------


def psql(server: str, database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", f"{server}/{database}", "-tAqc", sql],
        check=True,
        text=True,
        capture_output=True,
    )
    return result.stdout.strip()


def database_recreate(server: str, name: str, template: str | None = None) -> None:
    psql(server, "postgres", f'DROP DATABASE IF EXISTS "{name}"')
    psql(
        server,
        "postgres",
        f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""),
    )


def child(server: str, database: str, *args: str) -> dict:
    """Run this script's ``args`` role in a new process on ``database``: its JSON answer.

    A process per run: Django's connection, caches and imports start the same for each."""
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{database}",
        "DJANGO_SETTINGS_MODULE": "creditcare.settings",
        "CELERY_BROKER_URL": "memory://localhost/",  # no broker server: the outbox is what is timed
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }
    result = subprocess.run(
        [PYTHON, __file__, "--role", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def raw_update(server: str, database: str) -> tuple[float, int]:
    """One UPDATE of the bills the sweep marks, committed: seconds and rows."""
    import psycopg2

    connection = psycopg2.connect(f"{server}/{database}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # connected and authenticated before the clock
            started = time.perf_counter()
            cursor.execute(
                "UPDATE billing_bill SET status = 'overdue' "
                "WHERE status = 'unpaid' AND due_at <= now()"
            )
            rows = cursor.rowcount
            connection.commit()
            return time.perf_counter() - started, rows
    finally:
        connection.close()


def per_thousand(statements: int, bills: int) -> str:
    return f"{statements * 1000 / bills:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--overdue-share", type=float, default=0.1)
    parser.add_argument("--prefix", default="creditcare_overdue", help="of the databases' names")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)  # a child's work
    args = parser.parse_args()
    if args.role:
        return role(args.role)
    if not 0 < args.overdue_share <= 1 / BILLS_PER_PATIENT:
        parser.error(f"--overdue-share must be in (0, {1 / BILLS_PER_PATIENT}]")
    server, n = server_url(), args.bills
    names = {k: f"{args.prefix}_{k}" for k in ("base", "sweep", "mark", "raw")}

    started = time.perf_counter()
    database_recreate(server, names["base"])
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"{server}/{names['base']}"},
        check=True,
    )
    loaded = child(server, names["base"], "load", str(n), str(args.overdue_share))
    psql(server, names["base"], "VACUUM ANALYZE")
    for kind in ("sweep", "mark", "raw"):
        database_recreate(server, names[kind], template=names["base"])
    print(
        f"loaded {n:,} bills ({loaded['past_due']:,} past due) of {loaded['patients']:,} "
        f"patients in {time.perf_counter() - started:.0f}s",
        flush=True,
    )

    raw_s, raw_rows = raw_update(server, names["raw"])
    print(f"raw UPDATE: {raw_rows:,} bills in {raw_s:.3f}s, 1 statement", flush=True)
    mark = child(server, names["mark"], "mark")
    print(
        f"marking alone: {mark['bills']:,} bills in {mark['seconds']:.2f}s, "
        f"{mark['statements']:,} statements ({per_thousand(mark['statements'], n)} per 1,000 "
        f"bills), {mark['seconds'] / raw_s:.1f}x the raw UPDATE",
        flush=True,
    )
    sweep = child(server, names["sweep"], "sweep")
    print(
        f"sweep: {sweep['summary']} in {sweep['seconds']:.2f}s, {sweep['statements']:,} "
        f"statements ({per_thousand(sweep['statements'], n)} per 1,000 bills, "
        f"{sweep['statements'] / max(sweep['bills'], 1):.1f} per bill marked)",
        flush=True,
    )
    reminders = child(server, names["sweep"], "reminders")
    queued = reminders["queued"]
    reminders_100k = reminders["seconds"] * REMINDERS / max(queued, 1)
    print(
        f"reminders: {queued:,} queued in {reminders['seconds']:.2f}s, "
        f"{reminders['statements']:,} statements ({per_thousand(reminders['statements'], queued)}"
        f" per 1,000 reminders)"
        + ("" if queued == REMINDERS else f"; reminders_100k scaled from {queued:,}"),
        flush=True,
    )
    if not args.keep:
        for name in names.values():
            psql(server, "postgres", f'DROP DATABASE IF EXISTS "{name}"')
    print(
        f"overdue: sweep={sweep['seconds']:.2f}s raw_update={raw_s:.3f}s "
        f"ratio={sweep['seconds'] / raw_s:.1f} reminders_100k={reminders_100k:.1f}s"
    )


# --- The children: Django on one database ---------------------------------------------------


def role(args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    work = {"load": load, "mark": timed_mark, "sweep": timed_sweep, "reminders": timed_reminders}
    print(json.dumps(work[args[0]](*args[1:])))


class StatementCounter:
    """Statements sent on Django's default connection: every execute, and BEGIN and COMMIT
    (or ROLLBACK) of each transaction, as ``CaptureQueriesContext`` counts them, without
    keeping their text (a sweep sends millions)."""

    def __init__(self) -> None:
        from django.db import connection

        self.count = 0
        connection.execute_wrappers.append(self._execute)
        for name in ("commit", "rollback"):
            method = getattr(connection, name)
            setattr(connection, name, self._transaction(method))

    def _execute(self, execute, sql, params, many, context):
        self.count += len(params) if many and params else 1
        return execute(sql, params, many, context)

    def _transaction(self, method):
        def counted(*args, **kwargs):
            self.count += 2  # the BEGIN psycopg2 sent, and this COMMIT or ROLLBACK
            return method(*args, **kwargs)

        return counted


def timed(work) -> dict:
    from django.db import connection

    connection.ensure_connection()  # connected before the clock, as a worker is
    counter = StatementCounter()
    started = time.perf_counter()
    result = work()
    return {"seconds": time.perf_counter() - started, "statements": counter.count, **result}


def timed_mark() -> dict:
    from django.utils import timezone

    from billing.collections.sweep import _bills_mark_overdue

    def mark() -> dict:
        marked, _patients = _bills_mark_overdue(as_of=timezone.now())
        return {"bills": marked}

    return timed(mark)


def timed_sweep() -> dict:
    from billing.collections.sweep import overdue_sweep

    def sweep() -> dict:
        result = overdue_sweep()
        return {"bills": result.bills, "summary": result.summary()}

    return timed(sweep)


def timed_reminders() -> dict:
    from django.test import override_settings

    from billing.collections.reminders import reminders_send

    def send() -> dict:
        # The beat task's path; its clock gate opened so that the bench runs at any hour.
        with override_settings(REMINDER_SENDING_HOURS=(0, 24)):
            return {"queued": reminders_send()}

    return timed(send)


def load(bills: str, share: str) -> dict:
    """N bills with SQL on a migrated, empty database (module docstring: what is loaded)."""
    import io

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.demo import demo_resident_id
    from accounts.encryption import encrypt, identity_number_hash
    from accounts.identity import parse_resident_id
    from accounts.models import CreditPolicy, Institution

    n = int(bills)
    past_due = int(n * float(share))
    patients = -(-n // BILLS_PER_PATIENT)
    policy = CreditPolicy.current()
    institution = Institution.objects.create(
        code="bench-overdue", name="Bench Hospital", kind="hospital"
    )
    now = timezone.now()
    # Identity numbers encrypted and hashed as the model does at save; the rest is SQL.
    rows = io.StringIO()
    for p in range(1, patients + 1):
        # Unique for every p: a birthday a day apart for each 1,000 patients.
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=p // 1000)
        number = demo_resident_id(birth.strftime("%Y%m%d"), f"{p % 1000:03d}")
        facts = parse_resident_id(number)
        rows.write(
            f"{p}\tBench {p}\tresident_id\t{encrypt(number)}\t{identity_number_hash(number)}\t"
            f"{facts.birth_date}\t{facts.sex!s}\tOD{p:09d}\t+86137{p:08d}\tt\t{now}\t{now}\n"
        )
    rows.seek(0)
    params = {
        "p": patients,
        "n": n,
        "past_due": past_due,
        "now": now,
        "inst": institution.pk,
        "terms": settings.AGREEMENT_TERMS_VERSION,
        "out_limit": policy.outpatient_base,
        "in_limit": policy.inpatient_base,
        "due_after": settings.BILL_DUE_AFTER["outpatient"],
        "link_valid": settings.PAYMENT_LINK_VALID_AFTER_DUE,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY accounts_patient (id, name, id_type, id_number, id_number_hash, birth_date, "
            "sex, citizen_card, phone, resident_of_region, created_at, updated_at) FROM STDIN",
            rows,
        )
        for sql in LOAD_SQL:
            cursor.execute(sql, params)
        for table in SEQUENCES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return {"patients": patients, "past_due": past_due}


# Bill i (1..n) belongs to patient (i - 1) % p + 1, so the past-due ones (i <= past_due,
# at most a quarter) fall on different patients. Its visit, charge and payment link have
# its id; its credit entries 3i-2, 3i-1, 3i. Outpatient line of patient k: k; inpatient: p+k.
LOAD_SQL = [
    """INSERT INTO accounts_historicalpatient (id, name, id_type, id_number, id_number_hash,
        birth_date, sex, citizen_card, phone, resident_of_region, created_at, updated_at,
        history_date, history_type)
    SELECT id, name, id_type, id_number, id_number_hash, birth_date, sex, citizen_card, phone,
        resident_of_region, created_at, updated_at, created_at, '+' FROM accounts_patient""",
    """INSERT INTO accounts_creditagreement (id, patient_id, status, channel, institution_id,
        signed_at, terms_version, suspended_for_overdue, created_at)
    SELECT k, k, 'active', 'window', %(inst)s, %(now)s - interval '400 days', %(terms)s,
        false, %(now)s - interval '400 days'
    FROM generate_series(1, %(p)s) k""",
    """INSERT INTO accounts_agreementevent (id, agreement_id, transition, from_status,
        to_status, reason, created_at)
    SELECT id, id, 'sign', 'pending', 'active', 'signed at Bench Hospital (bench)', signed_at
    FROM accounts_creditagreement""",
    """INSERT INTO accounts_creditline (id, patient_id, pool, "limit", used, updated_at)
    SELECT k, k, 'outpatient', %(out_limit)s, 0, %(now)s FROM generate_series(1, %(p)s) k
    UNION ALL
    SELECT %(p)s + k, k, 'inpatient', %(in_limit)s, 0, %(now)s FROM generate_series(1, %(p)s) k""",
    """INSERT INTO accounts_creditlimitchange (id, credit_line_id, old_limit, new_limit, reason,
        source, created_at)
    SELECT id, id, 0, "limit", 'bench: the policy at signing', 'policy',
        %(now)s - interval '400 days'
    FROM accounts_creditline""",
    # The bills' times: past due 8 to 41 days (a collection case for each), or due in 30 to
    # 47 hours (past the "-24h" reminder); closed BILL_DUE_AFTER before, started 1 h before.
    """CREATE TEMPORARY TABLE bench_bill ON COMMIT DROP AS
    SELECT i, (i - 1) %% %(p)s + 1 AS patient, 10 + i %% 60 AS self_pay,
        CASE WHEN i <= %(past_due)s
            THEN %(now)s - interval '8 days' - (i %% 34) * interval '1 day'
                - (i %% 24) * interval '1 hour'
            ELSE %(now)s + interval '30 hours' + (i %% 18) * interval '1 hour'
        END AS due_at
    FROM generate_series(1, %(n)s) i""",
    """INSERT INTO billing_visit (id, institution_id, patient_id, credit_line_id, kind,
        his_visit_id, department, doctor, started_at, status, total, held, closed_at,
        created_at)
    SELECT i, %(inst)s, patient, patient, 'outpatient', 'OD' || i, '', '',
        due_at - %(due_after)s - interval '1 hour', 'closed', 2 * self_pay, 0,
        due_at - %(due_after)s, due_at - %(due_after)s - interval '1 hour'
    FROM bench_bill""",
    """INSERT INTO billing_charge (id, visit_id, his_line_id, item_code, item_name, category,
        quantity, unit_price, amount, self_pay_estimate, created_at)
    SELECT i, i, 'L1', 'CONS01', 'Consultation', 'consultation', 1, 2 * self_pay,
        2 * self_pay, self_pay, due_at - %(due_after)s - interval '30 minutes'
    FROM bench_bill""",
    """INSERT INTO billing_bill (id, visit_id, patient_id, institution_id, credit_line_id, pool,
        status, total, insurance_fund, personal_account, self_pay, insurance_account_balance,
        closed_at, due_at, paid_amount, written_off_amount, refunded_amount, created_at)
    SELECT i, i, patient, %(inst)s, patient, 'outpatient', 'unpaid', 2 * self_pay, self_pay,
        0, self_pay, 0, due_at - %(due_after)s, due_at, 0, 0, 0, due_at - %(due_after)s
    FROM bench_bill""",
    """INSERT INTO billing_paymentlink (id, bill_id, token, created_at, expires_at)
    SELECT i, i, md5(i || ':' || random()), due_at - %(due_after)s, due_at + %(link_valid)s
    FROM bench_bill""",
    # A charge's hold, released when the visit closed, and the bill's own entry.
    """INSERT INTO billing_creditentry (id, credit_line_id, kind, amount, visit_id, charge_id,
        bill_id, actor, created_at)
    SELECT 3 * i - 2, patient, 'hold', self_pay, i, i, NULL::bigint, 'system',
        due_at - %(due_after)s - interval '30 minutes' FROM bench_bill
    UNION ALL
    SELECT 3 * i - 1, patient, 'settle', -self_pay, i, NULL::bigint, NULL::bigint, 'system',
        due_at - %(due_after)s FROM bench_bill
    UNION ALL
    SELECT 3 * i, patient, 'bill', self_pay, i, NULL, i, 'system', due_at - %(due_after)s
    FROM bench_bill""",
    """UPDATE accounts_creditline l SET used = e.used
    FROM (SELECT credit_line_id, sum(amount) AS used FROM billing_creditentry
        GROUP BY credit_line_id) e
    WHERE l.id = e.credit_line_id""",
]
SEQUENCES = [
    "accounts_patient",
    "accounts_creditagreement",
    "accounts_agreementevent",
    "accounts_creditline",
    "accounts_creditlimitchange",
    "billing_visit",
    "billing_charge",
    "billing_bill",
    "billing_paymentlink",
    "billing_creditentry",
]


if __name__ == "__main__":
    main()
