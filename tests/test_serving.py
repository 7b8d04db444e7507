"""How production serves requests: Django's WSGI application, as gunicorn runs it."""

import io
import json

import pytest
from django.conf import settings
from django.test import RequestFactory

from billing.models import Bill, Charge
from creditcare.wsgi import application
from notifications.models import SmsMessage
from tests.billing.test_api import settlement
from tests.conftest import charge_body


def serve(path: str, body: dict | None = None, **headers) -> tuple[int, dict, bytes]:
    """One request (a GET, or a POST of ``body`` in JSON) through
    ``creditcare.wsgi.application``, as gunicorn makes it."""
    if body is None:
        environ, data = RequestFactory().get(path, **headers).environ, b""
    else:
        data = json.dumps(body).encode()
        environ = (
            RequestFactory()
            .generic("POST", path, data, content_type="application/json", **headers)
            .environ
        )
    environ["wsgi.input"] = io.BytesIO(data)
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status[:3]), dict(response_headers)

    body = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], body


def test_the_api_is_served_by_djangos_own_application(his, card, in_process_requests):
    status, headers, body = serve(
        f"/api/v1/eligibility/?citizen_card={card}",
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert status == 200 and b'"eligible":true' in body
    assert headers["X-Content-Type-Options"] == "nosniff"  # security middleware
    assert headers["Content-Language"] == "en"  # locale middleware
    assert headers["Content-Length"] == str(len(body))  # common middleware


def open_visit(his, card: str) -> int:
    """A visit opened through the application (not ``his.open_visit``: Django's test client
    would connect ``close_old_connections`` again)."""
    status, _headers, body = serve(
        "/api/v1/visits/",
        {"citizen_card": card, "kind": "outpatient", "his_visit_id": "V1"},
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
    )
    assert status == 201
    return json.loads(body)["id"]


def test_a_charge_is_served_with_the_sites_headers(his, card, in_process_requests):
    status, headers, body = serve(
        f"/api/v1/visits/{open_visit(his, card)}/charges/",
        charge_body("L1", "10.00"),
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
    )

    assert status == 201 and json.loads(body)["visit"]["held"] == "10.00"
    assert Charge.objects.get().amount == 10
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Length"] == str(len(body))


def test_a_charge_from_a_host_not_allowed_is_refused_first(his, card, in_process_requests):
    status, _headers, _body = serve(
        f"/api/v1/visits/{open_visit(his, card)}/charges/",
        charge_body("L1", "10.00"),
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
        HTTP_HOST="evil.example",
    )

    assert status == 400  # the host check, before any view
    assert not Charge.objects.exists()


@pytest.mark.django_db
def test_api_messages_follow_the_callers_language(in_process_requests):
    status, _headers, body = serve("/api/v1/eligibility/", HTTP_ACCEPT_LANGUAGE="en")
    assert status == 401 and b"Authentication credentials were not provided" in body
    status, _headers, body = serve("/api/v1/eligibility/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert status == 401 and "身份认证信息未提供".encode() in body


@pytest.mark.django_db
def test_the_site_keeps_its_middleware(in_process_requests):
    status, headers, _body = serve("/admin/login/")
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY"
    assert "csrftoken=" in headers["Set-Cookie"]


@pytest.mark.urls("creditcare.urls_api")
def test_the_apis_own_process_closes_a_visit_with_a_link_to_the_site(his, card):
    """The HIS API's own process knows only the API's URLs; the visit-ended SMS still links
    to the patients' page on the site."""
    visit_id = his.open_visit(card)["id"]
    assert his.charge(visit_id, "L1", "10.00").status_code == 201

    closed = his.post(f"visits/{visit_id}/close/", settlement("10.00", "10.00"))

    assert closed.status_code == 200, closed.json()
    body = SmsMessage.objects.get(template="visit_ended").body
    token = Bill.objects.get().payment_link.token
    assert f"{settings.PUBLIC_BASE_URL}/p/{token}" in body
