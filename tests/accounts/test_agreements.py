from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import (
    AgreementEvent,
    AgreementStatus,
    CreditAgreement,
    CreditLimitChange,
    CreditLine,
    Patient,
    SigningChannel,
)
from accounts.services import PatientDetails
from billing.credit import credit_limits_recompute
from creditcare.errors import DomainError
from tests.factories import PatientFactory, resident_id

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "name": "赵敏",
    "id_type": "resident_id",
    "id_number": "330183199001011232",
    "citizen_card": "A12345678",
    "phone": "13812345678",
}


def test_enrolment_creates_patient_signed_agreement_and_base_credit(hospital, window_clerk):
    agreement = services.patient_enrol(
        details=PatientDetails(**NEW_PATIENT), institution=hospital, actor=window_clerk
    )

    patient = Patient.objects.get(citizen_card="A12345678")
    assert str(patient.phone) == "+8613812345678"
    assert patient.birth_date.isoformat() == "1990-01-01"
    assert patient.sex == "male"
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE
    assert agreement.signed_by == window_clerk
    assert agreement.institution == hospital
    assert agreement.channel == SigningChannel.WINDOW
    assert agreement.signed_at is not None
    assert agreement.terms_version
    limits = {line.pool: line.limit for line in patient.credit_lines.all()}
    assert limits == {"outpatient": Decimal("300.00"), "inpatient": Decimal("5000.00")}
    # Each limit is explained by its history: 0 -> base, by the policy.
    for line in patient.credit_lines.all():
        (change,) = line.limit_changes.all()
        assert (change.old_limit, change.new_limit, change.source) == (0, line.limit, "policy")
    (event,) = agreement.events.all()
    assert (event.transition, event.from_status, event.to_status) == ("sign", "pending", "active")
    assert event.actor == window_clerk


def test_duplicate_citizen_card_is_refused_and_changes_nothing(hospital, window_clerk):
    services.patient_enrol(
        details=PatientDetails(**NEW_PATIENT), institution=hospital, actor=window_clerk
    )
    with pytest.raises(ValidationError) as error:
        services.patient_enrol(
            institution=hospital,
            actor=window_clerk,
            details=PatientDetails(
                **{**NEW_PATIENT, "id_number": resident_id(77), "phone": "13900000000"}
            ),
        )
    assert "citizen_card" in error.value.message_dict
    assert Patient.objects.count() == 1
    assert CreditAgreement.objects.count() == 1


def test_same_identity_document_twice_is_refused(hospital, window_clerk):
    services.patient_enrol(
        details=PatientDetails(**NEW_PATIENT), institution=hospital, actor=window_clerk
    )
    with pytest.raises(ValidationError):
        services.patient_enrol(
            details=PatientDetails(**{**NEW_PATIENT, "citizen_card": "B1"}),
            institution=hospital,
            actor=window_clerk,
        )
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "12345"),
        ("phone", "+86 571 8888 8888"),  # a landline cannot receive the payment SMS
        ("id_number", "330183199001011234"),  # wrong check digit
        ("name", ""),
    ],
)
def test_bad_patient_details_are_refused_per_field(hospital, window_clerk, field, value):
    with pytest.raises(ValidationError) as error:
        services.patient_enrol(
            details=PatientDetails(**{**NEW_PATIENT, field: value}),
            institution=hospital,
            actor=window_clerk,
        )
    assert field in error.value.message_dict
    assert not Patient.objects.exists()


def test_signing_twice_is_refused(signed_patient, hospital, window_clerk):
    with pytest.raises(DomainError) as error:
        services.agreement_sign(
            patient=signed_patient.patient, institution=hospital, actor=window_clerk
        )
    assert error.value.code == "agreement_already_signed"
    assert signed_patient.events.count() == 1


def test_pending_agreement_is_signed_later(hospital, window_clerk):
    patient = PatientFactory()
    pending = services.agreement_open(patient=patient, institution=hospital, channel="online")
    assert pending.status == AgreementStatus.PENDING
    assert not patient.credit_lines.exists()  # no credit before the signature

    agreement = services.agreement_sign(patient=patient, institution=hospital, actor=window_clerk)

    assert agreement.pk == pending.pk
    assert agreement.status == AgreementStatus.ACTIVE
    assert patient.credit_lines.count() == 2


def test_suspend_reactivate_terminate_record_who_and_why(signed_patient, window_clerk):
    agreement = services.agreement_suspend(
        agreement=signed_patient, actor=window_clerk, reason="Bill overdue"
    )
    assert agreement.status == AgreementStatus.SUSPENDED
    agreement = services.agreement_reactivate(
        agreement=agreement, actor=window_clerk, reason="Paid at the window"
    )
    assert agreement.status == AgreementStatus.ACTIVE
    agreement = services.agreement_terminate(
        agreement=agreement, actor=window_clerk, reason="Moved away"
    )
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED
    history = list(
        agreement.events.values_list("transition", "from_status", "to_status", "reason", "actor")
    )
    assert history == [
        ("sign", "pending", "active", history[0][3], window_clerk.pk),
        ("suspend", "active", "suspended", "Bill overdue", window_clerk.pk),
        ("reactivate", "suspended", "active", "Paid at the window", window_clerk.pk),
        ("terminate", "active", "terminated", "Moved away", window_clerk.pk),
    ]


