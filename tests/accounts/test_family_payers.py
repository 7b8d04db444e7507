"""Family members who pay (issue 17): a patient adds a family member's phone from /me/ with
a code to both phones, or window staff add one with the patient present; that phone gets
copies of the bill SMS and can receive the code of the patient's links (each code says whose
bill it is for); removing one is one click on /me/."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from accounts.family import FAMILY_PAYERS_MAX, family_payer_add, family_payers
from accounts.models import FamilyPayer
from notifications.models import SmsMessage
from tests.billing.test_api import settlement
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

FAMILY = "+8613911112222"
START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def code_for(phone: str) -> str:
    body = SmsMessage.objects.filter(to=phone, template="verification_code").latest("pk").body
    return re.search(r"\b\d{6}\b", body).group(0)


@pytest.fixture
def me(signed_patient):
    """A client signed in to /me/ with the patient's phone, two minutes ago."""
    patient = signed_patient.patient
    client = Client()
    with time_machine.travel(START - dt.timedelta(minutes=2), tick=False):
        client.post("/me/code/", {"phone": patient.phone.as_national})
        code = code_for(str(patient.phone))
        client.post("/me/verify/", {"phone": patient.phone.as_national, "code": code})
    return client


@time_machine.travel(START, tick=False)
def test_the_patient_adds_a_family_member_with_a_code_to_both_phones(me, signed_patient):
    patient = signed_patient.patient
    page = me.post("/me/family/", {"patient": patient.pk, "phone": "139 1111 2222"})
    assert page.status_code == 200 and "139****2222" in page.content.decode()
    # Each code says who is adding which phone.
    for phone in (str(patient.phone), FAMILY):
        body = SmsMessage.objects.filter(to=phone).latest("pk").body
        assert patient.name in body and "139****2222" in body
    wrong = me.post(
        "/me/family/confirm/",
        {
            "patient": patient.pk,
            "phone": FAMILY,
            "patient_code": code_for(str(patient.phone)),
            "family_code": "000000",
        },
    )
    assert wrong.status_code == 400 and not family_payers(patient)
    # The right one is kept: only the wrong one is asked again.
    assert 'name="patient_code"' not in wrong.content.decode()
    done = me.post(
        "/me/family/confirm/",
        {"patient": patient.pk, "phone": FAMILY, "family_code": code_for(FAMILY)},
    )
    assert done["Location"] == "/me/?added=1"
    [payer] = family_payers(patient)
    assert (str(payer.phone), payer.added_by) == (FAMILY, None)
    assert "139****2222" in me.get("/me/").content.decode()

    me.post(f"/me/family/{payer.pk}/remove/")  # one click
    assert not family_payers(patient)
    assert FamilyPayer.objects.get().removed_at is not None  # kept, as removed


@time_machine.travel(START, tick=False)
def test_no_own_phone_no_one_too_many_no_one_elses_patient(me, signed_patient):
    patient = signed_patient.patient
    own = me.post("/me/family/", {"patient": patient.pk, "phone": patient.phone.as_national})
    assert own.status_code == 400 and not SmsMessage.objects.filter(to=FAMILY).exists()
    for n in range(FAMILY_PAYERS_MAX):
        family_payer_add(patient=patient, phone=f"+861391111000{n}")
    full = me.post("/me/family/", {"patient": patient.pk, "phone": "13911112222"})
    assert full.status_code == 400
    # A stranger's session adds nothing to this patient, and removes nothing.
    assert (
        Client().post("/me/family/", {"patient": patient.pk, "phone": "13911112222"})["Location"]
        == "/me/"
    )
    Client().post(f"/me/family/{family_payers(patient)[0].pk}/remove/")
    assert len(family_payers(patient)) == FAMILY_PAYERS_MAX


def test_the_family_phone_gets_the_bill_sms_and_the_code(his, card, signed_patient, client):
    patient = signed_patient.patient
    family_payer_add(patient=patient, phone=FAMILY)
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "50.00")
    his.post(f"visits/{visit['id']}/close/", settlement("50.00", "20.00"))

    copy = SmsMessage.objects.get(to=FAMILY, template="visit_ended")
    token = re.search(r"/p/([A-Za-z0-9_-]+)", copy.body).group(1)
    assert patient.name in copy.body and "20.00" in copy.body

    page = client.get(f"/p/{token}").content.decode()
    assert "139****2222" in page and 'name="to"' in page
    payer = family_payers(patient)[0]
    client.post(f"/p/{token}/code/", {"to": str(payer.pk)})
    code = SmsMessage.objects.filter(to=FAMILY, template="verification_code").get()
    assert patient.name in code.body  # whose bill
    answer = client.post(f"/p/{token}/verify/", {"code": code_for(FAMILY)})
    assert answer["Location"] == f"/p/{token}/bill/"
    assert not SmsMessage.objects.filter(
        to=str(patient.phone), template="verification_code"
    ).exists()
    # A made-up choice is refused, not sent anywhere.
    refused = Client().post(f"/p/{token}/code/", {"to": "99999"})
    assert refused.status_code == 400


def test_window_staff_add_one_with_the_patient_present(signed_patient, window_clerk, collector):
    patient = signed_patient.patient
    url = f"/admin/accounts/patient/{patient.pk}/family/"
    assert logged_in(collector).get(url).status_code == 403
    clerk = logged_in(window_clerk)
    assert clerk.post(url, {"phone": "13911112222"}).status_code == 200  # not confirmed
    typo = {"phone": "13911112222", "phone_again": "13911112223", "present": "on"}
    assert clerk.post(url, typo).status_code == 200  # typed twice, differently
    assert not family_payers(patient)
    clerk.post(url, {"phone": "13911112222", "phone_again": "13911112222", "present": "on"})
    [payer] = family_payers(patient)
    assert payer.added_by == window_clerk
    assert (
        "139****2222" in clerk.get(f"/admin/accounts/patient/{patient.pk}/change/").content.decode()
    )
