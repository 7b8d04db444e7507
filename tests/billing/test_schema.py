"""The OpenAPI schema is served, complete, and says what the API enforces (issue 13, defect
10): schemathesis drives every operation with requests valid and invalid by the schema,
through the API's own process (its URLs and middleware) on the test database, with a real
API key, and every check is on. What counts as accepted or refused is in schemathesis.toml:
a schema-valid request is never a 400, an invalid one always a 4xx with a code.

Checks with little to do here, and why: use_after_free looks for a resource that still
answers after its DELETE (the API deletes nothing); ensure_resource_availability for one that
a POST made and a following GET cannot find, which takes the stateful phase of a hand run
(README, The HIS API), as this test draws one request at a time; object_level_authorization
takes a second identity in the configuration (another institution's visits and bills answer
404: tests/billing/test_api.py).
"""

from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.mutations import OperatorKind
from schemathesis.core.parameters import ParameterLocation

from accounts import services as account_services
from billing.visits import services as visit_services
from creditcare import settings_api
from creditcare.wsgi import application
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory

CONFIG = SchemathesisConfig.from_path(Path(django_settings.BASE_DIR) / "schemathesis.toml")
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application, config=CONFIG)


@pytest.fixture
def api_app(settings):
    """The WSGI application as the API's own process serves it (creditcare.settings_api)."""
    settings.ROOT_URLCONF = settings_api.ROOT_URLCONF
    settings.MIDDLEWARE = settings_api.MIDDLEWARE
    return WSGIHandler()  # loads the middleware of the settings now in force


@pytest.fixture
def hospital_visit(db, in_process_requests):
    """A hospital with an API key, a patient with an active agreement and an open visit."""
    hospital = InstitutionFactory()
    clerk = StaffFactory(institution=hospital)
    patient = PatientFactory(citizen_card="CARD0001")
    account_services.agreement_sign(patient=patient, institution=hospital, actor=clerk)
    api_key, key = account_services.api_key_create(institution=hospital, name="fuzz")
    visit, _created = visit_services.visit_open(
        institution=hospital,
        api_key=api_key,
        citizen_card="CARD0001",
        kind="outpatient",
        his_visit_id="FUZZ-1",
    )
    return {"Authorization": f"Api-Key {key}"}, visit.pk


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same requests on every run: CI stays stable
    suppress_health_check=list(HealthCheck),
)
def test_the_api_does_what_its_schema_says(case, api_app, hospital_visit):
    headers, visit_id = hospital_visit
    # A valid visit id names the open visit, so that valid requests reach past the lookup
    # (charges posted and held, closes refused or taken) rather than all answering 404.
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if path is not None and path.mode.is_positive and "visit_id" in case.path_parameters:
        case.path_parameters["visit_id"] = str(visit_id)
    case.call_and_validate(headers=key_unless_taken_away(case, headers), app=api_app)


def key_unless_taken_away(case, headers: dict[str, str]) -> dict[str, str]:
    """The key, unless this invalid case leaves the Authorization header out on purpose.

    schemathesis 4.32 keeps such a header out of the request only when all of the case's
    mutations are in its headers (transport.prepare.get_exclude_headers); one that also adds
    an unknown query parameter would get the key back and its valid request, answered 200,
    be taken for an invalid one accepted."""
    data = case.meta.phase.data if case.meta and case.meta.generation.mode.is_negative else None
    for mutation in getattr(data, "mutations", ()):
        removes = mutation.operator is OperatorKind.REMOVE_REQUIRED_PROPERTY or (
            mutation.operator is OperatorKind.NEGATE_CONSTRAINTS and "required" in mutation.keywords
        )
        if (
            removes
            and mutation.parameter_location == ParameterLocation.HEADER
            and "Authorization" in (mutation.parameter, *(mutation.original_value or ()))
            and "Authorization" not in (case.headers or {})
        ):
            return {}
    return headers


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
        "/api/v1/visits/{visit_id}/interim/",
        "/api/v1/visits/{visit_id}/close/",
        "/api/v1/bills/",
        "/api/v1/bills/{bill_id}/",
    }
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
