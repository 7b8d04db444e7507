"""Database helpers for migrations: append-only tables enforced by the database itself."""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION creditcare_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: add a reversal instead', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def append_only(*tables: str):
    """``RunPython`` callables (forwards, backwards) that refuse UPDATE and DELETE on
    ``tables`` (PostgreSQL and SQLite)."""

    def forwards(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(POSTGRES_FUNCTION, params=None)
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION creditcare_append_only()"
                )
            elif vendor == "sqlite":
                for action in ("UPDATE", "DELETE"):
                    schema_editor.execute(
                        f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} "
                        f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); "
                        "END"
                    )

    def backwards(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            elif vendor == "sqlite":
                for action in ("update", "delete"):
                    schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{action}")

    return forwards, backwards