def test_suspended_agreement_can_be_terminated(signed_patient, window_clerk):
    services.agreement_suspend(agreement=signed_patient, actor=window_clerk, reason="Overdue")
    agreement = services.agreement_terminate(
        agreement=signed_patient, actor=window_clerk, reason="Asked to leave the scheme"
    )
    assert agreement.status == AgreementStatus.TERMINATED


@pytest.mark.parametrize(
    ("steps", "forbidden"),
    [
        ([], "reactivate"),  # active cannot be reactivated
        (["suspend"], "suspend"),  # suspended twice
        (["terminate"], "suspend"),  # terminated is final
        (["terminate"], "reactivate"),
        (["terminate"], "terminate"),
    ],
)
def test_forbidden_transitions_are_refused_and_change_nothing(
    signed_patient, window_clerk, steps, forbidden
):
    agreement = signed_patient
    for step in steps:
        agreement = getattr(services, f"agreement_{step}")(
            agreement=agreement, actor=window_clerk, reason="setup"
        )
    status, events = agreement.status, agreement.events.count()

    with pytest.raises(DomainError) as error:
        getattr(services, f"agreement_{forbidden}")(
            agreement=agreement, actor=window_clerk, reason="try"
        )

    assert error.value.code == "transition_not_allowed"
    agreement.refresh_from_db()
    assert agreement.status == status
    assert agreement.events.count() == events


def test_terminating_needs_a_zero_balance(signed_patient, window_clerk):
    # A running bill holds credit (billing maintains ``used``).
    CreditLine.objects.filter(patient=signed_patient.patient, pool="outpatient").update(
        used=Decimal("12.50")
    )
    with pytest.raises(DomainError) as error:
        services.agreement_terminate(agreement=signed_patient, actor=window_clerk, reason="Leaving")
    assert error.value.code == "balance_not_zero"
    signed_patient.refresh_from_db()
    assert signed_patient.status == AgreementStatus.ACTIVE


def test_a_transition_needs_a_reason(signed_patient, window_clerk):
    with pytest.raises(DomainError) as error:
        services.agreement_suspend(agreement=signed_patient, actor=window_clerk, reason="  ")
    assert error.value.code == "reason_required"


def test_records_are_append_only(signed_patient):
    event = AgreementEvent.objects.first()
    change = CreditLimitChange.objects.first()
    for record in (event, change):
        with pytest.raises(ValidationError):
            record.save()
        with pytest.raises(ValidationError):
            record.delete()


def test_staff_limit_change_is_recorded_and_outranks_the_policy(signed_patient, credit_officer):
    line = signed_patient.patient.credit_lines.get(pool="outpatient")
    change = services.credit_limit_change(
        credit_line=line,
        new_limit=Decimal("800.00"),
        reason="Chronic patient, regular visits",
        source="staff",
        actor=credit_officer,
    )
    assert (change.old_limit, change.new_limit, change.actor) == (
        Decimal("300.00"),
        Decimal("800.00"),
        credit_officer,
    )
    line.refresh_from_db()
    assert line.limit == Decimal("800.00")
    # The nightly recomputation leaves a staff decision alone.
    credit_limits_recompute(patient=signed_patient.patient)
    line.refresh_from_db()
    assert line.limit == Decimal("800.00")
    # The limit always equals the latest change in its history.
    assert line.limit_changes.last().new_limit == line.limit


@pytest.mark.parametrize("bad", [Decimal("-1.00"), Decimal("10.005")])
def test_limit_change_refuses_negative_or_sub_cent_limits(signed_patient, credit_officer, bad):
    line = signed_patient.patient.credit_lines.get(pool="outpatient")
    with pytest.raises(DomainError) as error:
        services.credit_limit_change(
            credit_line=line, new_limit=bad, reason="x", source="staff", actor=credit_officer
        )
    assert error.value.code == "invalid_limit"
    line.refresh_from_db()
    assert line.limit == Decimal("300.00")


def test_outsider_with_low_score_cannot_sign_online(hospital, settings):
    from accounts.models import CreditScore

    settings.CREDIT_SCORE_PROVIDER = "csv"
    patient = PatientFactory(resident_of_region=False)
    CreditScore.objects.create(citizen_card=patient.citizen_card, score=500, source="csv")

    with pytest.raises(DomainError) as error:
        services.agreement_sign(
            patient=patient, institution=hospital, channel=SigningChannel.ONLINE, actor=None
        )

    assert error.value.code == "score_below_floor"
    assert not CreditAgreement.objects.filter(patient=patient).exists()
