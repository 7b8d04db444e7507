"""The management reports on a region's years of data, each beside the least the database
must do to read the rows it reports on.

Run by hand (never in `make test`), from the repository root:

    .venv/bin/python bench/reports.py [--bills 10000000] [--years 4] [--keep]

It needs a PostgreSQL server where it may CREATE DATABASE: the server of DATABASE_URL (its
database name is ignored), else BENCH_PG (default postgres://postgres@127.0.0.1:5432). It
creates `<prefix>_base` (migrated, then loaded with SQL by `bench/reports_data.py`: N bills
over the years to yesterday, their visits, payments, credit entries and SMS, N/10
patients), vacuums and analyses it, then, each in its own process:

* `figures`: the nightly figures (`billing.figures`) recorded as a first filling would:
  each month's last day from seven months back, oldest first (the first sums every credit
  entry before it), then the day before yesterday; then **yesterday, timed: the nightly
  task's run**;
* `reports`: every report of `billing.reports.REPORTS`, as the reports page builds it, for
  the page's default period (the last six months, all institutions), for one institution,
  and for two years (the longest the page allows). Each is run once to warm the cache and
  then three times; the median is printed, with its statements.

Beside each report, the floor: one `SELECT count(*)` through the same connection of the
rows the report reads in the period (on the same indexes), so the ratio says how much work
beyond reading them the report does. The last line is

    reports: slowest=<key> <s>s default_all=<s>s nightly_figures=<s>s

where slowest is the slowest report over the default period (the target: 1 s or less on
10 million bills) and default_all is the whole page's reports together. The method and
the current results are in docs/performance.md.
"""

import argparse
import json
import statistics
import time

from harness import (
    child,
    database_recreate,
    django_setup,
    migrate,
    psql,
    server_url,
    timed,
)

# What each report reads in its period, counted as its floor: (table, time column).
FLOORS = {
    "signups": ("accounts_creditagreement", "signed_at"),
    "payments": ("billing_payment", "succeeded_at"),
    "usage": ("billing_visit", "started_at"),
    "time_to_pay": ("billing_bill", "paid_at"),
    "sms": ("notifications_smsmessage", "created_at"),
    "credit": ("billing_visit", "started_at"),
    "overdue": ("billing_dailyfigure", "day"),
    "collections": ("billing_dailyfigure", "day"),
}
RUNS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bills", type=int, default=10_000_000)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--prefix", default="creditcare_reports", help="of the database's name")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="a kept database: migrate it, skip the loading"
    )
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)  # a child's work
    args = parser.parse_args()
    if args.role:
        return role(args.role)
    server, base = server_url(), f"{args.prefix}_base"

    if not args.reuse:
        started = time.perf_counter()
        database_recreate(server, base)
        migrate(server, base)
        loaded = child(__file__, server, base, "load", str(args.bills), str(args.years))
        psql(server, base, "VACUUM ANALYZE")
        print(
            f"loaded {args.bills:,} bills of {loaded['patients']:,} patients from "
            f"{loaded['first_day']} in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    else:
        migrate(server, base)
    figures = child(__file__, server, base, "figures")
    print(
        f"figures: filled {figures['days']} days in {figures['filling']:.1f}s; nightly "
        f"(yesterday): {figures['seconds']:.2f}s, {figures['statements']} statements",
        flush=True,
    )
    psql(server, base, "VACUUM ANALYZE billing_dailyfigure")
    timings = child(__file__, server, base, "reports")
    for line in timings["lines"]:
        print(line, flush=True)
    if not args.keep:
        psql(server, "postgres", f'DROP DATABASE IF EXISTS "{base}"')
    slowest = max(timings["default"], key=timings["default"].get)
    print(
        f"reports: slowest={slowest} {timings['default'][slowest]:.3f}s "
        f"default_all={sum(timings['default'].values()):.3f}s "
        f"nightly_figures={figures['seconds']:.2f}s"
    )


# --- The children: Django on the bench database ---------------------------------------------


def role(args: list[str]) -> None:
    django_setup()
    work = {"load": load, "figures": fill_figures, "reports": time_reports}
    print(json.dumps(work[args[0]](*args[1:])))


def load(bills: str, years: str) -> dict:
    from reports_data import reports_data_load

    return reports_data_load(bills=int(bills), years=int(years))


def fill_figures() -> dict:
    import datetime as dt

    from django.utils import timezone

    from billing.figures import figures_days, figures_record

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    first = (yesterday.replace(day=1) - dt.timedelta(days=190)).replace(day=1)
    days = [
        *figures_days(first, yesterday - dt.timedelta(days=2), month_ends=True),
        yesterday - dt.timedelta(days=1),
    ]
    started = time.perf_counter()
    for day in days:
        figures_record(day)
    filling = time.perf_counter() - started
    return {
        "days": len(days),
        "filling": filling,
        **timed(lambda: {"rows": figures_record(yesterday)}),
    }


def time_reports() -> dict:
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.models import Institution
    from billing.reports import REPORTS, Period
    from billing.reports_admin import default_period

    default = default_period()
    today = timezone.localdate()
    periods = {
        "six months, all": Period(default["start"], default["end"]),
        "six months, one institution": Period(
            default["start"], default["end"], Institution.objects.order_by("pk").first()
        ),
        "two years, all": Period(today.replace(year=today.year - 2) + dt.timedelta(days=1), today),
    }
    lines, slowest = [], {}
    for label, period in periods.items():
        lines.append(f"-- {label}: {period.start} to {period.end}")
        for key, build in REPORTS.items():
            build(period)  # warm
            seconds = []
            for _run in range(RUNS):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    build(period)
                    seconds.append(time.perf_counter() - started)
            report_s = statistics.median(seconds)
            floor_s, rows = floor(key, period)
            lines.append(
                f"report {key}: {report_s:.3f}s, {len(queries)} statement(s); floor "
                f"{floor_s:.3f}s ({rows:,} rows); {report_s / floor_s:.1f}x"
            )
            if label == "six months, all":
                slowest[key] = report_s
    return {"lines": lines, "default": slowest}


def floor(key: str, period) -> tuple[float, int]:
    """The median time of counting the rows ``key`` reads in ``period``, and how many."""
    from django.db import connection

    table, column = FLOORS[key]
    if column == "day":
        where, params = f"{column} BETWEEN %s AND %s", [period.start, period.end]
    else:
        where, params = f"{column} >= %s AND {column} < %s", [period.since, period.until]
    if period.institution and table != "notifications_smsmessage":
        where += " AND institution_id = %s"
        params.append(period.institution.pk)
    seconds = []
    with connection.cursor() as cursor:
        for _run in range(RUNS + 1):
            started = time.perf_counter()
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
            rows = cursor.fetchone()[0]
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:]), rows


if __name__ == "__main__":
    main()
