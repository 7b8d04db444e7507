"""The window staff's sign-up desk in the admin."""

import re

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


def desk_card(page: str, citizen_card: str) -> str:
    """The HTML of one person's card in the desk's results."""
    start = page.index(f'data-citizen-card="{citizen_card}"')
    return page[start : page.index("</div>\n      \n", start)]


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
    card = desk_card(response.content.decode(), "A12345678")
    assert "300.00" in card and "5000.00" in card
    assert reverse("admin:accounts_creditagreement_print", args=[patient.agreement.pk]) in card


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


def test_desk_shows_every_fields_error_at_once(clerk_client):
    """Issue 13: the sign-up form said one error per submit (the phone's first, then the
    identity number's)."""
    data = {**FORM, "id_number": "330183199001011234", "phone": "12345"}

    page = clerk_client.post(DESK, data).content.decode()

    assert "check digit" in page and "not a valid phone number" in page
    assert not Patient.objects.exists()


def test_desk_refuses_a_duplicate_citizen_card(clerk_client, signed_patient):
    card = signed_patient.patient.citizen_card
    response = clerk_client.post(
        DESK, {**FORM, "citizen_card": card, "id_number": resident_id(999)}
    )
    page = response.content.decode()
    assert "already signed up" in page
    assert signed_patient.patient.name in page
    assert Patient.objects.count() == 1


@pytest.mark.parametrize("how", ["citizen_card", "id_number", "phone", "phone+86", "name"])
def test_desk_finds_a_person_by_card_id_phone_or_name(clerk_client, signed_patient, how):
    patient = signed_patient.patient
    query = {
        "citizen_card": patient.citizen_card.lower(),
        "id_number": patient.id_number.lower(),
        "phone": patient.phone.as_national,
        "phone+86": str(patient.phone),
        "name": patient.name[:2],
    }[how]
    page = clerk_client.get(DESK, {"q": query}).content.decode()
    assert f'data-citizen-card="{patient.citizen_card}"' in page
    assert signed_patient.get_status_display() in page


@pytest.mark.parametrize("part", ["last 8 digits", "card ending in them"])
def test_a_part_of_a_number_finds_nobody(clerk_client, signed_patient, part):
    """Issue 13: a new card number once showed an unrelated patient, matched on the end of
    their phone number."""
    digits = str(signed_patient.patient.phone)[-8:]
    query = {"last 8 digits": digits, "card ending in them": f"NEW{digits}"}[part]
    page = clerk_client.get(DESK, {"q": query}).content.decode()
    assert f'data-citizen-card="{signed_patient.patient.citizen_card}"' not in page
    assert "data-not-found" in page and 'class="errornote"' not in page  # said, not an error


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


def test_desk_masks_identity_numbers_even_for_window_staff(clerk_client, signed_patient):
    patient = signed_patient.patient
    page = clerk_client.get(DESK, {"q": patient.citizen_card}).content.decode()
    assert patient.masked_id_number in page
    assert patient.id_number not in page


def test_desk_offers_the_transitions_the_state_allows(clerk_client, signed_patient, window_clerk):
    from accounts import services

    def card():
        page = clerk_client.get(DESK, {"q": signed_patient.patient.citizen_card}).content.decode()
        return desk_card(page, signed_patient.patient.citizen_card)

    def url(action):
        return reverse("admin:accounts_creditagreement_action", args=[signed_patient.pk, action])

    assert url("suspend") in card() and url("terminate") in card()
    assert url("reactivate") not in card()
    services.agreement_suspend(agreement=signed_patient, actor=window_clerk, reason="x")
    assert url("reactivate") in card() and url("suspend") not in card()


def test_a_pending_applicant_is_signed_at_the_desk(clerk_client, hospital, window_clerk):
    from accounts import services
    from tests.factories import PatientFactory

    patient = PatientFactory()
    services.agreement_open(patient=patient, institution=hospital, channel="online")
    page = clerk_client.get(DESK, {"q": patient.citizen_card}).content.decode()
    sign_url = reverse("admin:accounts_patient_sign", args=[patient.pk])
    assert sign_url in desk_card(page, patient.citizen_card)

    clerk_client.post(sign_url)

    patient.agreement.refresh_from_db()
    assert patient.agreement.status == AgreementStatus.ACTIVE
    assert patient.agreement.signed_by == window_clerk
    assert patient.credit_lines.count() == 2


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/creditagreement/abc/print/",
        "/admin/accounts/creditagreement/abc/transition/suspend/",
        "/admin/accounts/creditline/abc/change-limit/",
        "/admin/accounts/patient/abc/history/",
        "/admin/accounts/patient/abc/sign/",
        "/admin/accounts/creditagreement/999999/print/",
    ],
)
def test_bad_ids_in_admin_urls_are_not_errors(admin_client, url):
    # Our pages answer 404; other shapes fall to the admin's "no such object" redirect.
    response = admin_client.get(url, follow=True)
    assert response.status_code in (200, 404)
    assert response.redirect_chain or response.status_code == 404


def test_patient_history_is_only_for_staff_who_see_identity(
    clerk_client, collector, signed_patient
):
    patient = signed_patient.patient
    url = reverse("admin:accounts_patient_history", args=[patient.pk])
    assert clerk_client.get(url).status_code == 200
    assert logged_in(collector).get(url).status_code == 403


def test_correcting_a_patient_goes_through_validation_and_history(clerk_client, signed_patient):
    patient = signed_patient.patient
    url = reverse("admin:accounts_patient_change", args=[patient.pk])
    data = {
        "name": patient.name,
        "id_type": patient.id_type,
        "id_number": patient.id_number,
        "citizen_card": patient.citizen_card,
        "phone": "13912345678",
        "resident_of_region": "on",
        "credit_lines-TOTAL_FORMS": "0",
        "credit_lines-INITIAL_FORMS": "0",
        "family_payers-TOTAL_FORMS": "0",
        "family_payers-INITIAL_FORMS": "0",
    }
    assert clerk_client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert str(patient.phone) == "+8613912345678"
    assert patient.history.first().history_user.username == "clerk"


def test_patient_pages_are_chinese_by_default(window_clerk, signed_patient, settings):
    from creditcare import settings as production

    settings.LANGUAGE_CODE = production.LANGUAGE_CODE
    client = logged_in(window_clerk)
    url = reverse("admin:accounts_creditagreement_print", args=[signed_patient.pk])
    page = client.get(url).content.decode()  # no Accept-Language: the default
    assert "先诊疗后付费" in page
    assert "Credit agreement" not in page


def test_the_printed_agreement_and_the_desk_say_each_thing_once(
    clerk_client, signed_patient, settings
):
    """Issue 13: in Chinese the printed agreement repeated clauses 1, 2 and 4 word for word,
    and the desk its intro sentence (the translations held each twice)."""
    settings.LANGUAGE_CODE = "zh-hans"
    url = reverse("admin:accounts_creditagreement_print", args=[signed_patient.pk])
    page = clerk_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    clauses = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert len(clauses) == 6
    for clause in clauses:
        for sentence in filter(None, re.split(r"(?<=[。；])", clause.strip())):
            assert page.count(sentence) == 1, sentence

    desk = clerk_client.get(DESK, {"q": "ZZ0001"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert desk.content.decode().count("窗口签约。") == 1
