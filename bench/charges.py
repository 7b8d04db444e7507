"""Charges per second through the real HIS API, beside pgbench on the same PostgreSQL.

Run by hand (never in `make test`), from the repository root:

    .venv/bin/python bench/charges.py [--seconds 10] [--clients 1,8,32]

It creates (or reuses) the databases `creditcare_bench` and `pgbench_creditcare` on the
PostgreSQL of BENCH_PG (default postgres://postgres@127.0.0.1:5432), migrates, seeds
patients, starts gunicorn with the production configuration (creditcare/gunicorn.conf.py),
then for each client count posts charges from a second process (this one) for a fixed time:
every request a new charge with a unique Idempotency-Key, API key authentication on, each
client working through its own visits (a new visit every 20 charges). In the same run it runs
pgbench's built-in tpcb-like at the same client count (-j 2, same duration). The last line is

    charges: c=8 ours=<n>/s pgbench=<n>/s ratio=<r> p99=<ms>ms
"""

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
APP_DB, PGBENCH_DB = "creditcare_bench", "pgbench_creditcare"
HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", 8765))
CHARGES_PER_VISIT = 20


def run(*cmd: str, env: dict | None = None, capture: bool = False) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=env, check=True, text=True, capture_output=capture)
    return result.stdout if capture else ""


def ensure_database(name: str) -> bool:
    """Create the database if missing; True if it was created."""
    exists = run(
        "psql",
        f"{PG}/postgres",
        "-tAc",
        f"SELECT 1 FROM pg_database WHERE datname='{name}'",
        capture=True,
    ).strip()
    if not exists:
        run("psql", f"{PG}/postgres", "-qc", f'CREATE DATABASE "{name}"')
    return not exists


def app_env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{APP_DB}",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": HOST,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "1",  # the visit events: no broker in the bench
        "GUNICORN_BIND": f"{HOST}:{PORT}",
    }


def start_server(env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", "creditcare/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection(HOST, PORT, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


class Client(threading.Thread):
    def __init__(self, key: str, cards: list[str], deadline: float, results: list):
        super().__init__(daemon=True)
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        self.cards, self.deadline, self.results = cards, deadline, results
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        self.conn.request("POST", path, json.dumps(body), headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())

    def run(self) -> None:
        latencies, errors, n = [], 0, 0
        while time.perf_counter() < self.deadline:
            card = self.cards[n % len(self.cards)]
            status, visit = self.post(
                "/api/v1/visits/",
                {"citizen_card": card, "kind": "outpatient", "his_visit_id": uuid.uuid4().hex},
            )
            if status != 201:
                errors += 1
                continue
            for line in range(CHARGES_PER_VISIT):
                if time.perf_counter() >= self.deadline:
                    break
                body = {
                    "his_line_id": f"L{line}",
                    "item_code": "LAB01",
                    "item_name": "Blood count",
                    "category": "lab",
                    "quantity": "1",
                    "unit_price": "1.50",
                    "amount": "1.50",
                }
                started = time.perf_counter()
                status, _ = self.post(f"/api/v1/visits/{visit['id']}/charges/", body)
                if status == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
            n += 1
        self.results.append((latencies, errors))


def load(key: str, cards: list[str], clients: int, seconds: float) -> dict:
    results: list = []
    per_client = [cards[i::clients] or cards for i in range(clients)]
    started = time.perf_counter()
    threads = [Client(key, per_client[i], started + seconds, results) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    return {
        "rate": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "errors": errors,
    }


def pgbench(clients: int, seconds: int) -> float:
    out = run(
        "pgbench",
        "-n",
        "-b",
        "tpcb-like",
        "-c",
        str(clients),
        "-j",
        str(min(2, clients)),
        "-T",
        str(seconds),
        f"{PG}/{PGBENCH_DB}",
        capture=True,
    )
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]

    env = app_env()
    ensure_database(APP_DB)
    run(PYTHON, "manage.py", "migrate", "-v0", env=env)
    seeded = json.loads(
        run(PYTHON, "bench/seed.py", env=env, capture=True).strip().splitlines()[-1]
    )
    if ensure_database(PGBENCH_DB):
        run("pgbench", "-i", "-q", "-s", "10", f"{PG}/{PGBENCH_DB}", capture=True)

    server = start_server(env)
    try:
        load(seeded["key"], seeded["cards"], 2, 2)  # warm up workers and connections
        lines = []
        for clients in counts:
            ours = load(seeded["key"], seeded["cards"], clients, args.seconds)
            theirs = pgbench(clients, args.seconds)
            line = (
                f"charges: c={clients} ours={ours['rate']:.0f}/s pgbench={theirs:.0f}/s "
                f"ratio={ours['rate'] / theirs:.2f} p99={ours['p99']:.1f}ms"
            )
            print(f"{line} p50={ours['p50']:.1f}ms errors={ours['errors']}", flush=True)
            lines.append((clients, line))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(dict(lines).get(8, lines[-1][1]))


if __name__ == "__main__":
    main()
