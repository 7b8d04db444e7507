"""The nightly overdue sweep against one raw UPDATE of the same bills, and reminders queued.

Run by hand (never in `make test`), from the repository root:

    .venv/bin/python bench/overdue.py [--bills 1000000] [--overdue-share 0.1] [--keep]

It needs a PostgreSQL server where it may CREATE DATABASE: the server of DATABASE_URL (its
database name is ignored), else BENCH_PG (default postgres://postgres@127.0.0.1:5432). It
creates `<prefix>_base` (migrated, then loaded with SQL: COPY and `INSERT ... SELECT`),
vacuums and analyses it, and makes identical copies of it with `CREATE DATABASE ...
TEMPLATE` for each timed run:

* `sweep`: the shipped `overdue_sweep()` with all its consequences (bills marked,
  agreements suspended, limits recomputed, collection cases opened), in its own process;
* `mark`: the marking alone, chunk by chunk as the sweep marks (`bills_mark_overdue`), in
  its own process;
* `raw`: one `UPDATE billing_bill SET status = 'overdue' WHERE ...` through psycopg2;
* then, on the swept copy, `reminders_send()` as the beat task runs it (sending hours
  opened to the whole day), which queues one reminder per past-due bill into the outbox.

The data (`tests/overdue_data.py`, shared with the tests that count the sweep's
statements): N bills of N/4 patients, a share of them unpaid and 8 to 41 days past due,
so every consequence of the sweep happens.

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
import json
import sys
import time

from harness import (
    ROOT,
    child,
    database_recreate,
    django_setup,
    migrate,
    psql,
    server_url,
    timed,
)

sys.path.insert(0, str(ROOT))
from tests.overdue_data import BILLS_PER_PATIENT

REMINDERS = 100_000


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
    migrate(server, names["base"])
    loaded = child(__file__, server, names["base"], "load", str(n), str(args.overdue_share))
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
    mark = child(__file__, server, names["mark"], "mark")
    print(
        f"marking alone: {mark['bills']:,} bills in {mark['seconds']:.2f}s, "
        f"{mark['statements']:,} statements ({per_thousand(mark['statements'], n)} per 1,000 "
        f"bills), {mark['seconds'] / raw_s:.1f}x the raw UPDATE",
        flush=True,
    )
    sweep = child(__file__, server, names["sweep"], "sweep")
    print(
        f"sweep: {sweep['summary']} in {sweep['seconds']:.2f}s, {sweep['statements']:,} "
        f"statements ({per_thousand(sweep['statements'], n)} per 1,000 bills, "
        f"{sweep['statements'] / max(sweep['bills'], 1):.1f} per bill marked)",
        flush=True,
    )
    reminders = child(__file__, server, names["sweep"], "reminders")
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
    django_setup()
    work = {"load": load, "mark": timed_mark, "sweep": timed_sweep, "reminders": timed_reminders}
    print(json.dumps(work[args[0]](*args[1:])))


def timed_mark() -> dict:
    from django.db import transaction
    from django.utils import timezone

    from billing.collections.sweep import bills_mark_overdue, sweep_chunks

    def mark() -> dict:
        marked = 0
        for _patients, bills in sweep_chunks(as_of=timezone.now()):
            with transaction.atomic():
                marked += bills_mark_overdue(bill_ids=[b for ids in bills.values() for b in ids])
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
    from tests.overdue_data import overdue_data_load

    return overdue_data_load(bills=int(bills), overdue_share=float(share))


if __name__ == "__main__":
    main()
