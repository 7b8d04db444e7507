"""PostgreSQL: ``billing_charges_post_answer``, which answers the request itself.

As migration 0016's ``billing_charges_post``, but for a posted request it returns the
answer's JSON text (the visit's running totals and the request's charges, which Python
renders beforehand), stored under the Idempotency-Key as well when there is one, so the API
sends it as it is.
Every other case (a known key, anything a rule of ``charges_post`` might refuse) comes back
as NULL with nothing written, and the transactional path answers it.

A new name, and 0016's function left in place, so that servers still running the previous
code keep working while a deployment rolls through; a later migration drops it.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_charges_post_answer(
    p_institution_id bigint, p_key text, p_request_hash text, p_now timestamptz,
    p_visit_id bigint, p_posted_by_id bigint, p_kind text, p_actor text,
    p_max_total numeric, p_status integer, p_charges jsonb, p_answer_charges json
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line accounts_creditline%ROWTYPE;
    visit billing_visit%ROWTYPE;
    added_total numeric;
    added_held numeric;
    answer json;
BEGIN
    IF p_key IS NOT NULL THEN
        -- A retry while the first attempt runs, or a key kept before: the transactional
        -- path tells which (409, a replay, or a reused key).
        IF NOT pg_try_advisory_xact_lock(hashtextextended(p_institution_id || ':' || p_key, 0))
            OR EXISTS (
                SELECT 1 FROM billing_idempotencyrecord r
                WHERE r.institution_id = p_institution_id AND r.key = p_key
            )
        THEN
            RETURN NULL;
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
        RETURN NULL;
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
        RETURN NULL;
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

    -- ChargesOutput's answer: VisitSummaryOutput (decimals with two places, as text) and the
    -- charges as Python rendered them.
    answer := json_build_object(
        'visit', json_build_object(
            'id', visit.id, 'his_visit_id', visit.his_visit_id, 'kind', visit.kind,
            'status', visit.status, 'total', visit.total::text, 'held', visit.held::text,
            'available', (line."limit" - line.used)::text
        ),
        'charges', p_answer_charges
    );
    IF p_key IS NOT NULL THEN
        INSERT INTO billing_idempotencyrecord (institution_id, key, request_hash,
            response_status, response_body, started_at, created_at)
        VALUES (p_institution_id, p_key, p_request_hash, p_status, answer::jsonb, p_now, p_now);
    END IF;
    RETURN answer::text;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS billing_charges_post_answer(bigint, text, text, timestamptz, bigint,
    bigint, text, text, numeric, integer, jsonb, json);
"""


def create_functions(apps, schema_editor):
    schema_editor.execute(FUNCTIONS, params=None)


def drop_functions(apps, schema_editor):
    schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0017_fewer_indexes_and_checks_on_hot_tables")]

    operations = [migrations.RunPython(create_functions, drop_functions)]
