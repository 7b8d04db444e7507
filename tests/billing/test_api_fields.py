"""The input fields whose rule is the pattern the schema publishes (issue 13, defect 10): what
the pattern admits the field takes, and what the field takes the pattern admits."""

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from billing.visits.api.fields import DecimalString, Text
from billing.visits.api.serializers import ChargeInput, CloseInput, VisitOpenInput, VoidInput
from billing.visits.idempotency import idempotency_key_valid


def input_fields(kind: type[serializers.Field]) -> list[serializers.Field]:
    return [
        field
        for serializer in (ChargeInput, CloseInput, VisitOpenInput, VoidInput)
        for field in serializer().fields.values()
        if isinstance(field, kind)
    ]


DECIMALS = input_fields(DecimalString)


@pytest.mark.parametrize("field", DECIMALS, ids=lambda field: field.field_name)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_decimal_is_taken_exactly_when_it_matches_its_pattern(field, data):
    # Any value in range, written plainly, matches; each match is taken as that value.
    step = Decimal(1).scaleb(-field.decimal_places)
    steps = data.draw(st.integers(int(field.min_value / step), int(field.max_value / step)))
    value = (steps * step).normalize()
    text = f"{value:f}"
    assert field.regex.fullmatch(text), text
    assert field.run_validation(text) == value
    matching = data.draw(st.from_regex(field.regex, fullmatch=True))
    assert field.min_value <= field.run_validation(matching) <= field.max_value


@pytest.mark.parametrize("field", DECIMALS, ids=lambda field: field.field_name)
def test_a_decimal_not_written_plainly_or_out_of_range_is_refused(field):
    step = Decimal(1).scaleb(-field.decimal_places)
    too_fine = f"{field.min_value + step / 10:f}"
    for refused in ("", "-1", "+1", "1e2", " 1", "01", "1.", ".5", "NaN", too_fine, 1, 1.5, None):
        with pytest.raises(serializers.ValidationError):
            field.run_validation(refused)
    for outside in (field.max_value + step, field.min_value - step):
        assert not field.regex.fullmatch(f"{outside:f}")
        with pytest.raises(serializers.ValidationError):
            field.run_validation(f"{outside:f}")


def test_text_is_trimmed_but_its_length_is_what_was_sent():
    (card,) = [field for field in input_fields(Text) if field.field_name == "citizen_card"]
    assert card.run_validation(" CARD0001 ") == "CARD0001"
    for refused in (" ", "\u3000", "A\x00", "A" * 33, " " * 30 + "ABC", 12):
        with pytest.raises(serializers.ValidationError):
            card.run_validation(refused)
    (line_id,) = [
        field for field in ChargeInput().fields.values() if field.field_name == "his_line_id"
    ]
    with pytest.raises(serializers.ValidationError):
        line_id.run_validation("2024/001")


@pytest.mark.parametrize("key", ["k", str(uuid.uuid4()), "a b", "~" * 255, "!"])
def test_an_idempotency_key_of_printable_ascii_is_valid(key):
    assert idempotency_key_valid(key)


@pytest.mark.parametrize("key", ["", " a", "a ", "a\t", "é", "a\x7f", "a" * 256, "a\nb"])
def test_an_idempotency_key_otherwise_is_not(key):
    assert not idempotency_key_valid(key)
