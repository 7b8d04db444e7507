"""The whole flow with a real Celery worker on Redis and Twilio played by a local server:
close a visit -> the SMS goes out through the Twilio backend -> the link works -> paid ->
the receipt SMS goes out -> the credit is available again."""

import re
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import CreditLine
from billing.models import BillStatus, Payment
from billing.payments.gateways.sandbox import SandboxGateway
from notifications.models import SmsMessage, SmsStatus
from tests.billing.test_api import settlement
from tests.conftest import His
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory
from tests.fake_http import Answer, FakeServer
from tests.threads import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def twilio(settings):
    sent = []

    def respond(request):
        form = parse_qs(request.body.decode())
        sent.append(form["Body"][0])
        return Answer(201, {"sid": f"SM{len(sent):032d}", "status": "queued"})

    with FakeServer() as server:
        server.respond = respond
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "token"
        settings.TWILIO_FROM = "+15005550006"
        settings.TWILIO_API_BASE_URL = server.url
        yield sent


def test_close_to_paid_with_a_real_worker_and_twilio(twilio, celery_worker):
    hospital = InstitutionFactory(name="第一人民医院")
    patient = PatientFactory(phone="+8613812345678")
    account_services.agreement_sign(
        patient=patient, institution=hospital, actor=StaffFactory(institution=hospital)
    )
    _api_key, key = account_services.api_key_create(institution=hospital, name="HIS")
    his = His(hospital, key)
    visit = his.open_visit(patient.citizen_card)
    his.charge(visit["id"], "L1", "80.00")
    his.post(f"visits/{visit['id']}/close/", settlement("80.00", "30.00"))

    # The visit-ended SMS leaves through the worker and the Twilio client.
    assert wait_for(lambda: any("/p/" in body for body in twilio)), twilio
    link_path = re.search(r"/p/[A-Za-z0-9_-]+", next(b for b in twilio if "/p/" in b)).group(0)

    patient_phone = Client()
    assert patient_phone.get(link_path).status_code == 200
    patient_phone.post(f"{link_path}/code/")
    assert wait_for(lambda: any("验证码" in body for body in twilio))
    code = re.search(r"\d{6}", next(b for b in twilio if "验证码" in b)).group(0)
    assert patient_phone.post(f"{link_path}/verify/", {"code": code}).status_code == 302
    patient_phone.post(f"{link_path}/pay/", {"channel": "sandbox"})
    payment = Payment.objects.get()
    paid = SandboxGateway().checkout(payment, "PAID")
    assert patient_phone.post("/pay/notify/sandbox/", paid).status_code == 200

    assert wait_for(lambda: any("YD" in body for body in twilio)), twilio
    payment.bill.refresh_from_db()
    assert payment.bill.status == BillStatus.PAID
    line = CreditLine.objects.get(patient=patient, pool="outpatient")
    assert line.available == Decimal("300.00")
    # Twilio has the text before the worker has its answer and records the message sent.
    assert wait_for(lambda: all(m.status == SmsStatus.SENT for m in SmsMessage.objects.all())), (
        list(SmsMessage.objects.values_list("template", "status"))
    )
    assert len(twilio) == SmsMessage.objects.count() == 4  # started, ended, code, receipt
