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
    ``tables``."""

    def forwards(apps, schema_editor):
        schema_editor.execute(POSTGRES_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION creditcare_append_only()"
            )

    def backwards(apps, schema_editor):
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return forwards, backwards
