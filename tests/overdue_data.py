"""Many bills loaded with SQL, a share of them past due: the data of `bench/overdue.py` and
of the tests that count the overdue sweep's statements.

The data: N bills of N/4 patients (4 bills each, outpatient, 10 to 69 yuan), each bill a
closed visit with one charge, its payment link and its three credit entries (hold, settle,
bill); every patient has a signed agreement, two credit lines with their limit changes, and
`used` equal to the sum of the line's entries. A share of the bills (at most one a patient)
is unpaid and 8 to 41 days past due, so every consequence of the sweep happens; the others
are unpaid and due in 30 to 47 hours (no reminder yet). Patients are COPYed with their
identity numbers encrypted and hashed in Python as the model does; everything else is
`INSERT ... SELECT`. The tables must be empty (ids are given).
"""

import datetime as dt

BILLS_PER_PATIENT = 4


def overdue_data_load(*, bills: int, overdue_share: float) -> dict:
    """``bills`` bills with SQL on a migrated, empty database (module docstring: what)."""
    import io

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.demo import demo_resident_id
    from accounts.encryption import encrypt, identity_number_hash
    from accounts.identity import parse_resident_id
    from accounts.models import CreditPolicy, Institution

    n = bills
    past_due = int(n * overdue_share)
    patients = -(-n // BILLS_PER_PATIENT)
    policy = CreditPolicy.current()
    institution = Institution.objects.create(
        code="bench-overdue", name="Bench Hospital", kind="hospital"
    )
    now = timezone.now()
    # Identity numbers encrypted and hashed as the model does at save; the rest is SQL.
    rows = io.StringIO()
    for p in range(1, patients + 1):
        # Unique for every p: a birthday a day apart for each 1,000 patients.
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=p // 1000)
        number = demo_resident_id(birth.strftime("%Y%m%d"), f"{p % 1000:03d}")
        facts = parse_resident_id(number)
        rows.write(
            f"{p}\tBench {p}\tresident_id\t{encrypt(number)}\t{identity_number_hash(number)}\t"
            f"{facts.birth_date}\t{facts.sex!s}\tOD{p:09d}\t+86137{p:08d}\tt\t{now}\t{now}\n"
        )
    rows.seek(0)
    params = {
        "p": patients,
        "n": n,
        "past_due": past_due,
        "now": now,
        "inst": institution.pk,
        "terms": settings.AGREEMENT_TERMS_VERSION,
        "out_limit": policy.outpatient_base,
        "in_limit": policy.inpatient_base,
        "due_after": settings.BILL_DUE_AFTER["outpatient"],
        "link_valid": settings.PAYMENT_LINK_VALID_AFTER_DUE,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY accounts_patient (id, name, id_type, id_number, id_number_hash, birth_date, "
            "sex, citizen_card, phone, resident_of_region, created_at, updated_at) FROM STDIN",
            rows,
        )
        for sql in LOAD_SQL:
            cursor.execute(sql, params)
        for table in SEQUENCES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return {"patients": patients, "past_due": past_due}


# Bill i (1..n) belongs to patient (i - 1) % p + 1, so the past-due ones (i <= past_due,
# at most a quarter) fall on different patients. Its visit, charge and payment link have
# its id; its credit entries 3i-2, 3i-1, 3i. Outpatient line of patient k: k; inpatient: p+k.
LOAD_SQL = [
    """INSERT INTO accounts_historicalpatient (id, name, id_type, id_number, id_number_hash,
        birth_date, sex, citizen_card, phone, resident_of_region, created_at, updated_at,
        history_date, history_type)
    SELECT id, name, id_type, id_number, id_number_hash, birth_date, sex, citizen_card, phone,
        resident_of_region, created_at, updated_at, created_at, '+' FROM accounts_patient""",
    """INSERT INTO accounts_creditagreement (id, patient_id, status, channel, institution_id,
        signed_at, terms_version, suspended_for_overdue, created_at)
    SELECT k, k, 'active', 'window', %(inst)s, %(now)s - interval '400 days', %(terms)s,
        false, %(now)s - interval '400 days'
    FROM generate_series(1, %(p)s) k""",
    """INSERT INTO accounts_agreementevent (id, agreement_id, transition, from_status,
        to_status, reason, created_at)
    SELECT id, id, 'sign', 'pending', 'active', 'signed at Bench Hospital (bench)', signed_at
    FROM accounts_creditagreement""",
    """INSERT INTO accounts_creditline (id, patient_id, pool, "limit", used, updated_at)
    SELECT k, k, 'outpatient', %(out_limit)s, 0, %(now)s FROM generate_series(1, %(p)s) k
    UNION ALL
    SELECT %(p)s + k, k, 'inpatient', %(in_limit)s, 0, %(now)s FROM generate_series(1, %(p)s) k""",
    """INSERT INTO accounts_creditlimitchange (id, credit_line_id, old_limit, new_limit, reason,
        source, created_at)
    SELECT id, id, 0, "limit", 'bench: the policy at signing', 'policy',
        %(now)s - interval '400 days'
    FROM accounts_creditline""",
    # The bills' times: past due 8 to 41 days (a collection case for each), or due in 30 to
    # 47 hours (past the "-24h" reminder); closed BILL_DUE_AFTER before, started 1 h before.
    """CREATE TEMPORARY TABLE bench_bill ON COMMIT DROP AS
    SELECT i, (i - 1) %% %(p)s + 1 AS patient, 10 + i %% 60 AS self_pay,
        CASE WHEN i <= %(past_due)s
            THEN %(now)s - interval '8 days' - (i %% 34) * interval '1 day'
                - (i %% 24) * interval '1 hour'
            ELSE %(now)s + interval '30 hours' + (i %% 18) * interval '1 hour'
        END AS due_at
    FROM generate_series(1, %(n)s) i""",
    """INSERT INTO billing_visit (id, institution_id, patient_id, credit_line_id, kind,
        his_visit_id, department, doctor, started_at, status, total, held, closed_at,
        created_at)
    SELECT i, %(inst)s, patient, patient, 'outpatient', 'OD' || i, '', '',
        due_at - %(due_after)s - interval '1 hour', 'closed', 2 * self_pay, 0,
        due_at - %(due_after)s, due_at - %(due_after)s - interval '1 hour'
    FROM bench_bill""",
    """INSERT INTO billing_charge (id, visit_id, his_line_id, item_code, item_name, category,
        quantity, unit_price, amount, self_pay_estimate, created_at)
    SELECT i, i, 'L1', 'CONS01', 'Consultation', 'consultation', 1, 2 * self_pay,
        2 * self_pay, self_pay, due_at - %(due_after)s - interval '30 minutes'
    FROM bench_bill""",
    """INSERT INTO billing_bill (id, visit_id, patient_id, institution_id, credit_line_id, pool,
        status, total, insurance_fund, personal_account, self_pay, insurance_account_balance,
        closed_at, due_at, paid_amount, written_off_amount, refunded_amount, created_at)
    SELECT i, i, patient, %(inst)s, patient, 'outpatient', 'unpaid', 2 * self_pay, self_pay,
        0, self_pay, 0, due_at - %(due_after)s, due_at, 0, 0, 0, due_at - %(due_after)s
    FROM bench_bill""",
    """INSERT INTO billing_paymentlink (id, bill_id, token, created_at, expires_at)
    SELECT i, i, md5(i || ':' || random()), due_at - %(due_after)s, due_at + %(link_valid)s
    FROM bench_bill""",
    # A charge's hold, released when the visit closed, and the bill's own entry.
    """INSERT INTO billing_creditentry (id, credit_line_id, kind, amount, visit_id, charge_id,
        bill_id, actor, created_at)
    SELECT 3 * i - 2, patient, 'hold', self_pay, i, i, NULL::bigint, 'system',
        due_at - %(due_after)s - interval '30 minutes' FROM bench_bill
    UNION ALL
    SELECT 3 * i - 1, patient, 'settle', -self_pay, i, NULL::bigint, NULL::bigint, 'system',
        due_at - %(due_after)s FROM bench_bill
    UNION ALL
    SELECT 3 * i, patient, 'bill', self_pay, i, NULL, i, 'system', due_at - %(due_after)s
    FROM bench_bill""",
    """UPDATE accounts_creditline l SET used = e.used
    FROM (SELECT credit_line_id, sum(amount) AS used FROM billing_creditentry
        GROUP BY credit_line_id) e
    WHERE l.id = e.credit_line_id""",
]
SEQUENCES = [
    "accounts_patient",
    "accounts_creditagreement",
    "accounts_agreementevent",
    "accounts_creditline",
    "accounts_creditlimitchange",
    "billing_visit",
    "billing_charge",
    "billing_bill",
    "billing_paymentlink",
    "billing_creditentry",
]
