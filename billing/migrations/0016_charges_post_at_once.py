"""PostgreSQL: the common charges request in one round trip, in autocommit.

``billing_charges_post`` serves a charges request whose lines are all new and which no rule
refuses, with its Idempotency-Key, as one statement (so one transaction): it claims the key
(a transaction-level advisory lock tells a request still running, as
``billing_idempotency_begin`` does), locks the credit line, then the visit, writes the
charges, their ``hold`` credit entries, the line's ``used`` and the visit's totals, and stores
the answer with the key. Python sends the answer's charges already rendered (they are the
request's lines, posted at ``p_now``); the function adds the visit's running totals.

Anything else it leaves to the transactional path of migration 0015, writing nothing:

* ``replay`` (and ``busy``): the key is known (or held by a running request): the record
  comes back for Python to judge, as ``idempotency_begin`` does;
* ``other``: no such visit, a line posted before (a retry, or a conflict), the visit closed,
  not enough credit, or the visit's total too large. Python's ``charges_post`` then decides
  under its own locks and words the refusal, so the rules' messages stay in one place.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_charges_post(
    p_institution_id bigint, p_key text, p_request_hash text, p_now timestamptz,
    p_visit_id bigint, p_posted_by_id bigint, p_kind text, p_actor text,
    p_max_total numeric, p_status integer, p_charges jsonb, p_answer_charges jsonb
) RETURNS TABLE (
    outcome text, request_hash text, response_status integer, response_body text,
    started_at timestamptz, his_visit_id text, kind text, status text, total numeric,
    held numeric, line_limit numeric, line_used numeric
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    rec billing_idempotencyrecord%ROWTYPE;
    line accounts_creditline%ROWTYPE;
    visit billing_visit%ROWTYPE;
    added_total numeric;
    added_held numeric;
BEGIN
    IF p_key IS NOT NULL THEN
        IF NOT pg_try_advisory_xact_lock(
            hashtextextended(p_institution_id || ':' || p_key, 0)
        ) THEN
            RETURN QUERY SELECT 'busy', NULL::text, NULL::integer, NULL::text,
                NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::numeric,
                NULL::numeric, NULL::numeric, NULL::numeric;
            RETURN;
        END IF;
        SELECT r.* INTO rec FROM billing_idempotencyrecord r
        WHERE r.institution_id = p_institution_id AND r.key = p_key;
        IF FOUND THEN
            RETURN QUERY SELECT 'replay', rec.request_hash::text,
                rec.response_status::integer, rec.response_body::text, rec.started_at,
                NULL::text, NULL::text, NULL::text, NULL::numeric, NULL::numeric,
                NULL::numeric, NULL::numeric;
            RETURN;
        END IF;
    END IF;

    -- The lock order of billing_charges_lock: the credit line, then the visit.
    SELECT l.* INTO line FROM accounts_creditline l
    WHERE l.id = (
        SELECT v.credit_line_id FROM billing_visit v
        WHERE v.id = p_visit_id AND v.institution_id = p_institution_id
    )
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'other', NULL::text, NULL::integer, NULL::text,
            NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::numeric,
            NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    SELECT v.* INTO visit FROM billing_visit v WHERE v.id = p_visit_id FOR UPDATE;
    SELECT coalesce(sum(c.amount), 0), coalesce(sum(c.self_pay_estimate), 0)
    INTO added_total, added_held
    FROM jsonb_to_recordset(p_charges) AS c (amount numeric, self_pay_estimate numeric);
    -- The conditions of _charges_decide; Python words any refusal on its own path.
    IF visit.status <> 'open'
        OR (added_held > 0 AND added_held > line."limit" - line.used)
        OR visit.total + added_total > p_max_total
        OR EXISTS (
            SELECT 1 FROM billing_charge c
            WHERE c.visit_id = p_visit_id AND c.his_line_id IN (
                SELECT x.his_line_id FROM jsonb_to_recordset(p_charges) AS x (his_line_id text)
            )
        )
    THEN
        RETURN QUERY SELECT 'other', NULL::text, NULL::integer, NULL::text,
            NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::numeric,
            NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;

    WITH new AS (
        INSERT INTO billing_charge (visit_id, his_line_id, item_code, item_name, category,
            quantity, unit_price, amount, self_pay_estimate, posted_by_id, created_at)
        SELECT p_visit_id, c.his_line_id, c.item_code, c.item_name, c.category, c.quantity,
            c.unit_price, c.amount, c.self_pay_estimate, p_posted_by_id, p_now
        FROM ROWS FROM (jsonb_to_recordset(p_charges) AS (his_line_id text, item_code text,
            item_name text, category text, quantity numeric, unit_price numeric,
            amount numeric, self_pay_estimate numeric)) WITH ORDINALITY AS c
        ORDER BY c.ordinality
        RETURNING id, self_pay_estimate
    )
    INSERT INTO billing_creditentry (credit_line_id, kind, amount, visit_id, charge_id,
        actor, created_at)
    SELECT line.id, p_kind, n.self_pay_estimate, p_visit_id, n.id, p_actor, p_now
    FROM new n WHERE n.self_pay_estimate <> 0
    ORDER BY n.id;
    UPDATE accounts_creditline l SET used = l.used + added_held, updated_at = p_now
    WHERE l.id = line.id
    RETURNING l.* INTO line;
    UPDATE billing_visit v SET total = v.total + added_total, held = v.held + added_held
    WHERE v.id = p_visit_id
    RETURNING v.* INTO visit;

    IF p_key IS NOT NULL THEN
        -- The answer as ChargesOutput renders it (decimals with two places, as text).
        INSERT INTO billing_idempotencyrecord (institution_id, key, request_hash,
            response_status, response_body, started_at, created_at)
        VALUES (p_institution_id, p_key, p_request_hash, p_status, jsonb_build_object(
            'visit', jsonb_build_object(
                'id', visit.id, 'his_visit_id', visit.his_visit_id, 'kind', visit.kind,
                'status', visit.status, 'total', visit.total::text,
                'held', visit.held::text, 'available', (line."limit" - line.used)::text
            ),
            'charges', p_answer_charges
        ), p_now, p_now);
    END IF;
    RETURN QUERY SELECT 'posted', NULL::text, NULL::integer, NULL::text, NULL::timestamptz,
        visit.his_visit_id::text, visit.kind::text, visit.status::text, visit.total,
        visit.held, line."limit", line.used;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS billing_charges_post(bigint, text, text, timestamptz, bigint, bigint,
    text, text, numeric, integer, jsonb, jsonb);
"""


def create_functions(apps, schema_editor):
    schema_editor.execute(FUNCTIONS, params=None)


def drop_functions(apps, schema_editor):
    schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0015_charges_post_function")]

    operations = [migrations.RunPython(create_functions, drop_functions)]
