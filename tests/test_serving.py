"""How production serves requests: the WSGI application gunicorn runs (the API through its
own middleware) and the PostgreSQL backend's health check."""

import io
import json
import select
import sys
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory

from billing.models import Charge
from creditcare.handlers import ApiHandler
from creditcare.wsgi import application
from tests.conftest import charge_body
from tests.threads import postgres_only


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


def test_the_api_is_served_through_its_own_middleware(his, card, in_process_requests):
    status, headers, body = serve(
        f"/api/v1/eligibility/?citizen_card={card}",
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
        HTTP_ACCEPT_LANGUAGE="en",
        HTTP_COOKIE="sessionid=abc; csrftoken=" + "x" * 32,
    )

    assert status == 200 and b'"eligible":true' in body
    assert headers["X-Content-Type-Options"] == "nosniff"  # security middleware
    assert headers["Content-Language"] == "en"  # locale middleware
    assert headers["Content-Length"] == str(len(body))  # common middleware
    # No sessions, CSRF or frame options: the site's middleware is not run for the API.
    assert "Set-Cookie" not in headers and "X-Frame-Options" not in headers
    assert "Cookie" not in headers.get("Vary", "")


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


def test_a_charge_answered_before_the_middleware_has_their_headers(his, card, in_process_requests):
    status, headers, body = serve(
        f"/api/v1/visits/{open_visit(his, card)}/charges/",
        charge_body("L1", "10.00"),
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
    )

    assert status == 201 and json.loads(body)["visit"]["held"] == "10.00"
    assert Charge.objects.get().amount == 10
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Length"] == str(len(body))
    assert "Set-Cookie" not in headers and "X-Frame-Options" not in headers
    # Answered at once on PostgreSQL (without the locale middleware's header: it has no words).
    assert ("Content-Language" not in headers) == (connection.vendor == "postgresql")


def test_a_charge_from_a_host_not_allowed_is_refused_first(his, card, in_process_requests):
    status, _headers, _body = serve(
        f"/api/v1/visits/{open_visit(his, card)}/charges/",
        charge_body("L1", "10.00"),
        HTTP_AUTHORIZATION=f"Api-Key {his.key}",
        HTTP_HOST="evil.example",
    )

    assert status == 400  # CommonMiddleware's check, before the answer at once
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


def test_api_handlers_made_in_threads_at_once_leave_the_sites_middleware():
    """As the HIS clients of a concurrency test are: a leak here once gave the live server of
    a later browser test the API's middleware (no sessions)."""
    site_middleware = list(settings.MIDDLEWARE)
    switch_every = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few bytecodes: they interleave
    try:
        threads = [threading.Thread(target=ApiHandler) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_every)

    assert list(settings.MIDDLEWARE) == site_middleware


@postgres_only
@pytest.mark.django_db
def test_a_connection_the_server_closed_is_not_reused():
    other = connection.copy()  # a second connection, as a worker thread holds one
    other.ensure_connection()
    assert other.is_usable()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [other.connection.get_backend_pid()])
    # Wait for the server's goodbye to reach the socket (no sleep: blocks until it does).
    select.select([other.connection.fileno()], [], [], 10)

    assert not other.is_usable()
    other.close()
    assert not other.is_usable()
    other.ensure_connection()  # Django then opens a new one
    assert other.is_usable()
    other.close()
