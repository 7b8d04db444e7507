"""The window staff's sign-up desk in the admin."""

import pytest
from django.urls import reverse

from accounts.models import AgreementStatus, CreditAgreement, Patient
from tests.conftest import logged_in
from tests.factories import resident_id

pytestmark = pytest.mark.django_db

DESK = reverse("admin:accounts_patient_desk")
FORM = {
    "name": "赵敏",
    "id_type": "resident_id",
    "id_number": "330183199001011232",
    "citizen_card": "a12345678",
    "phone": "138 1234 5678",
    "resident_of_region": "on",
}


def test_desk_signs_up_a_new_patient_in_one_form(clerk_client, window_clerk, hospital):
    response = clerk_client.post(DESK, FORM, follow=True)

    assert response.status_code == 200
    patient = Patient.objects.get()
    assert patient.citizen_card == "A12345678"
    assert str(patient.phone) == "+8613812345678"
    assert patient.agreement.status == AgreementStatus.ACTIVE
    assert patient.agreement.signed_by == window_clerk
    assert patient.agreement.institution == hospital
    # The clerk lands on the person, with their agreement and credit at a glance.
    page = response.content.decode()
    assert "A12345678" in page
    assert "300.00" in page and "5000.00" in page
    assert reverse("admin:accounts_creditagreement_print", args=[patient.agreement.pk]) in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id_number", "330183199001011234", "check digit"),
        ("id_number", "330183199002301235", "not a real date"),
        ("phone", "12345", "not a valid phone number"),
        ("phone", "0571 8888 8888", "mobile number"),
        ("id_type", "passport", "passport number"),  # a resident ID number is not a passport
    ],
)
def test_desk_shows_clear_errors_and_creates_nothing(clerk_client, field, value, message):
    data = {**FORM, field: value}
    if field == "id_type":
        data["id_number"] = "330183-1990"
    response = clerk_client.post(DESK, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Patient.objects.exists()
    assert not CreditAgreement.objects.exists()


def test_desk_refuses_a_duplicate_citizen_card(clerk_client, signed_patient):
    card = signed_patient.patient.citizen_card
    response = clerk_client.post(
        DESK, {**FORM, "citizen_card": card, "id_number": resident_id(999)}
    )
    page = response.content.decode()
    assert "already signed up" in page
    assert signed_patient.patient.name in page
    assert Patient.objects.count() == 1


@pytest.mark.parametrize("how", ["citizen_card", "phone", "name"])
def test_desk_finds_a_person_by_card_phone_or_name(clerk_client, signed_patient, how):
    patient = signed_patient.patient
    query = {
        "citizen_card": patient.citizen_card.lower(),
        "phone": patient.phone.as_national,
        "name": patient.name[:2],
    }[how]
    page = clerk_client.get(DESK, {"q": query}).content.decode()
    assert f'data-citizen-card="{patient.citizen_card}"' in page
    assert signed_patient.get_status_display() in page


def test_desk_offers_sign_up_when_nobody_is_found(clerk_client):
    page = clerk_client.get(DESK, {"q": "ZZ0001"}).content.decode()
    assert "Nobody found" in page
    assert 'value="ZZ0001"' in page  # the card is prefilled in the new sign-up


def test_desk_is_for_window_staff_only(collector):
    assert logged_in(collector).get(DESK).status_code == 403


def test_agreement_actions_with_a_reason(clerk_client, signed_patient):
    url = reverse("admin:accounts_creditagreement_action", args=[signed_patient.pk, "suspend"])
    assert clerk_client.post(url, {"reason": ""}).status_code == 200  # form shown again
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE

    clerk_client.post(url, {"reason": "Patient asked to pause"})
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.SUSPENDED
    assert signed_patient.events.last().reason == "Patient asked to pause"


def test_terminate_with_balance_shows_the_reason(clerk_client, signed_patient):
    signed_patient.patient.credit_lines.filter(pool="inpatient").update(used="100.00")
    url = reverse("admin:accounts_creditagreement_action", args=[signed_patient.pk, "terminate"])
    response = clerk_client.post(url, {"reason": "Leaving"}, follow=True)
    assert "unpaid bills" in response.content.decode()
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE


def test_agreement_page_offers_only_possible_transitions(clerk_client, signed_patient):
    page = clerk_client.get(
        reverse("admin:accounts_creditagreement_change", args=[signed_patient.pk])
    ).content.decode()
    suspend = reverse("admin:accounts_creditagreement_action", args=[signed_patient.pk, "suspend"])
    reactivate = reverse(
        "admin:accounts_creditagreement_action", args=[signed_patient.pk, "reactivate"]
    )
    assert suspend in page
    assert reactivate not in page


def test_printable_agreement_masks_identity(clerk_client, signed_patient):
    url = reverse("admin:accounts_creditagreement_print", args=[signed_patient.pk])
    page = clerk_client.get(url).content.decode()
    patient = signed_patient.patient
    assert patient.name in page
    assert patient.masked_id_number in page
    assert patient.id_number not in page
    assert "300.00" in page and "5000.00" in page


def test_printable_agreement_is_chinese_by_default(window_clerk, signed_patient):
    client = logged_in(window_clerk)
    url = reverse("admin:accounts_creditagreement_print", args=[signed_patient.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "先诊疗后付费" in page
