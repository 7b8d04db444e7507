"""Persona fixtures: the people who use CreditCare."""

import pytest
from django.test import Client

from accounts import roles, services
from accounts.models import CreditAgreement
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory


@pytest.fixture
def hospital(db):
    return InstitutionFactory(code="first-hospital", name="第一人民医院")


@pytest.fixture
def window_clerk(hospital):
    return StaffFactory(username="clerk", institution=hospital, role=roles.WINDOW_STAFF)


@pytest.fixture
def collector(hospital):
    return StaffFactory(username="collector", institution=hospital, role=roles.COLLECTION_STAFF)


@pytest.fixture
def finance_officer(hospital):
    return StaffFactory(username="finance", institution=hospital, role=roles.FINANCE)


@pytest.fixture
def credit_officer(hospital):
    return StaffFactory(username="officer", institution=hospital, role=roles.CREDIT_OFFICERS)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clerk_client(window_clerk):
    return logged_in(window_clerk)


@pytest.fixture
def signed_patient(hospital, window_clerk) -> CreditAgreement:
    """A patient with an active agreement, signed at the window."""
    patient = PatientFactory()
    return services.agreement_sign(patient=patient, institution=hospital, actor=window_clerk)


class His:
    """An institution's HIS calling the API with its key."""

    def __init__(self, institution, key: str):
        from rest_framework.test import APIClient

        self.institution = institution
        self.key = key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    def get(self, path, params=None):
        return self.client.get(f"/api/v1/{path}", params)

    def post(self, path, body=None, key: str | None = None, **extra):
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(f"/api/v1/{path}", body, format="json", **extra)

    def open_visit(self, citizen_card, kind="outpatient", his_visit_id="V1", **fields):
        response = self.post(
            "visits/",
            {"citizen_card": citizen_card, "kind": kind, "his_visit_id": his_visit_id, **fields},
        )
        assert response.status_code in (200, 201), response.json()
        return response.json()

    def charge(self, visit_id, his_line_id="L1", amount="10.00", **fields):
        body = charge_body(his_line_id, amount, **fields)
        return self.post(f"visits/{visit_id}/charges/", body)


def charge_body(his_line_id="L1", amount="10.00", **fields):
    return {
        "his_line_id": his_line_id,
        "item_code": "X001",
        "item_name": "血常规",
        "category": "lab",
        "quantity": "1",
        "unit_price": amount,
        "amount": amount,
        **fields,
    }


@pytest.fixture
def his(hospital):
    _api_key, key = services.api_key_create(institution=hospital, name="HIS")
    return His(hospital, key)


@pytest.fixture
def outsider_his(db):
    institution = InstitutionFactory(code="other-hospital", name="另一家医院")
    _api_key, key = services.api_key_create(institution=institution, name="HIS")
    return His(institution, key)


@pytest.fixture
def card(signed_patient) -> str:
    return signed_patient.patient.citizen_card


@pytest.fixture(autouse=True)
def _forget_cached_api_keys():
    """Each test starts with an empty API key cache (keys live in rolled-back rows)."""
    from accounts.selectors import _api_key_cache

    _api_key_cache.clear()


@pytest.fixture(autouse=True)
def _forget_signup_codes_counted():
    """Each test's client starts with no sign-up codes counted against its address (the
    cache outlives the test's rolled-back rows; only this key, not the whole cache)."""
    from django.core.cache import cache

    cache.delete("signup-codes:127.0.0.1")


@pytest.fixture
def celery_worker():
    """A real Celery worker (in a thread) consuming the app's broker (Redis with REDIS_URL,
    else the filesystem one under var/); tasks stop being eager."""
    from celery.contrib.testing.worker import start_worker

    from creditcare.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    with start_worker(app, perform_ping_check=False, loglevel="error", shutdown_timeout=20):
        yield
    app.conf.task_always_eager = True


@pytest.fixture
def published():
    """Tasks handed to the broker instead of run inline, as (task, queue, args): what the
    workers of each queue would get. The broker's queues are emptied afterwards."""
    from celery.signals import after_task_publish

    from creditcare.celery import app

    sent: list[tuple[str, str, list]] = []

    def record(sender=None, body=None, routing_key=None, **_):
        args, _kwargs, _embed = body
        sent.append((sender, routing_key, list(args)))

    after_task_publish.connect(record, weak=False)
    app.conf.task_always_eager = False
    try:
        yield sent
    finally:
        app.conf.task_always_eager = True
        after_task_publish.disconnect(record)
        app.control.purge()


@pytest.fixture
def in_process_requests():
    """Keep the test's database connection across requests made through the WSGI
    application itself, as Django's test client does (the handler would close it at the end
    of each request)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
