"""The overdue sweep set-based in chunks of patients: statements grow with the chunks, not
with the bills, and a sweep that stops half-way is finished by the next one."""

import pytest
from django.db import DatabaseError, connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from accounts.models import AgreementEvent, AgreementStatus, CreditAgreement, CreditLimitChange
from billing.collections.sweep import SweepResult, overdue_sweep
from billing.models import Bill, BillStatus, CaseEvent, CollectionCase
from tests.billing.test_api import assert_credit_consistent
from tests.overdue_data import overdue_data_load

pytestmark = pytest.mark.django_db

# 1,000 patients with 4 bills each, one of them 8 to 41 days past due.
BILLS, SHARE, PAST_DUE = 4000, 0.25, 1000


def swept_once(past_due: int) -> SweepResult:
    """What a sweep does to this data: every consequence, once for each past-due bill."""
    return SweepResult(
        bills=past_due, suspended=past_due, limits=2 * past_due, cases_opened=past_due
    )


@pytest.mark.parametrize(("bills", "chunk"), [(40, 1000), (BILLS, 1000), (BILLS, 250)])
def test_a_sweep_costs_statements_per_chunk_not_per_bill(settings, bills, chunk):
    settings.SWEEP_CHUNK = chunk
    overdue_data_load(bills=bills, overdue_share=SHARE)
    past_due = bills // 4

    with CaptureQueriesContext(connection) as queries:
        result = overdue_sweep()

    assert result == swept_once(past_due)
    chunks = -(-past_due // chunk)
    # Who is concerned, before the chunks, then each chunk's transaction (savepoints
    # included): the same for 10 bills as for 1,000. One statement a bill would be 1,000.
    assert len(queries) <= 10 + 35 * chunks, len(queries)
    assert Bill.objects.filter(status=BillStatus.OVERDUE).count() == past_due


def test_a_sweep_stopped_after_two_chunks_is_finished_by_the_next(settings):
    settings.SWEEP_CHUNK = 250
    overdue_data_load(bills=BILLS, overdue_share=SHARE)
    with connection.cursor() as cursor:  # the database refuses the third chunk's bills
        cursor.execute(
            "CREATE FUNCTION sweep_crash() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the worker died'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER sweep_crash BEFORE UPDATE ON billing_bill FOR EACH ROW "
            "WHEN (NEW.patient_id > 500) EXECUTE FUNCTION sweep_crash()"
        )

    with pytest.raises(DatabaseError, match="the worker died"):
        overdue_sweep()

    # Two chunks committed whole, the third nothing.
    assert_swept(patients=range(1, 501))
    assert Bill.objects.filter(status=BillStatus.OVERDUE, patient_id__gt=500).count() == 0
    assert not CollectionCase.objects.filter(patient_id__gt=500).exists()
    assert not CreditAgreement.objects.filter(
        patient_id__gt=500, status=AgreementStatus.SUSPENDED
    ).exists()

    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER sweep_crash ON billing_bill")
    rest = overdue_sweep()

    assert rest == swept_once(500)
    assert_swept(patients=range(1, PAST_DUE + 1))
    assert overdue_sweep() == SweepResult()  # and a third run finds nothing to do


def assert_swept(*, patients: range) -> None:
    """Each of these patients swept exactly once: bill overdue, agreement suspended with one
    event, both limits lowered once, one case opened with one event; credit consistent."""
    first, last = patients[0], patients[-1]
    mine = {"patient_id__gte": first, "patient_id__lte": last}
    assert Bill.objects.filter(status=BillStatus.OVERDUE, **mine).count() == len(patients)
    assert CreditAgreement.objects.filter(status=AgreementStatus.SUSPENDED, **mine).count() == len(
        patients
    )
    assert AgreementEvent.objects.filter(
        transition="suspend",
        agreement__patient_id__gte=first,
        agreement__patient_id__lte=last,
    ).count() == len(patients)
    lowered = CreditLimitChange.objects.filter(
        credit_line__patient_id__gte=first,
        credit_line__patient_id__lte=last,
        new_limit__lt=F("old_limit"),
    )
    assert lowered.count() == 2 * len(patients)
    assert CollectionCase.objects.filter(**mine).count() == len(patients)
    assert CaseEvent.objects.filter(
        kind="opened", case__patient_id__gte=first, case__patient_id__lte=last
    ).count() == len(patients)
    for card in ("OD000000001", f"OD{last:09d}"):
        assert_credit_consistent(card)
