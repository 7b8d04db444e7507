"""A region's years of data loaded with SQL, for `bench/reports.py`: what the management
reports read, at the scale MISSION.md plans for.

The data: N bills over ``years`` years to yesterday (China time), in the order they
happened, of N/10 patients who signed up evenly over those years (a bill belongs to a
patient already signed), at five institutions. Each bill is a closed visit (one in twenty
inpatient) with its credit entries (hold, settle, bill) and its fate:

* 90% paid within the due time, 7% paid 1 to 40 days late, by Alipay, WeChat Pay or at a
  window (each a succeeded payment and its payment entry);
* 1.5% written off 90 days after the due time (a write-off entry), the rest still owed.

Each bill sent one SMS (97% delivered, 2% failed, 1% only sent), and each institution
reported its day's visit count. Rows are inserted in time order, as a running region
writes them. Identity numbers are placeholders (the reports never read them), and no
charge, payment link or limit change is loaded (the reports never read those either).
Everything is `INSERT ... SELECT` into a migrated, empty database; ids are given, and
foreign keys are not checked while loading (so the server's user must be a superuser).
"""

INSTITUTIONS = 5
BILLS_PER_PATIENT = 10

LOAD_SQL = [
    """INSERT INTO accounts_institution (id, code, name, kind, is_active)
    SELECT k, 'bench-' || k, 'Bench Hospital ' || k, 'hospital', true
    FROM generate_series(1, %(institutions)s) k""",
    # Patient k signs on day (k - 1) * days / p of the span, at a window (80%) or online.
    """CREATE TEMPORARY TABLE bench_patient ON COMMIT DROP AS
    SELECT k, %(first_day)s + (k - 1) * %(days)s / %(p)s * interval '1 day'
        + interval '9 hours' + (k %% 480) * interval '1 minute' AS signed_at
    FROM generate_series(1::bigint, %(p)s) k""",
    """INSERT INTO accounts_patient (id, name, id_type, id_number, id_number_hash, birth_date,
        sex, citizen_card, phone, resident_of_region, created_at, updated_at)
    SELECT k, 'Bench ' || k, 'resident_id', 'placeholder', md5(k::text),
        date '1940-01-01' + (k * 7919 %% 29000) * interval '1 day', 'female',
        'RP' || lpad(k::text, 9, '0'), '+86137' || lpad(k::text, 8, '0'), k %% 10 <> 0,
        signed_at, signed_at
    FROM bench_patient""",
    """INSERT INTO accounts_creditagreement (id, patient_id, status, channel, institution_id,
        signed_at, terms_version, suspended_for_overdue, created_at)
    SELECT k, k, 'active', CASE WHEN k %% 5 = 0 THEN 'online' ELSE 'window' END,
        1 + k %% %(institutions)s, signed_at, %(terms)s, false, signed_at
    FROM bench_patient""",
    """INSERT INTO accounts_creditline (id, patient_id, pool, "limit", used, updated_at)
    SELECT k, k, 'outpatient', 300, 0, signed_at FROM bench_patient
    UNION ALL
    SELECT %(p)s + k, k, 'inpatient', 5000, 0, signed_at FROM bench_patient""",
    # Bill i closes on day (i - 1) * days / n, between 08:00 and 18:00; its patient one of
    # those signed by then; its fate from a hash of i (module docstring).
    """CREATE TEMPORARY TABLE bench_bill ON COMMIT DROP AS
    SELECT i, kind, patient, 1 + i %% %(institutions)s AS institution, closed_at, self_pay,
        closed_at + CASE kind WHEN 'inpatient' THEN %(due_in)s ELSE %(due_out)s END AS due_at,
        fate
    FROM (
        SELECT i, CASE WHEN i %% 20 = 0 THEN 'inpatient' ELSE 'outpatient' END AS kind,
            1 + (i * 2654435761 %% greatest(1, %(p)s::bigint * i / %(n)s)) AS patient,
            %(first_day)s + (i - 1) * %(days)s / %(n)s * interval '1 day'
                + interval '8 hours' + (i * 7919 %% 600) * interval '1 minute' AS closed_at,
            CASE WHEN i %% 20 = 0 THEN 500 + i %% 3000 ELSE 10 + i %% 60 END AS self_pay,
            i * 40503 %% 1000 AS fate
        FROM generate_series(1::bigint, %(n)s) i
    ) b""",
    """ALTER TABLE bench_bill ADD COLUMN paid_at timestamptz, ADD COLUMN written_off_at
    timestamptz""",
    """UPDATE bench_bill SET
        paid_at = CASE
            WHEN fate < 900 THEN closed_at + (1 + i %% 40) * interval '1 hour'
            WHEN fate < 970 THEN due_at + (1 + i %% 40) * interval '1 day'
        END,
        written_off_at = CASE WHEN fate >= 970 AND fate < 985
            THEN due_at + interval '90 days' END""",
    # What has not happened yet by now has not happened.
    """UPDATE bench_bill SET paid_at = NULL WHERE paid_at > %(now)s""",
    """UPDATE bench_bill SET written_off_at = NULL WHERE written_off_at > %(now)s""",
    """INSERT INTO billing_visit (id, institution_id, patient_id, credit_line_id, kind,
        his_visit_id, department, doctor, started_at, status, total, held, closed_at,
        created_at)
    SELECT i, institution, patient,
        CASE kind WHEN 'inpatient' THEN %(p)s + patient ELSE patient END, kind, 'V' || i, '', '',
        closed_at - CASE kind WHEN 'inpatient' THEN interval '5 days' ELSE interval '1 hour' END,
        'closed', 2 * self_pay, 0, closed_at,
        closed_at - CASE kind WHEN 'inpatient' THEN interval '5 days' ELSE interval '1 hour' END
    FROM bench_bill ORDER BY i""",
    """INSERT INTO billing_bill (id, visit_id, patient_id, institution_id, credit_line_id, pool,
        status, total, insurance_fund, personal_account, self_pay, insurance_account_balance,
        closed_at, due_at, paid_at, paid_amount, written_off_amount, refunded_amount,
        created_at)
    SELECT i, i, patient, institution,
        CASE kind WHEN 'inpatient' THEN %(p)s + patient ELSE patient END, kind,
        CASE WHEN paid_at IS NOT NULL THEN 'paid' WHEN written_off_at IS NOT NULL
            THEN 'written_off' WHEN due_at <= %(now)s THEN 'overdue' ELSE 'unpaid' END,
        2 * self_pay, self_pay, 0, self_pay, 0, closed_at, due_at, paid_at,
        CASE WHEN paid_at IS NOT NULL THEN self_pay ELSE 0 END,
        CASE WHEN written_off_at IS NOT NULL THEN self_pay ELSE 0 END, 0, closed_at
    FROM bench_bill ORDER BY i""",
    """INSERT INTO billing_payment (id, bill_id, institution_id, channel, out_trade_no,
        gateway_trade_no, amount, status, duplicate, created_at, succeeded_at, method)
    SELECT i, i, institution, channel, 'P' || i,
        CASE WHEN channel = 'window' THEN NULL ELSE 'G' || i END, self_pay, 'succeeded',
        false, paid_at - interval '1 minute', paid_at,
        CASE WHEN channel = 'window' THEN 'cash' ELSE '' END
    FROM (SELECT *, CASE WHEN i %% 20 < 11 THEN 'alipay' WHEN i %% 20 < 18 THEN 'wechat'
        ELSE 'window' END AS channel FROM bench_bill WHERE paid_at IS NOT NULL) b
    ORDER BY paid_at""",
    """INSERT INTO billing_creditentry (kind, amount, visit_id, charge_id, bill_id, payment_id,
        credit_line_id, actor, created_at)
    SELECT kind, amount, visit_id, NULL, bill_id, payment_id,
        CASE WHEN pool = 'inpatient' THEN %(p)s + patient ELSE patient END, 'system', at
    FROM (
        SELECT 'hold' AS kind, self_pay AS amount, i AS visit_id, NULL::bigint AS bill_id,
            NULL::bigint AS payment_id, kind AS pool, patient,
            closed_at - interval '30 minutes' AS at FROM bench_bill
        UNION ALL
        SELECT 'settle', -self_pay, i, NULL, NULL, kind, patient, closed_at FROM bench_bill
        UNION ALL
        SELECT 'bill', self_pay, i, i, NULL, kind, patient, closed_at FROM bench_bill
        UNION ALL
        SELECT 'payment', -self_pay, NULL, i, i, kind, patient, paid_at FROM bench_bill
        WHERE paid_at IS NOT NULL
        UNION ALL
        SELECT 'write_off', -self_pay, NULL, i, NULL, kind, patient, written_off_at
        FROM bench_bill WHERE written_off_at IS NOT NULL
    ) e
    ORDER BY at""",
    """INSERT INTO notifications_smsmessage (id, "to", template, body, language, status,
        attempts, last_error, dedup_key, created_at, sent_at, delivered_at, bulk)
    SELECT i, '+86137' || lpad(patient::text, 8, '0'), 'bill', 'bill ' || i, 'zh-hans',
        CASE WHEN fate %% 100 < 97 THEN 'delivered' WHEN fate %% 100 < 99 THEN 'failed'
            ELSE 'sent' END, 1, '', 'bench:bill:' || i, closed_at, closed_at,
        CASE WHEN fate %% 100 < 97 THEN closed_at + interval '5 seconds' END, false
    FROM bench_bill ORDER BY i""",
    """INSERT INTO billing_dailyvisitcount (institution_id, day, outpatient, inpatient,
        reported_at)
    SELECT institution, day, 5 * count(*) FILTER (WHERE kind = 'outpatient'),
        2 * count(*) FILTER (WHERE kind = 'inpatient') + 1, max(closed_at)
    FROM (SELECT institution, kind, closed_at,
        (closed_at AT TIME ZONE 'Asia/Shanghai')::date AS day FROM bench_bill) b
    GROUP BY institution, day""",
]
SEQUENCES = [
    "accounts_institution",
    "accounts_patient",
    "accounts_creditagreement",
    "accounts_creditline",
    "billing_visit",
    "billing_bill",
    "billing_payment",
    "billing_creditentry",
    "notifications_smsmessage",
    "billing_dailyvisitcount",
]


def reports_data_load(*, bills: int, years: int) -> dict:
    """``bills`` bills over ``years`` years to yesterday (module docstring: what)."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from billing.payments.selectors import day_bounds

    today = timezone.localdate()
    first_day = today.replace(year=today.year - years)
    params = {
        "n": bills,
        "p": max(1, bills // BILLS_PER_PATIENT),
        "institutions": INSTITUTIONS,
        "days": (today - first_day).days,
        "first_day": day_bounds(first_day)[0],
        "now": timezone.now(),
        "terms": settings.AGREEMENT_TERMS_VERSION,
        "due_out": settings.BILL_DUE_AFTER["outpatient"],
        "due_in": settings.BILL_DUE_AFTER["inpatient"],
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign keys unchecked: the data is consistent by construction, and checking 80
        # million rows' keys at commit took longer than loading them.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql in LOAD_SQL:
            cursor.execute(sql, params)
        for table in SEQUENCES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return {"bills": bills, "patients": params["p"], "first_day": first_day.isoformat()}
