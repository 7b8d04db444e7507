"""creditcare/bulk.py: many rows in one statement, as the ORM would have written them."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import CaseEvent, CollectionCase
from creditcare.bulk import rows_insert, rows_update
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
