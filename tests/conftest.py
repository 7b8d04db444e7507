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
