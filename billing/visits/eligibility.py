"""Whether a patient may be treated on credit now: the card, the agreement."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AgreementStatus, Patient
from creditcare.errors import DomainError

AGREEMENT_REFUSALS = {
    AgreementStatus.SUSPENDED: (
        "agreement_suspended",
        gettext_lazy(
            "The patient's credit agreement is suspended (an overdue bill): collect payment "
            "at the window."
        ),
    ),
    AgreementStatus.TERMINATED: (
        "agreement_terminated",
        gettext_lazy("The patient's credit agreement has ended: collect payment at the window."),
    ),
    AgreementStatus.PENDING: (
        "agreement_pending",
        gettext_lazy(
            "The patient's credit agreement is not signed yet: sign it at the window first."
        ),
    ),
}


def patient_for_card(citizen_card: str) -> Patient:
    patient = (
        Patient.objects.select_related("agreement")
        .filter(citizen_card=citizen_card.strip().upper())
        .first()
    )
    if patient is None:
        raise DomainError(
            "unknown_card",
            _("No patient has this citizen card: check the card or sign the patient up."),
            {"citizen_card": citizen_card},
        )
    return patient


def agreement_ended_refusal(patient: Patient) -> DomainError | None:
    """Why a visit already open takes nothing more: its agreement has ended. (A suspension
    stops new visits only: care already under way goes on to its bill.)"""
    refusal = agreement_refusal(patient)
    return refusal if refusal and refusal.code == "agreement_terminated" else None


def agreement_refusal(patient: Patient) -> DomainError | None:
    """Why this patient cannot open a visit on credit now, or ``None`` if they can."""
    agreement = getattr(patient, "agreement", None)
    if agreement is None:
        return DomainError(
            "no_agreement",
            _("The patient has not signed the credit agreement: collect payment at the window."),
        )
    if agreement.status in AGREEMENT_REFUSALS:
        code, message = AGREEMENT_REFUSALS[agreement.status]
        return DomainError(code, str(message), {"agreement_status": agreement.status})
    return None
