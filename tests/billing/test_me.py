"""The patient's own page: sign in with the phone and a code, see credit, visits, bills."""

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from notifications.models import SmsMessage
from tests.billing.test_api import settlement
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def sign_in(client, phone) -> None:
    client.post("/me/code/", {"phone": phone})
    body = SmsMessage.objects.filter(template="verification_code").latest("pk").body
    code = re.search(r"\b\d{6}\b", body).group(0)
    assert client.post("/me/verify/", {"phone": phone, "code": code}).status_code == 302


def test_me_shows_credit_running_bill_and_bills(client, his, card, signed_patient):
    patient = signed_patient.patient
    running = his.open_visit(card, his_visit_id="OPEN")
    his.charge(running["id"], "L1", "12.00", item_name="挂号费")
    closed = his.open_visit(card, his_visit_id="DONE")
    his.charge(closed["id"], "L1", "50.00")
    his.post(f"visits/{closed['id']}/close/", settlement("50.00", "20.00"))

    assert "Send me a code" in client.get("/me/").content.decode()  # signed out: the form
    sign_in(client, patient.phone.as_national)
    page = client.get("/me/").content.decode()

    assert patient.name in page
    assert "挂号费" in page  # the running bill, charge by charge
    assert 'data-available="outpatient">¥268.00' in page  # 300 - 12 held - 20 due
    assert 'data-bill="unpaid"' in page and "/p/" in page


def test_an_unknown_number_gets_the_same_answer_and_no_sms(client):
    response = client.post("/me/code/", {"phone": "13900001111"})
    assert response.status_code == 200
    assert "If this number is signed up" in response.content.decode()
    assert not SmsMessage.objects.exists()


def test_me_shows_only_the_signed_in_phone(client, signed_patient, hospital, window_clerk):
    from accounts import services

    other = PatientFactory(name="别人")
    services.agreement_sign(patient=other, institution=hospital, actor=window_clerk)
    sign_in(client, str(signed_patient.patient.phone))
    page = client.get("/me/").content.decode()
    assert signed_patient.patient.name in page and "别人" not in page
    client.post("/me/sign-out/")
    assert signed_patient.patient.name not in client.get("/me/").content.decode()


def test_a_wrong_code_does_not_sign_in(client, signed_patient):
    phone = str(signed_patient.patient.phone)
    client.post("/me/code/", {"phone": phone})
    response = client.post("/me/verify/", {"phone": phone, "code": "not-it"})
    assert response.status_code == 400
    assert signed_patient.patient.name not in client.get("/me/").content.decode()


def test_asking_twice_answers_alike_whether_or_not_the_number_is_signed_up(signed_patient):
    """Issue 13, defect 5: the second request within a minute told a known number (400,
    wait) from an unknown one (200)."""
    known, unknown = signed_patient.patient.phone.as_national, "13900001111"
    answers = {}
    for phone in (known, unknown):
        client = Client()
        first, second = (client.post("/me/code/", {"phone": phone}) for _ in range(2))
        answers[phone] = [said(response) for response in (first, second)]

    assert answers[known] == answers[unknown]
    assert [status for status, _notice, _error in answers[known]] == [200, 200]
    assert SmsMessage.objects.filter(template="verification_code").count() == 1  # known only


def said(response) -> tuple[int, bool, str]:
    """What the sign-in page told: its status, the "code on its way" notice, its error."""
    page = response.content.decode()
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', page)
    return response.status_code, "If this number is signed up" in page, error and error[1]


def test_asking_again_a_moment_later_shows_the_code_box(client, signed_patient):
    """Issue 13: right after a code (paying, say) /me/ said "wait 14 s" with no box to type
    the code just sent."""
    phone = signed_patient.patient.phone.as_national
    client.post("/me/code/", {"phone": phone})

    again = client.post("/me/code/", {"phone": phone})

    page = again.content.decode()
    assert again.status_code == 200
    assert 'id="code"' in page and "data-resend-in=" in page
    code = re.search(r"\b\d{6}\b", SmsMessage.objects.get().body).group(0)
    assert client.post("/me/verify/", {"phone": phone, "code": code}).status_code == 302


def test_me_shows_payments_and_refunds(his, paid, link, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        his.post(f"visits/{link.bill.visit_id}/charges/L2/void/", {"reason": "退号"})
    client = Client()
    with time_machine.travel(dt.timedelta(minutes=2)):  # one code a minute per phone
        sign_in(client, paid.bill.patient.phone.as_national)
        page = client.get("/me/").content.decode()

    movements = re.findall(r'data-movement="(\w+)"', page)
    assert movements == ["refund", "payment"]  # newest first
    assert "+¥20.00" in page and "¥35.00" in page
    assert "back where you paid" in page and "test channel" in page
