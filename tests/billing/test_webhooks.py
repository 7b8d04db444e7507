"""Webhooks to the hospitals' systems: a local HTTP server plays the HIS, reached over real
sockets by the real client library (requests)."""

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from accounts import roles
from billing.models import WindowMethod
from billing.payments.services import payment_take_at_window
from notifications.models import SmsMessage
from tests.conftest import logged_in
from tests.factories import InstitutionFactory, StaffFactory
from tests.fake_http import Answer, FakeServer
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services import endpoint_create
from webhooks.signing import HEADER, signature_valid
from webhooks.tasks import deliver_due_webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def his_server():
    with FakeServer() as server:
        yield server


@pytest.fixture
def endpoint(hospital, his_server):
    endpoint, secret = endpoint_create(
        institution=hospital,
        url=f"{his_server.url}/creditcare/events",
        events=["bill.paid", "invoice.issued"],
        contact_phone="+8613900000001",
    )
    endpoint.plain_secret = secret
    return endpoint


def pay(link, window_clerk, capture) -> None:
    bill = link.bill
    with capture(execute=True):
        payment_take_at_window(
            bill=bill, amount=bill.self_pay, method=WindowMethod.CASH, actor=window_clerk
        )


def test_the_his_receives_each_event_once_signed(
    endpoint, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    received = his_server.requests
    assert [r.json()["type"] for r in received] == ["bill.paid", "invoice.issued"]
    for request in received:
        assert signature_valid(
            secret=endpoint.plain_secret, header=request.headers[HEADER], body=request.body
        )
        assert request.headers["CreditCare-Event-Id"] == request.json()["id"]
    paid = received[0].json()["data"]["bill"]
    assert paid["id"] == link.bill.pk and paid["status"] == "paid"
    assert paid["amount_due"] == "0.00"
    assert received[1].json()["data"]["invoice"]["number"].startswith("YD")
    # The beat task, and the same task again: nothing is sent twice.
    deliver_due_webhooks()
    assert len(his_server.requests) == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_an_answer_of_500_is_tried_again_with_the_same_event(
    endpoint, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    answers = iter([Answer(500, b"busy"), Answer(200), Answer(200)])
    his_server.respond = lambda request: next(answers)
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.get(event__type="bill.paid")
    assert first.status == DeliveryStatus.PENDING and first.response_status == 500
    assert first.response_body == "busy"
    # The invoice's event waits for the bill's first one: a bill's events arrive in order.
    assert len(his_server.requests) == 1
    deliver_due_webhooks()  # not due yet
    assert len(his_server.requests) == 1
    with time_machine.travel(first.next_attempt_at + dt.timedelta(seconds=1)):
        deliver_due_webhooks()
    assert [r.json()["type"] for r in his_server.requests] == [
        "bill.paid",
        "bill.paid",
        "invoice.issued",
    ]
    assert his_server.requests[0].body == his_server.requests[1].body  # one event, resent
    first.refresh_from_db()
    assert first.status == DeliveryStatus.DELIVERED and first.attempts == 2


def test_a_tampered_body_fails_the_documented_check(
    endpoint, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    request = his_server.requests[0]
    header = request.headers[HEADER]
    tampered = request.body.replace(b'"status":"paid"', b'"status":"unpaid"')
    assert tampered != request.body
    assert not signature_valid(secret=endpoint.plain_secret, header=header, body=tampered)
    assert not signature_valid(secret="whsec_other", header=header, body=request.body)
    later = timezone.now().timestamp() + 600  # replayed ten minutes later
    assert not signature_valid(
        secret=endpoint.plain_secret, header=header, body=request.body, now=later
    )


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_contact_told(
    endpoint, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    his_server.respond = lambda request: Answer(503)
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    start = timezone.now()
    for hours in range(1, 80):
        with (
            time_machine.travel(start + dt.timedelta(hours=hours)),
            django_capture_on_commit_callbacks(execute=True),
        ):
            deliver_due_webhooks()
    first = WebhookDelivery.objects.get(event__type="bill.paid")
    assert first.status == DeliveryStatus.GIVEN_UP
    assert 8 <= first.attempts <= 12  # 1, 4, 16, 64 minutes, ~4 h, then every 12 h
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason
    assert SmsMessage.objects.filter(to="+8613900000001", template="webhook_disabled").exists()


def test_no_endpoint_no_event(link, window_clerk, django_capture_on_commit_callbacks):
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    assert not WebhookEvent.objects.exists()


def test_the_body_is_json_with_the_event_id_type_and_data(
    endpoint, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    pay(link, window_clerk, django_capture_on_commit_callbacks)
    body = json.loads(his_server.requests[0].body)
    assert set(body) == {"id", "type", "created", "data"}
    assert WebhookEndpoint.objects.get().secret != endpoint.plain_secret  # encrypted at rest


def test_the_sweep_tells_of_overdue_bills_and_suspended_agreements(
    hospital, his_server, link, window_clerk, django_capture_on_commit_callbacks
):
    from billing.collections.sweep import overdue_sweep

    endpoint_create(
        institution=hospital,
        url=his_server.url,
        events=["bill.overdue", "agreement.suspended", "agreement.reactivated"],
    )
    bill = link.bill
    with time_machine.travel(bill.due_at + dt.timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            overdue_sweep()
        with django_capture_on_commit_callbacks(execute=True):
            overdue_sweep()  # again: nothing new to tell
        pay(link, window_clerk, django_capture_on_commit_callbacks)
    bodies = [r.json() for r in his_server.requests]
    assert [b["type"] for b in bodies] == [
        "agreement.suspended",
        "bill.overdue",
        "agreement.reactivated",
    ]
    assert bodies[1]["data"]["bill"]["status"] == "overdue"
    card = bill.patient.citizen_card
    assert bodies[0]["data"]["agreement"] == {
        "id": bill.patient.agreement.pk,
        "citizen_card": card,
        "status": "suspended",
        "for_overdue": True,
    }
    assert bodies[2]["data"]["agreement"]["status"] == "active"


def test_integration_staff_manage_their_own_institution_s_endpoints_only(hospital):
    other = InstitutionFactory(code="other-hospital", name="另一医院")
    theirs, _ = endpoint_create(
        institution=other, url="https://other.example/cc", events=["bill.paid"]
    )
    it = StaffFactory(username="it", institution=hospital, role=roles.INTEGRATION)
    client = logged_in(it)

    listed = client.get("/admin/webhooks/webhookendpoint/")
    assert listed.status_code == 200 and "other.example" not in listed.content.decode()
    assert client.get(f"/admin/webhooks/webhookendpoint/{theirs.pk}/change/").status_code == 302
    # A new endpoint: their institution is the only one to choose.
    answer = client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "institution": other.pk,
            "url": "https://mine.example/cc",
            "events": ["bill.paid"],
            "contact_phone": "",
            "is_active": "on",
        },
    )
    assert answer.status_code == 200  # the form again, the choice refused
    assert not WebhookEndpoint.objects.filter(url="https://mine.example/cc").exists()
    client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "institution": hospital.pk,
            "url": "https://mine.example/cc",
            "events": ["bill.paid"],
            "contact_phone": "",
            "is_active": "on",
        },
    )
    assert WebhookEndpoint.objects.get(url="https://mine.example/cc").institution == hospital
    # No patient's page, no bill.
    assert client.get("/admin/accounts/patient/").status_code == 403
    assert client.get("/admin/billing/bill/").status_code == 403
