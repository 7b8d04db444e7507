"""Least-privilege staff roles."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import CreditLimitChange
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def limit_url(agreement, pool="outpatient"):
    line = agreement.patient.credit_lines.get(pool=pool)
    return line, reverse("admin:accounts_creditline_change_limit", args=[line.pk])


def test_window_staff_get_403_on_limit_changes(clerk_client, signed_patient):
    line, url = limit_url(signed_patient)
    assert clerk_client.get(url).status_code == 403
    assert clerk_client.post(url, {"new_limit": "9000", "reason": "x"}).status_code == 403
    line.refresh_from_db()
    assert line.limit == Decimal("300.00")
    assert CreditLimitChange.objects.filter(source="staff").count() == 0


def test_collection_staff_get_403_on_limit_changes(collector, signed_patient):
    _, url = limit_url(signed_patient)
    assert logged_in(collector).post(url, {"new_limit": "1", "reason": "x"}).status_code == 403


def test_credit_officer_changes_a_limit_with_a_reason(credit_officer, signed_patient):
    line, url = limit_url(signed_patient)
    client = logged_in(credit_officer)

    assert client.post(url, {"new_limit": "500.00", "reason": ""}).status_code == 200
    line.refresh_from_db()
    assert line.limit == Decimal("300.00")  # no reason, no change

    response = client.post(url, {"new_limit": "500.00", "reason": "Regular dialysis patient"})
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.limit == Decimal("500.00")
    change = line.limit_changes.last()
    assert (change.source, change.actor, change.reason) == (
        "staff",
        credit_officer,
        "Regular dialysis patient",
    )


def test_only_credit_officers_edit_the_policy(clerk_client, credit_officer):
    from accounts.models import CreditPolicy

    policy = CreditPolicy.current()
    url = reverse("admin:accounts_creditpolicy_change", args=[policy.pk])
    assert clerk_client.get(url).status_code == 403
    assert logged_in(credit_officer).get(url).status_code == 200


def test_collection_staff_see_patients_masked_and_cannot_edit(collector, signed_patient):
    patient = signed_patient.patient
    client = logged_in(collector)
    url = reverse("admin:accounts_patient_change", args=[patient.pk])
    page = client.get(url).content.decode()
    assert patient.masked_id_number in page
    assert patient.id_number not in page
    response = client.post(url, {"name": "Changed", "citizen_card": patient.citizen_card})
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.name != "Changed"


def test_window_staff_see_the_full_identity_on_the_detail_page(clerk_client, signed_patient):
    patient = signed_patient.patient
    detail = clerk_client.get(reverse("admin:accounts_patient_change", args=[patient.pk]))
    assert patient.id_number in detail.content.decode()
    listing = clerk_client.get(reverse("admin:accounts_patient_changelist"))
    assert patient.id_number not in listing.content.decode()
    assert patient.masked_id_number in listing.content.decode()


def test_collection_staff_cannot_suspend_or_terminate(collector, signed_patient):
    client = logged_in(collector)
    for action in ("suspend", "terminate"):
        url = reverse("admin:accounts_creditagreement_action", args=[signed_patient.pk, action])
        assert client.post(url, {"reason": "x"}).status_code == 403
    signed_patient.refresh_from_db()
    assert signed_patient.status == "active"


def test_nobody_deletes_patients_or_records(clerk_client, signed_patient):
    patient = signed_patient.patient
    url = reverse("admin:accounts_patient_delete", args=[patient.pk])
    assert clerk_client.post(url, {"post": "yes"}).status_code == 403


def test_every_role_has_all_its_permissions_after_migrating():
    from django.contrib.auth.models import Group

    from accounts.roles import ROLE_PERMISSIONS

    for role, names in ROLE_PERMISSIONS.items():
        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=role).permissions.select_related("content_type")
        }
        assert granted == set(names), role


def test_score_bands_that_are_not_numbers_are_refused(credit_officer):
    from accounts.models import CreditPolicy

    policy = CreditPolicy.current()
    url = reverse("admin:accounts_creditpolicy_change", args=[policy.pk])
    data = {
        "outpatient_base": "300.00",
        "inpatient_base": "5000.00",
        "cap_multiplier": "2.00",
        "step_ratio": "0.10",
        "repayments_per_step": "3",
        "late_cut_ratio": "0.25",
        "floor_ratio": "0.50",
        "score_floor": "550",
        "online_score_floor": "650",
        "score_bands": '[[650, "NaN"]]',
    }
    response = logged_in(credit_officer).post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert "Score bands" in response.content.decode()
    policy.refresh_from_db()
    assert policy.score_bands != [[650, "NaN"]]
    data["score_bands"] = '[[700, "1.30"]]'
    assert logged_in(credit_officer).post(url, data).status_code == 302
    policy.refresh_from_db()
    assert policy.score_bands == [[700, "1.30"]]
    latest = policy.history.first()
    assert (latest.score_bands, latest.history_user) == ([[700, "1.30"]], credit_officer)
