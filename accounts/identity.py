"""Identity documents: validation of the numbers and what can be derived from them.

Mainland resident identity cards follow GB 11643-1999: 6 digits of region, 8 of birth date
(YYYYMMDD), 3 of sequence (odd = male, even = female) and an ISO 7064 MOD 11-2 check
character (0-9 or X). The residence permits of Hong Kong, Macao and Taiwan residents use
the same 18-character scheme (regions 810000, 820000, 830000). Other documents carry no
checksum we can verify, only a shape.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityDocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")
    PASSPORT = "passport", _("Passport")
    HK_MACAO_PERMIT = "hk_macao_permit", _("Hong Kong/Macao travel permit")
    TAIWAN_PERMIT = "taiwan_permit", _("Taiwan travel permit")


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK_CHARACTERS = "10X98765432"
_RESIDENT_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")

# Shapes of the other documents; the authority's own systems verify them, we catch typos.
_DOCUMENT_SHAPES = {
    IdentityDocumentType.PASSPORT: (
        re.compile(r"^[A-Z0-9]{5,17}$"),
        _("A passport number is 5 to 17 letters and digits."),
    ),
    IdentityDocumentType.HK_MACAO_PERMIT: (
        re.compile(r"^[HM]\d{8}(\d{2})?$"),
        _("A Hong Kong/Macao permit number is H or M followed by 8 or 10 digits."),
    ),
    IdentityDocumentType.TAIWAN_PERMIT: (
        re.compile(r"^\d{8}(\d{2})?$"),
        _("A Taiwan permit number is 8 or 10 digits."),
    ),
}


@dataclass(frozen=True)
class ResidentIdFacts:
    birth_date: dt.date
    sex: str


def normalize_identity_number(number: str) -> str:
    return re.sub(r"\s+", "", number or "").upper()


def resident_id_check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def parse_resident_id(number: str, *, today: dt.date | None = None) -> ResidentIdFacts:
    """Validate an 18-character resident ID and return the birth date and sex it encodes."""
    number = normalize_identity_number(number)
    if not _RESIDENT_ID_SHAPE.match(number):
        raise ValidationError(
            _("A resident ID number is 18 characters: 17 digits and a final digit or X."),
            code="resident_id_shape",
        )
    try:
        birth_date = dt.datetime.strptime(number[6:14], "%Y%m%d").date()
    except ValueError:
        raise ValidationError(
            _("The birth date in this ID number (%(digits)s) is not a real date."),
            code="resident_id_birth_date",
            params={"digits": number[6:14]},
        ) from None
    today = today or dt.date.today()
    if birth_date > today or birth_date.year < 1900:
        raise ValidationError(
            _("The birth date in this ID number (%(date)s) is not possible."),
            code="resident_id_birth_date",
            params={"date": birth_date.isoformat()},
        )
    expected = resident_id_check_character(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _(
                "The check digit of this ID number is wrong (the last character should be "
                "%(expected)s). Please compare it with the card again."
            ),
            code="resident_id_check_digit",
            params={"expected": expected},
        )
    sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
    return ResidentIdFacts(birth_date=birth_date, sex=sex)


def validate_identity_number(document_type: str, number: str) -> None:
    number = normalize_identity_number(number)
    if document_type == IdentityDocumentType.RESIDENT_ID:
        parse_resident_id(number)
        return
    try:
        shape, message = _DOCUMENT_SHAPES[IdentityDocumentType(document_type)]
    except ValueError:
        raise ValidationError(_("Unknown identity document type."), code="document_type") from None
    if not shape.match(number):
        raise ValidationError(message, code="document_shape")
