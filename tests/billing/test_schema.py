"""The OpenAPI schema is served, complete, and the API keeps it: schemathesis drives every
operation with generated (valid and invalid) requests and checks each answer against the
schema, and that none is a 5xx.

The checks that a schema-valid request is accepted and an invalid one refused are left
out on purpose: the API has rules a schema cannot say (an unknown card is a valid string
and still refused; an empty query parameter means "not given").
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from creditcare.wsgi import application
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

# As gunicorn serves it: /api/ through the API's own middleware.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@pytest.fixture
def api_headers(db, in_process_requests):
    hospital = InstitutionFactory()
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory(citizen_card="CARD0001")
    account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    _api_key, key = account_services.api_key_create(institution=hospital, name="fuzz")
    return {"Authorization": f"Api-Key {key}"}


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_its_schema(case, api_headers):
    case.call_and_validate(
        headers=api_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )


def test_schema_and_docs_are_served(client):
    schema_response = client.get("/api/v1/schema/?format=json")
    assert schema_response.status_code == 200
    paths = schema_response.json()["paths"]
    assert set(paths) >= {
        "/api/v1/eligibility/",
        "/api/v1/visits/",
        "/api/v1/visits/{visit_id}/",
        "/api/v1/visits/{visit_id}/charges/",
        "/api/v1/visits/{visit_id}/charges/{his_line_id}/void/",
        "/api/v1/visits/{visit_id}/close/",
        "/api/v1/bills/",
        "/api/v1/bills/{bill_id}/",
    }
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
