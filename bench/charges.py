"""Charges per second through the real HIS API, beside pgbench on the same PostgreSQL.

Run by hand (never in `make test`), from the repository root:

    .venv/bin/python bench/charges.py [--seconds 10] [--clients 1,8,32]

It creates (or reuses) the databases `creditcare_bench` and `pgbench_creditcare` on the
PostgreSQL of BENCH_PG (default postgres://postgres@127.0.0.1:5432), migrates, seeds
patients, vacuums and analyses both databases, starts gunicorn with the production
configuration (creditcare/gunicorn.conf.py) and the API's settings
(creditcare/settings_api.py), then for each client count posts charges from a
second process (this one) for a fixed time: every request a new charge with a unique
Idempotency-Key, API key authentication on. Before the clock starts it opens one new
outpatient visit per seeded patient through the API and deals them out among the clients;
each client then posts to its own visits in turn (about 40 lines a visit at 1,000
charges/s), so what is timed is charges only, as the name says.
In the same run it runs pgbench's built-in tpcb-like at the same client count (-j 2, same
duration), the two taking turns in slices (--slices, 5 of 2 s by default) so that the
machine's ups and downs fall on both. The last line is

    charges: c=8 ours=<n>/s pgbench=<n>/s ratio=<r> p99=<ms>ms statements=<n>

where statements is the number of SQL statements one charge request makes
(bench/statements.py: authentication and the Idempotency-Key included). The method and the
current results are in docs/performance.md.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
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
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
CONNECTION_CLOSE = re.compile(rb"\r\nconnection: *close", re.IGNORECASE)
# A lab test of 1.50 as the HIS posts it; his_line_id: the slice, the line within the visit.
CHARGE = (
    b'{"his_line_id": "S%dL%d", "item_code": "LAB01", "item_name": "Blood count", '
    b'"category": "lab", "quantity": "1", "unit_price": "1.50", "amount": "1.50"}'
)


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
        # The API as production runs it: its own process and settings (docs/deployment.md).
        "DJANGO_SETTINGS_MODULE": "creditcare.settings_api",
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
    """One HIS connection (HTTP/1.1 keep-alive) posting charges in a loop.

    A few lines of sockets rather than http.client, whose header parsing costs the machine's
    two cores (shared with the server) far more than pgbench's client does in C."""

    def __init__(self, key: str, visits: list[int], deadline: float, results: list, turn: int = 0):
        super().__init__(daemon=True)
        self.turn = turn
        self.headers = (
            f"Host: {HOST}:{PORT}\r\nAuthorization: Api-Key {key}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.visits, self.deadline, self.results = visits, deadline, results
        self.sock, self.buffer = None, b""

    def connect(self) -> None:
        self.sock = socket.create_connection((HOST, PORT), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def receive(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        return data

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.connect()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.receive()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(CONTENT_LENGTH.search(head).group(1))
        while len(rest) < length:
            rest += self.receive()
        self.buffer = rest[length:]
        if CONNECTION_CLOSE.search(head):
            self.close()
        return int(head[9:12]), rest[:length]

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST with a new Idempotency-Key; resent once on a new connection if the server
        closed this one (a worker recycled), which the key makes safe."""
        request = (
            f"POST {path} HTTP/1.1\r\n{self.headers}Idempotency-Key: {uuid.uuid4().hex}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            return self.exchange(request)
        except ConnectionError:
            self.sock = None
            return self.exchange(request)

    def run(self) -> None:
        latencies, errors, n = [], 0, 0
        while time.perf_counter() < self.deadline:
            visit_id = self.visits[n % len(self.visits)]
            body = CHARGE % (self.turn, n // len(self.visits))
            started = time.perf_counter()
            status, _ = self.post(f"/api/v1/visits/{visit_id}/charges/", body)
            if status == 201:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
            n += 1
        self.close()
        self.results.append((latencies, errors))


def open_visits(key: str, cards: list[str], clients: int) -> list[list[int]]:
    """One new outpatient visit per patient, dealt out among the clients (before the clock)."""
    opener = Client(key, [], 0, [])
    visits = []
    for card in cards:
        body = {"citizen_card": card, "kind": "outpatient", "his_visit_id": uuid.uuid4().hex}
        status, answer = opener.post("/api/v1/visits/", json.dumps(body).encode())
        if status != 201:
            raise SystemExit(f"could not open a visit: {status} {answer.decode()}")
        visits.append(json.loads(answer)["id"])
    opener.close()  # idle, it would hold a worker's thread
    return [visits[i::clients] for i in range(clients)]


def load(
    key: str, per_client: list[list[int]], seconds: float, turn: int = 0
) -> tuple[list, int, float]:
    """Post charges from one client per list of visits for ``seconds``: the latencies of
    the charges posted, the number refused, and the time it took."""
    results: list = []
    started = time.perf_counter()
    deadline = started + seconds
    threads = [Client(key, visits, deadline, results, turn) for visits in per_client]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return [x for lat, _ in results for x in lat], sum(e for _, e in results), elapsed


def summary(latencies: list[float], elapsed: float) -> dict:
    q = statistics.quantiles(sorted(latencies), n=100) if len(latencies) > 1 else [0] * 99
    return {"rate": len(latencies) / elapsed, "p50": q[49] * 1000, "p99": q[98] * 1000}


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


def prepare(env: dict) -> dict:
    """Both databases ready and vacuumed; the seeded key and cards, and the statements a
    charge request makes."""
    ensure_database(APP_DB)
    run(PYTHON, "manage.py", "migrate", "-v0", env=env)
    seeded = json.loads(
        run(PYTHON, "bench/seed.py", env=env, capture=True).strip().splitlines()[-1]
    )
    if ensure_database(PGBENCH_DB):
        run("pgbench", "-i", "-q", "-s", "10", f"{PG}/{PGBENCH_DB}", capture=True)
    # Fresh statistics and visibility maps on both sides, as autovacuum keeps them where it
    # runs (this machine's PostgreSQL has it off; the tables grow with every run) and as
    # pgbench's own initialisation leaves its tables.
    for database in (APP_DB, PGBENCH_DB):
        run("psql", f"{PG}/{database}", "-qc", "VACUUM ANALYZE")
    out = run(
        PYTHON, "bench/statements.py", seeded["key"], seeded["cards"][0], env=env, capture=True
    )
    return {**seeded, "statements": int(out.strip().splitlines()[-1])}


def measure(seeded: dict, clients: int, seconds: int, slices: int) -> str:
    """Ours and pgbench at ``clients``, taking turns a slice each so that the machine's ups
    and downs (large on shared machines) fall on both alike; the result line."""
    key, cards = seeded["key"], seeded["cards"]
    per_client = open_visits(key, cards, clients)
    latencies, errors, elapsed, tps = [], 0, 0.0, []
    for turn in range(slices):
        slice_latencies, slice_errors, slice_elapsed = load(key, per_client, seconds / slices, turn)
        latencies += slice_latencies
        errors += slice_errors
        elapsed += slice_elapsed
        tps.append(pgbench(clients, seconds // slices))
    ours, theirs = summary(latencies, elapsed), statistics.mean(tps)
    line = (
        f"charges: c={clients} ours={ours['rate']:.0f}/s pgbench={theirs:.0f}/s "
        f"ratio={ours['rate'] / theirs:.2f} p99={ours['p99']:.1f}ms "
        f"statements={seeded['statements']}"
    )
    print(f"{line} (p50={ours['p50']:.1f}ms errors={errors})", flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument(
        "--slices", type=int, default=5, help="turns ours and pgbench take (whole seconds each)"
    )
    args = parser.parse_args()
    if args.seconds % args.slices:
        parser.error("--seconds must be a multiple of --slices")
    env = app_env()
    seeded = prepare(env)
    server = start_server(env)
    try:
        key = seeded["key"]
        load(key, open_visits(key, seeded["cards"][:16], 2), 2)  # warm up workers, connections
        lines = {
            clients: measure(seeded, clients, args.seconds, args.slices)
            for clients in (int(c) for c in args.clients.split(","))
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(lines.get(8, list(lines.values())[-1]))


if __name__ == "__main__":
    main()
