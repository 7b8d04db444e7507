"""The schema's webhooks (billing/webhook_schema.py) say what the code sends: every event type
is one, with its body, its headers and the answers that count; and the requests the code posts to an
endpoint for a bill's life, bodies and headers, validate against their webhook's schema, which
lists every field they carry (each object is closed for the check)."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
import schemathesis
import time_machine
from drf_spectacular.validation import validate_schema
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from billing.collections.cases import bill_write_off
from billing.collections.sweep import overdue_sweep
from billing.models import Refund, WindowMethod
from billing.payments.refunds import refund_pay_out
from billing.payments.services import payment_take_at_window
from tests.fake_http import FakeServer
from webhooks.models import EventType
from webhooks.services import endpoint_create
from webhooks.signing import HEADER

pytestmark = pytest.mark.django_db

HEADERS = {HEADER, "CreditCare-Event-Id", "CreditCare-Event-Type"}
SCHEMA_URI = "urn:creditcare:his-api"

# jsonschema checks a date-time only with a package we do not have: this is RFC 3339's.
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or (
        "T" in value and dt.datetime.fromisoformat(value).tzinfo is not None
    )


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def his_server():
    with FakeServer() as server:
        yield server


@pytest.fixture
def endpoint(hospital, his_server):
    endpoint, _secret = endpoint_create(
        institution=hospital, url=f"{his_server.url}/events", events=list(EventType.values)
    )
    return endpoint


def test_every_event_type_is_a_webhook_with_its_body_headers_and_answers(schema):
    assert schema["openapi"] == "3.1.0"
    assert set(schema["webhooks"]) == set(EventType.values)
    components = schema["components"]["schemas"]
    for event_type, path_item in schema["webhooks"].items():
        operation = path_item["post"]
        assert operation["summary"] and operation["description"], event_type
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == HEADERS and all(p["required"] for p in headers.values())
        assert headers["CreditCare-Event-Type"]["schema"]["const"] == event_type
        assert set(operation["responses"]) == {"2XX", "default"}
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        envelope = components[body["$ref"].rsplit("/", 1)[1]]
        assert list(envelope["properties"]) == ["id", "type", "created", "data"]
        assert envelope["properties"]["type"]["const"] == event_type
    # A bill in the data is the billing API's bill, not a copy of it.
    bill = components["BillEventData"]["properties"]["bill"]
    assert bill["allOf"] == [{"$ref": "#/components/schemas/BillOutput"}]


def test_the_schema_is_openapi_3_1_that_the_docs_draw(schema, client):
    # OpenAPI 3.1's own schema, as drf-spectacular has it (`manage.py spectacular --validate`)
    # and as schemathesis does; and each component as JSON Schema 2020-12.
    validate_schema(schema)
    schemathesis.openapi.from_dict(schema).validate()
    for component in schema["components"]["schemas"].values():
        Draft202012Validator.check_schema(component)
    docs, script = client.get("/api/v1/docs/"), client.get("/api/v1/docs/?script=")
    assert docs.status_code == 200 and script.status_code == 200
    assert b"/api/v1/schema/" in script.content


def test_a_bills_life_posts_what_the_schema_says(
    schema, endpoint, his_server, his, link, window_clerk, django_capture_on_commit_callbacks
):
    bill = link.bill
    with time_machine.travel(bill.due_at + dt.timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            overdue_sweep()  # bill.overdue, agreement.suspended
        with django_capture_on_commit_callbacks(execute=True):
            # bill.paid, invoice.issued, agreement.reactivated
            payment_take_at_window(
                bill=bill, amount=bill.self_pay, method=WindowMethod.CASH, actor=window_clerk
            )
        with django_capture_on_commit_callbacks(execute=True):
            voided = his.post(
                f"visits/{bill.visit_id}/charges/L2/void/", {"reason": "cancelled by the doctor"}
            )
            assert voided.status_code == 200, voided.json()
        with django_capture_on_commit_callbacks(execute=True):
            refund = Refund.objects.get()
            assert refund.amount == Decimal("20.00")
            refund_pay_out(refund=refund, actor=window_clerk, method="cash")  # refund.succeeded
    assert_posted_as_the_schema_says(
        schema,
        his_server,
        {
            EventType.BILL_OVERDUE,
            EventType.AGREEMENT_SUSPENDED,
            EventType.BILL_PAID,
            EventType.INVOICE_ISSUED,
            EventType.AGREEMENT_REACTIVATED,
            EventType.REFUND_SUCCEEDED,
        },
    )
    bodies = {request.json()["type"]: request.json() for request in his_server.requests}
    assert bodies["agreement.suspended"]["data"]["agreement"]["for_overdue"] is True
    assert bodies["refund.succeeded"]["data"]["refund"]["for_charge"] is True


def test_a_bill_written_off_posts_what_the_schema_says(
    schema, endpoint, his_server, link, finance_officer, django_capture_on_commit_callbacks
):
    bill = link.bill
    with time_machine.travel(bill.due_at + dt.timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            overdue_sweep()
        with django_capture_on_commit_callbacks(execute=True):
            bill_write_off(bill=bill, actor=finance_officer, reason="deceased")
    assert_posted_as_the_schema_says(
        schema,
        his_server,
        {EventType.BILL_OVERDUE, EventType.AGREEMENT_SUSPENDED, EventType.BILL_WRITTEN_OFF},
    )


def assert_posted_as_the_schema_says(schema: dict, server: FakeServer, types: set[str]) -> None:
    """Each event of ``types`` was posted once, and each request, its body and headers,
    validates against its webhook in ``schema``."""
    posted = Counter(request.headers["CreditCare-Event-Type"] for request in server.requests)
    assert posted == Counter(types), posted
    for request in server.requests:
        event_type = request.headers["CreditCare-Event-Type"]
        operation = schema["webhooks"][event_type]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        body_validator(schema, body["$ref"]).validate(request.json())
        for parameter in operation["parameters"]:
            Draft202012Validator(parameter["schema"], format_checker=FORMATS).validate(
                request.headers[parameter["name"]]
            )


def body_validator(schema: dict, ref: str) -> Draft202012Validator:
    """A validator of the component ``ref`` names, its objects closed to what they list: a
    field the code sends and the schema does not describe fails too."""
    registry = Registry().with_resource(SCHEMA_URI, DRAFT202012.create_resource(closed(schema)))
    return Draft202012Validator(
        {"$ref": SCHEMA_URI + ref}, registry=registry, format_checker=FORMATS
    )


def closed(node):
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: closed(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node
