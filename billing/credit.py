"""The credit policy applied from billing's side: a patient's repayment record is read from
their bills here and handed to ``accounts.services.credit_limits_apply_policy``."""

from accounts.models import CreditLimitChange, Patient
from accounts.selectors import credit_score_latest
from accounts.services import credit_limits_apply_policy
from billing.selectors import bills_repayment_record


def credit_limits_recompute(*, patient: Patient) -> list[CreditLimitChange]:
    """The policy applied to the patient's repayment record and latest score on record (the
    nightly recomputation, and after the overdue sweep)."""
    latest = credit_score_latest(citizen_card=patient.citizen_card)
    return credit_limits_apply_policy(
        patient=patient,
        record=bills_repayment_record(patient_id=patient.pk),
        score=latest.score if latest else None,
    )
