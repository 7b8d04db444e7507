"""The common charges request takes a quick path on PostgreSQL (``charges_post_at_once``):
one statement, no DRF dispatch. Anything else must get exactly the answer the full path
gives, and the quick answer must read as the full path's would."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from billing.api.serializers import ChargeOutput, shared
from billing.models import Charge, CreditEntry, IdempotencyRecord
from creditcare.urls import handler500
from tests.billing.test_api import assert_credit_consistent, outpatient
from tests.conftest import charge_body
from tests.threads import postgres_only

# An Accept header DRF serves but the quick path leaves to it: the full path's answer.
FULL_PATH = {"HTTP_ACCEPT": "application/json, */*"}


def test_charge_output_renders_as_drfs_own_loop(his, card):
    """ChargeOutput.to_representation is written out for speed; DRF's generic rendering of
    the same declared fields must give the same, for a live and a voided charge."""
    visit = his.open_visit(card)
    his.charge(visit["id"], "L1", "12.30", quantity="3", unit_price="4.1")
    his.charge(visit["id"], "L2", "0.05")
    his.post(f"visits/{visit['id']}/charges/L2/void/", {"reason": "entered twice"})
    output = shared(ChargeOutput)

    for charge in Charge.objects.select_related("void"):
        assert output.to_representation(charge) == serializers.Serializer.to_representation(
            output, charge
        )
    assert [c["status"] for c in his.get(f"visits/{visit['id']}/").json()["charges"]] == [
        "live",
        "voided",
    ]


@postgres_only
def test_the_quick_and_the_full_path_answer_alike(his, card, django_assert_num_queries):
    visit = his.open_visit(card)
    path = f"visits/{visit['id']}/charges/"
    with django_assert_num_queries(1):
        quick = his.post(path, charge_body("L1", "10.00", self_pay_estimate="4.00"), key="q")
    with CaptureQueriesContext(connection) as full_queries:
        full = his.post(path, charge_body("L2", "10.00", self_pay_estimate="4.00"), **FULL_PATH)

    assert len(full_queries) > 1  # it did take the full path
    assert (quick.status_code, full.status_code) == (201, 201)
    assert quick["Content-Type"] == full["Content-Type"] == "application/json"
    # Answered before the middleware, it still has their headers, but for the language of
    # its words: it has none.
    assert set(full.headers) - set(quick.headers) == {"Content-Language", "Vary"}
    for header in ("X-Content-Type-Options", "Referrer-Policy", "Allow"):
        assert quick[header] == full[header]
    assert quick["Content-Length"] == str(len(quick.content))
    quick_body, full_body = quick.json(), full.json()
    assert quick_body["visit"] == {
        **visit_summary(full_body),
        "total": "10.00",
        "held": "4.00",
        "available": "296.00",
    }
    assert full_body["visit"]["held"] == "8.00"
    for body, line in ((quick_body, "L1"), (full_body, "L2")):
        (charge,) = body["charges"]
        posted = Charge.objects.get(his_line_id=line)
        assert charge == shared(ChargeOutput).to_representation(posted)
    # The quick path kept its answer under the key, and a retry replays it.
    assert IdempotencyRecord.objects.get(key="q").response_body == quick_body
    again = his.post(path, charge_body("L1", "10.00", self_pay_estimate="4.00"), key="q")
    assert (again.json(), again["Idempotent-Replayed"]) == (quick_body, "true")
    assert CreditEntry.objects.count() == 2
    assert outpatient(card).used == Decimal("8.00")
    assert_credit_consistent(card)


def visit_summary(body: dict) -> dict:
    return {k: v for k, v in body["visit"].items() if k not in ("total", "held", "available")}


@postgres_only
@pytest.mark.parametrize(
    ("extra", "body", "status", "code"),
    [
        ({"HTTP_ACCEPT": "application/xml"}, None, 406, "not_acceptable"),
        ({"HTTP_AUTHORIZATION": "Api-Key nope.nope"}, None, 401, "unauthenticated"),
        ({"HTTP_IDEMPOTENCY_KEY": "x" * 256}, None, 400, "invalid_idempotency_key"),
        ({}, [charge_body("L1"), charge_body("L1")], 400, "duplicate_his_line_id"),
        ({}, {**charge_body("L1"), "amount": "-1"}, 400, "invalid_input"),
        ({}, charge_body("L1", "400.00"), 402, "credit_limit_exceeded"),
    ],
)
def test_requests_the_quick_path_leaves_get_the_full_answer(his, card, extra, body, status, code):
    visit, extra = his.open_visit(card), dict(extra)
    if "HTTP_AUTHORIZATION" in extra:
        his.client.credentials(HTTP_AUTHORIZATION=extra.pop("HTTP_AUTHORIZATION"))
    response = his.client.post(
        f"/api/v1/visits/{visit['id']}/charges/",
        body or charge_body("L1"),
        format="json",
        **extra,
    )

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Charge.objects.exists()
    assert outpatient(card).used == 0


@postgres_only
@pytest.mark.parametrize(
    ("content_type", "raw", "status", "code"),
    [
        ("application/json", b'{"his_line_id": NaN}', 400, "malformed_json"),
        ("application/json", b"[" * 100_000, 400, "malformed_json"),
        ("application/json", b"\xff\xfe", 400, "malformed_json"),
        ("text/plain", b"{}", 415, "unsupported_media_type"),
    ],
)
def test_bodies_the_quick_path_cannot_read_get_the_full_answer(
    his, card, content_type, raw, status, code
):
    visit = his.open_visit(card)
    response = his.client.generic(
        "POST", f"/api/v1/visits/{visit['id']}/charges/", raw, content_type=content_type
    )

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Charge.objects.exists()


@postgres_only
def test_a_retry_of_a_line_posted_before_is_answered_by_the_full_path(his, card):
    visit = his.open_visit(card)
    path = f"visits/{visit['id']}/charges/"
    first = his.post(path, charge_body("L1", "20.00"))
    again = his.post(path, charge_body("L1", "20.00"))
    other = his.post(path, charge_body("L1", "21.00"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["charges"] == first.json()["charges"]
    assert (other.status_code, other.json()["code"]) == (409, "his_line_id_conflict")
    assert outpatient(card).used == Decimal("20.00")


@postgres_only
def test_a_query_string_leaves_the_request_to_drf(his, card):
    visit = his.open_visit(card)
    response = his.post(f"visits/{visit['id']}/charges/?format=xml", charge_body("L1"))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not Charge.objects.exists()


def test_a_fault_of_ours_in_the_api_is_answered_in_json(client, settings):

    response = handler500(RequestFactory().post("/api/v1/visits/1/charges/"))
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "server_error"
