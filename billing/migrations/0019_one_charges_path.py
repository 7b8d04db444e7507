"""One charges path, in Python (``billing.visits.services.charges_post``).

* Drops the PostgreSQL functions of migrations 0015, 0016 and 0018.
* Restores the database's checks of the foreign keys an earlier 0017 dropped (charge
  posted_by, credit entry visit and charge, idempotency record institution), on databases
  that lost them; a database created since has them already. Each is added NOT VALID, then
  validated: the check of the existing rows does not block writes to these busy tables.
* Upgrading a running system: the previous release calls the dropped functions, so stop
  its API processes before this migration (docs/deployment.md).
* The bill's total is exactly the sum of its parts (the tolerance was for SQLite).
"""

from django.db import migrations, models

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS billing_charges_post_answer(bigint, text, text, timestamptz, bigint,
    bigint, text, text, numeric, integer, jsonb, json);
DROP FUNCTION IF EXISTS billing_charges_post(bigint, text, text, timestamptz, bigint, bigint,
    text, text, numeric, integer, jsonb);
DROP FUNCTION IF EXISTS billing_charges_write(bigint, bigint, bigint, text, text, timestamptz,
    jsonb);
DROP FUNCTION IF EXISTS billing_charges_lock(bigint, bigint, text[]);
DROP FUNCTION IF EXISTS billing_idempotency_begin(bigint, text, text, timestamptz);
"""

# (table, column, referenced table) of each foreign key to check.
FOREIGN_KEYS = [
    ("billing_charge", "posted_by_id", "accounts_institutionapikey"),
    ("billing_creditentry", "visit_id", "billing_visit"),
    ("billing_creditentry", "charge_id", "billing_charge"),
    ("billing_idempotencyrecord", "institution_id", "accounts_institution"),
]

HAS_FOREIGN_KEY = """
SELECT 1 FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND a.attname = %s
"""


def restore_foreign_keys(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, column, target in FOREIGN_KEYS:
            cursor.execute(HAS_FOREIGN_KEY, [table, column])
            if cursor.fetchone() is None:
                constraint = f"{table}_{column}_fk"
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {constraint} "
                    f"FOREIGN KEY ({column}) REFERENCES {target} (id) "
                    "DEFERRABLE INITIALLY DEFERRED NOT VALID"
                )
                cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}")


class Migration(migrations.Migration):
    dependencies = [("billing", "0018_charges_post_answers_itself")]

    operations = [
        migrations.RunSQL(DROP_FUNCTIONS, migrations.RunSQL.noop),
        migrations.RunPython(restore_foreign_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="bill", name="bill_total_is_its_parts"),
        migrations.AddConstraint(
            model_name="bill",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    total=models.F("insurance_fund")
                    + models.F("personal_account")
                    + models.F("self_pay")
                ),
                name="bill_total_is_its_parts",
            ),
        ),
    ]
