"""creditcare/bulk.py: many rows in one statement, as the ORM would have written them; and
creditcare/lookups.py: many values in one parameter, finding what ``__in`` finds."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Patient
from billing.models import CaseEvent, CollectionCase
from creditcare.bulk import columns_update, rows_insert, rows_update
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_rows_insert_takes_lists_broadcasts_single_values_and_fills_defaults():
    patients = PatientFactory.create_batch(3)
    now = timezone.now()

    ids = rows_insert(
        CollectionCase,
        {"patient_id": [p.pk for p in patients], "priority": [3, 2, 1], "opened_at": now},
        count=3,
    )

    cases = CollectionCase.objects.filter(pk__in=ids).order_by("pk")
    assert [c.pk for c in cases] == ids  # in the order given
    assert [(c.patient_id, c.priority) for c in cases] == [
        (p.pk, n) for p, n in zip(patients, [3, 2, 1], strict=True)
    ]
    # Defaults as the model's: open, nothing overdue, no agent, not disputed.
    assert {(c.status, c.overdue_amount, c.assigned_to_id, c.disputed) for c in cases} == {
        ("open", Decimal("0.00"), None, False)
    }
    assert rows_insert(CaseEvent, {"case_id": [], "kind": "opened"}, count=0) == []


def test_rows_insert_refuses_a_column_of_the_wrong_length():
    with pytest.raises(ValueError):
        rows_insert(CaseEvent, {"case_id": [1, 2], "kind": "opened"}, count=3)


def test_rows_update_saves_each_row_its_own_values():
    patients = PatientFactory.create_batch(2)
    cases = [CollectionCase.objects.create(patient=p) for p in patients]
    when = timezone.now()
    cases[0].overdue_amount, cases[0].oldest_due_at, cases[0].priority = Decimal("12.30"), when, 7
    cases[1].overdue_amount, cases[1].oldest_due_at, cases[1].priority = Decimal("0.05"), None, 0

    assert rows_update(cases, ["overdue_amount", "oldest_due_at", "priority"]) == 2

    saved = CollectionCase.objects.order_by("pk")
    assert [(c.overdue_amount, c.oldest_due_at, c.priority) for c in saved] == [
        (Decimal("12.30"), when, 7),
        (Decimal("0.05"), None, 0),
    ]
    assert rows_update([], ["priority"]) == 0


def test_columns_update_sets_each_row_its_values_and_broadcasts_single_values():
    patients = PatientFactory.create_batch(3)
    cases = [CollectionCase.objects.create(patient=p, priority=5) for p in patients]
    when = timezone.now()

    updated = columns_update(
        CollectionCase,
        {"pk": [cases[0].pk, cases[2].pk], "priority": [9, 8], "closed_at": when},
        count=2,
    )

    assert updated == 2
    saved = CollectionCase.objects.order_by("pk")
    assert [(c.priority, c.closed_at) for c in saved] == [(9, when), (5, None), (8, when)]
    assert columns_update(CollectionCase, {"pk": [], "priority": []}, count=0) == 0
    with pytest.raises(ValueError):
        columns_update(CollectionCase, {"priority": [1]}, count=1)  # which rows?
    with pytest.raises(ValueError):
        columns_update(CollectionCase, {"pk": [cases[0].pk], "priority": [1, 2]}, count=1)


def test_in_array_finds_what_in_finds_on_keys_relations_and_text():
    patients = PatientFactory.create_batch(4)
    CollectionCase.objects.create(patient=patients[1])
    some = [patients[1].pk, patients[3].pk]

    def found(queryset):
        return sorted(queryset.values_list("pk", flat=True))

    assert found(Patient.objects.filter(pk__in_array=some)) == sorted(some)
    assert found(Patient.objects.exclude(pk__in_array=some)) == sorted(
        p.pk for p in patients if p.pk not in some
    )
    assert found(CollectionCase.objects.filter(patient_id__in_array=some)) == found(
        CollectionCase.objects.filter(patient_id__in=some)
    )
    assert found(CollectionCase.objects.filter(patient_id__in_array=some)) != []
    cards = [patients[0].citizen_card, patients[1].citizen_card, "CC-nobody"]
    assert found(Patient.objects.filter(citizen_card__in_array=cards)) == sorted(
        [patients[0].pk, patients[1].pk]
    )
    case = CollectionCase.objects.get()
    assert found(CollectionCase.objects.filter(patient__citizen_card__in_array=cards)) == [case.pk]
    with CaptureQueriesContext(connection) as queries:  # as with __in, nothing to ask
        assert found(Patient.objects.filter(pk__in_array=[])) == []
        assert Patient.objects.filter(pk__in_array=[]).update(name="x") == 0
    assert len(queries) == 0
    assert found(Patient.objects.exclude(pk__in_array=[])) == found(Patient.objects.all())
