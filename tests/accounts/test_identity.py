import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts.identity import (
    IdentityDocumentType,
    Sex,
    parse_resident_id,
    resident_id_check_character,
    validate_identity_number,
)
from accounts.masking import mask_identity_number, mask_phone


@pytest.mark.parametrize(
    ("number", "birth_date", "sex"),
    [
        ("11010519491231002X", dt.date(1949, 12, 31), Sex.FEMALE),  # the GB 11643 example
        ("11010519491231002x", dt.date(1949, 12, 31), Sex.FEMALE),  # lower-case x
        (" 110105 19491231 002X ", dt.date(1949, 12, 31), Sex.FEMALE),  # spaces from a scan
        ("330183199001011232", dt.date(1990, 1, 1), Sex.MALE),
    ],
)
def test_valid_resident_id_gives_birth_date_and_sex(number, birth_date, sex):
    facts = parse_resident_id(number)
    assert facts.birth_date == birth_date
    assert facts.sex == sex


def test_check_character_matches_the_standard():
    assert resident_id_check_character("11010519491231002") == "X"
    assert resident_id_check_character("33018319900101123") == "2"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110105194912310021", "resident_id_check_digit"),  # last character should be X
        ("330183199001011234", "resident_id_check_digit"),
        ("330183199002301235", "resident_id_birth_date"),  # 30 February
        ("330183203001011235", "resident_id_birth_date"),  # born in the future
        ("330183185001011235", "resident_id_birth_date"),  # before 1900
        ("33018319900101123", "resident_id_shape"),  # 17 characters
        ("33018319900101123A", "resident_id_shape"),
        ("030183199001011239", "resident_id_shape"),  # regions never start with 0
    ],
)
def test_invalid_resident_id_is_refused_with_its_reason(number, code):
    with pytest.raises(ValidationError) as error:
        parse_resident_id(number)
    assert error.value.code == code


def test_check_digit_error_tells_the_clerk_the_expected_character():
    with pytest.raises(ValidationError) as error:
        parse_resident_id("110105194912310021")
    assert "X" in error.value.messages[0]


@pytest.mark.parametrize(
    ("document_type", "number"),
    [
        (IdentityDocumentType.PASSPORT, "E12345678"),
        (IdentityDocumentType.PASSPORT, "X1234567"),
        (IdentityDocumentType.HK_MACAO_PERMIT, "H12345678"),
        (IdentityDocumentType.HK_MACAO_PERMIT, "M1234567890"),
        (IdentityDocumentType.TAIWAN_PERMIT, "12345678"),
        (IdentityDocumentType.TAIWAN_PERMIT, "1234567890"),
        # Hong Kong residents' residence permits are resident IDs with region 810000.
        (
            IdentityDocumentType.RESIDENT_ID,
            "81000019900101123" + resident_id_check_character("81000019900101123"),
        ),
    ],
)
def test_other_documents_are_accepted_in_their_shape(document_type, number):
    validate_identity_number(document_type, number)


@pytest.mark.parametrize(
    ("document_type", "number"),
    [
        (IdentityDocumentType.PASSPORT, "E12"),
        (IdentityDocumentType.PASSPORT, "E1234-5678"),
        (IdentityDocumentType.HK_MACAO_PERMIT, "X12345678"),
        (IdentityDocumentType.HK_MACAO_PERMIT, "H1234567"),
        (IdentityDocumentType.TAIWAN_PERMIT, "1234567"),
        ("driving_licence", "12345678"),
    ],
)
def test_other_documents_in_a_wrong_shape_are_refused(document_type, number):
    with pytest.raises(ValidationError):
        validate_identity_number(document_type, number)


def test_identity_numbers_and_phones_are_masked():
    assert mask_identity_number("330183199001011234") == "330183********1234"
    assert mask_identity_number("E12345678") == "E*****678"
    assert mask_identity_number("1234") == "****"
    assert mask_phone("+8613812345678") == "138****5678"
