"""Family members who pay for a patient (issue 17, seed 002: children handle things for
elderly parents): their phones get copies of the bill SMS and may receive the code of the
patient's payment links. Added by the patient on /me/ once a code reached both phones, or by
window staff with the patient present; removed with one click on /me/."""

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import FamilyPayer, Patient, User, is_mobile_number
from creditcare.errors import DomainError

# A patient's family payers at most: enough for a family, few enough to keep an eye on.
FAMILY_PAYERS_MAX = 3


def mobile_phone(raw: str) -> str:
    """``raw`` as an E.164 mobile number, or ``DomainError`` (also the online sign-up's)."""
    try:
        number = phonenumbers.parse(raw.strip(), "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number) or not is_mobile_number(number):
        raise DomainError("invalid_phone", _("Please enter a mobile number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def family_payer_check(*, patient: Patient, phone: str) -> None:
    """Refuse a phone that cannot be added: the patient's own, or one too many."""
    if phone == str(patient.phone):
        raise DomainError("family_phone_is_patients", _("This is the patient's own phone."))
    payers = family_payers(patient)
    if phone not in {str(p.phone) for p in payers} and len(payers) >= FAMILY_PAYERS_MAX:
        raise DomainError(
            "family_payers_full",
            _("At most %(max)d family members can pay for one patient: remove one first.")
            % {"max": FAMILY_PAYERS_MAX},
        )


def family_payer_add(*, patient: Patient, phone: str, actor: User | None = None) -> FamilyPayer:
    """Add ``phone`` (E.164) as a family payer of ``patient`` (the same phone again: the one
    there). ``actor``: the window staff member, or ``None`` for the patient on /me/."""
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one at a time
        family_payer_check(patient=patient, phone=phone)
        existing = patient.family_payers.filter(phone=phone, removed_at=None).first()
        if existing:
            return existing
        try:
            with transaction.atomic():
                return FamilyPayer.objects.create(patient=patient, phone=phone, added_by=actor)
        except IntegrityError:  # added meanwhile
            return patient.family_payers.get(phone=phone, removed_at=None)


def family_payer_remove(*, payer: FamilyPayer) -> None:
    FamilyPayer.objects.filter(pk=payer.pk, removed_at=None).update(removed_at=timezone.now())


def family_payers(patient: Patient) -> list[FamilyPayer]:
    return list(patient.family_payers.filter(removed_at=None))
