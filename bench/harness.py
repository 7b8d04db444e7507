"""What the bench scripts that load their own databases share: the server, psql, a child
process per timed run, and a statement counter."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def server_url() -> str:
    """The server of DATABASE_URL without its database, else BENCH_PG."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    return os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


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


def migrate(server: str, database: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"{server}/{database}"},
        check=True,
    )


def child(script: str, server: str, database: str, *args: str) -> dict:
    """Run ``script``'s ``args`` role in a new process on ``database``: its JSON answer.

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
        [PYTHON, script, "--role", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def django_setup() -> None:
    """In a child: Django on the database the parent gave."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


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
