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
                        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{action.lower()} "
                        f"BEFORE {action} "
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


def append_only_again_on_sqlite(*tables: str):
    """A ``RunPython`` callable giving ``tables`` their append-only triggers again on SQLite,
    for migrations that make it rebuild them: it alters a column by copying the table, and
    the copy has no triggers. (PostgreSQL alters in place and keeps them.)"""
    create, _drop = append_only(*tables)

    def again(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            create(apps, schema_editor)

    return again
