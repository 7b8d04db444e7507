"""Races with real threads on PostgreSQL: row locks and unique constraints decide."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import AgreementEvent, AgreementStatus, CreditAgreement, Patient
from accounts.services import PatientDetails
from creditcare.errors import DomainError
from tests.factories import InstitutionFactory, PatientFactory, StaffFactory, resident_id
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_windows_sign_up_the_same_card_at_once():
    hospital = InstitutionFactory()
    clerks = [StaffFactory(institution=hospital), StaffFactory(institution=hospital)]
    fields = {"name": "周杰", "id_type": "resident_id", "citizen_card": "RACE0001"}

    results = run_together(
        *[
            lambda clerk=clerk, n=n: services.patient_enrol(
                institution=hospital,
                actor=clerk,
                details=PatientDetails(
                    id_number=resident_id(500 + n), phone=f"1380000100{n}", **fields
                ),
            )
            for n, clerk in enumerate(clerks)
        ]
    )

    signed = [r for r in results if isinstance(r, CreditAgreement)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(signed) == 1 and len(refused) == 1, results
    assert "citizen_card" in refused[0].message_dict
    assert Patient.objects.filter(citizen_card="RACE0001").count() == 1
    assert CreditAgreement.objects.count() == 1


def test_two_clerks_suspend_the_same_agreement_at_once():
    hospital = InstitutionFactory()
    clerk = StaffFactory(institution=hospital)
    agreement = services.agreement_sign(patient=PatientFactory(), institution=hospital, actor=clerk)

    results = run_together(
        lambda: services.agreement_suspend(agreement=agreement, actor=clerk, reason="first"),
        lambda: services.agreement_suspend(agreement=agreement, actor=clerk, reason="second"),
    )

    assert sum(isinstance(r, CreditAgreement) for r in results) == 1, results
    assert sum(isinstance(r, DomainError) for r in results) == 1, results
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SUSPENDED
    assert AgreementEvent.objects.filter(agreement=agreement, transition="suspend").count() == 1
