"""The database itself refuses UPDATE and DELETE on the append-only records, so a bulk
``QuerySet.update()`` or a hand-written statement cannot rewrite history either."""

from django.db import migrations

APPEND_ONLY_TABLES = [
    "accounts_agreementevent",
    "accounts_creditlimitchange",
    "accounts_creditscore",
    "billing_charge",
    "billing_chargevoid",
    "billing_creditentry",
]

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION creditcare_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: add a reversal instead', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, params=None)
    for table in APPEND_ONLY_TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION creditcare_append_only()"
            )
        elif vendor == "sqlite":
            for action in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
                )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in APPEND_ONLY_TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif vendor == "sqlite":
            for action in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{action}")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_roles"),
        ("accounts", "0004_institutionapikey"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
