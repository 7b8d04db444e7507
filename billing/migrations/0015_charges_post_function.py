"""PostgreSQL functions for the hot path of the HIS API (posting charges).

Each replaces several ORM statements by one round trip with plans cached per connection;
the decisions stay in Python (``billing.services``, ``billing.idempotency``). Migration
0019 drops them: one charges path, in Python.

* ``billing_idempotency_begin``: claims an Idempotency-Key in the request's transaction. A
  transaction-level advisory lock on the key tells a request still running (``busy``: 409)
  without committing a record first; otherwise the record is inserted, or the one already
  there is returned for Python to judge (replay, reused, in flight, dead).
* ``billing_charges_lock``: locks the visit's credit line, then the visit (the shared lock
  order), and returns them with the charges already posted under the given his_line_ids.
* ``billing_charges_write``: inserts the decided charges with their ``hold`` credit entries
  and adds them to the line's ``used`` and the visit's ``total`` and ``held`` caches.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_idempotency_begin(
    p_institution_id bigint, p_key text, p_request_hash text, p_now timestamptz
) RETURNS TABLE (
    record_id bigint, busy boolean, inserted boolean, request_hash text,
    response_status integer, response_body text, started_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    new_id bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_institution_id || ':' || p_key, 0)) THEN
        RETURN QUERY SELECT NULL::bigint, true, false, NULL::text, NULL::integer, NULL::text,
            NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO billing_idempotencyrecord (institution_id, key, request_hash, started_at,
        created_at)
    VALUES (p_institution_id, p_key, p_request_hash, p_now, p_now)
    ON CONFLICT (institution_id, key) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NOT NULL THEN
        RETURN QUERY SELECT new_id, false, true, p_request_hash, NULL::integer, NULL::text,
            p_now;
    ELSE
        RETURN QUERY SELECT r.id, false, false, r.request_hash::text, r.response_status::integer,
            r.response_body::text, r.started_at
        FROM billing_idempotencyrecord r
        WHERE r.institution_id = p_institution_id AND r.key = p_key;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION billing_charges_lock(
    p_visit_id bigint, p_institution_id bigint, p_his_line_ids text[]
) RETURNS TABLE (
    line_id bigint, line_limit numeric, line_used numeric,
    his_visit_id text, kind text, status text, total numeric, held numeric,
    closed_at timestamptz,
    charge_id bigint, his_line_id text, item_code text, item_name text, category text,
    quantity numeric, unit_price numeric, amount numeric, self_pay_estimate numeric,
    posted_by_id bigint, created_at timestamptz,
    void_id bigint, void_reason text, voided_by_id bigint, voided_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    line accounts_creditline%ROWTYPE;
    visit billing_visit%ROWTYPE;
BEGIN
    -- A visit's credit line never changes, so reading it before the lock is safe.
    SELECT l.* INTO line FROM accounts_creditline l
    WHERE l.id = (
        SELECT v.credit_line_id FROM billing_visit v
        WHERE v.id = p_visit_id AND v.institution_id = p_institution_id
    )
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- no such visit at this institution: no rows
    END IF;
    SELECT v.* INTO visit FROM billing_visit v WHERE v.id = p_visit_id FOR UPDATE;
    RETURN QUERY
    SELECT line.id, line."limit", line.used,
        visit.his_visit_id::text, visit.kind::text, visit.status::text, visit.total,
        visit.held, visit.closed_at,
        c.id, c.his_line_id::text, c.item_code::text, c.item_name::text, c.category::text,
        c.quantity, c.unit_price, c.amount, c.self_pay_estimate, c.posted_by_id, c.created_at,
        cv.id, cv.reason, cv.voided_by_id, cv.created_at
    FROM (SELECT 1) AS one
    LEFT JOIN billing_charge c
        ON c.visit_id = p_visit_id AND c.his_line_id = ANY (p_his_line_ids)
    LEFT JOIN billing_chargevoid cv ON cv.charge_id = c.id;
END
$$;

CREATE OR REPLACE FUNCTION billing_charges_write(
    p_line_id bigint, p_visit_id bigint, p_posted_by_id bigint, p_kind text, p_actor text,
    p_now timestamptz, p_charges jsonb
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    added_total numeric;
    added_held numeric;
BEGIN
    WITH new AS (
        INSERT INTO billing_charge (visit_id, his_line_id, item_code, item_name, category,
            quantity, unit_price, amount, self_pay_estimate, posted_by_id, created_at)
        SELECT p_visit_id, c.his_line_id, c.item_code, c.item_name, c.category, c.quantity,
            c.unit_price, c.amount, c.self_pay_estimate, p_posted_by_id, p_now
        FROM ROWS FROM (jsonb_to_recordset(p_charges) AS (his_line_id text, item_code text,
            item_name text, category text, quantity numeric, unit_price numeric,
            amount numeric, self_pay_estimate numeric)) WITH ORDINALITY AS c
        ORDER BY c.ordinality
        RETURNING id, amount, self_pay_estimate
    ), entries AS (
        INSERT INTO billing_creditentry (credit_line_id, kind, amount, visit_id, charge_id,
            actor, created_at)
        SELECT p_line_id, p_kind, n.self_pay_estimate, p_visit_id, n.id, p_actor, p_now
        FROM new n WHERE n.self_pay_estimate <> 0
        ORDER BY n.id
    )
    SELECT coalesce(sum(n.amount), 0), coalesce(sum(n.self_pay_estimate), 0)
    INTO added_total, added_held FROM new n;
    UPDATE accounts_creditline SET used = used + added_held, updated_at = p_now
    WHERE id = p_line_id;
    UPDATE billing_visit SET total = total + added_total, held = held + added_held
    WHERE id = p_visit_id;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS billing_charges_write(bigint, bigint, bigint, text, text, timestamptz,
    jsonb);
DROP FUNCTION IF EXISTS billing_charges_lock(bigint, bigint, text[]);
DROP FUNCTION IF EXISTS billing_idempotency_begin(bigint, text, text, timestamptz);
"""


def create_functions(apps, schema_editor):
    schema_editor.execute(FUNCTIONS, params=None)


def drop_functions(apps, schema_editor):
    schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0014_payment_client_ip")]

    operations = [migrations.RunPython(create_functions, drop_functions)]
