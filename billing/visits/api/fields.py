"""Input fields of the HIS API whose whole rule is one regular expression (and a length),
which the OpenAPI schema publishes as the field's ``pattern``.

A value is taken exactly when it matches, so the schema and the server cannot disagree: what
the schema calls valid is accepted, anything else is a 400 ``invalid_input``. Rules that a
schema cannot state (a sum across fields, a time against the clock, a card nobody holds)
belong to the services and answer 422 (``billing.visits.api.errors``).
"""

import re
from decimal import Decimal

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.fields import empty

# What str.strip() (so DRF's trimming) takes for whitespace, spelled out: \s differs between
# Python's regular expressions and the ECMA-262 ones a JSON Schema pattern is read with.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Something besides whitespace, and no NUL (which no database column can hold).
TEXT = rf"^[{WHITESPACE}]*[^{WHITESPACE}\x00][^\x00]*$"
# Blank ("" or only whitespace) is taken before any validator runs; the schema says "" apart.
BLANKABLE_TEXT = r"^[^\x00]+$"
# As TEXT, and no '/' (the id is a URL segment).
HIS_ID = rf"^[{WHITESPACE}]*[^{WHITESPACE}\x00/][^\x00/]*$"


class Text(serializers.CharField):
    """Text of at most ``max_length`` characters matching ``pattern``, surrounding whitespace
    counted (the schema's maxLength is of what is sent) and then trimmed, as DRF does."""

    def __init__(self, *, max_length: int, pattern: str = TEXT, **kwargs):
        kwargs.setdefault("allow_blank", pattern == BLANKABLE_TEXT)
        message = _("This text holds a character it cannot have (a NUL, or '/' in an id).")
        super().__init__(
            max_length=max_length, validators=[RegexValidator(pattern, message)], **kwargs
        )

    def run_validation(self, data=empty):
        if data is not empty and data is not None:
            # DRF would take a number as its digits: the schema says a string.
            if not isinstance(data, str):
                self.fail("invalid")
            if len(data) > self.max_length:
                self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)


class Count(serializers.IntegerField):
    """A whole number sent as a JSON number: not its digits in a string, not a boolean, not a
    number with a fraction. The schema says integer, which OpenAPI 3.1 (JSON Schema) takes to
    include a whole number written ``88.0`` or ``8.8e1``: those are taken as 88."""

    def run_validation(self, data=empty):
        if isinstance(data, float) and data.is_integer() and abs(data) < 2**53:
            data = int(data)
        whole = isinstance(data, int) and not isinstance(data, bool)
        if data is not empty and data is not None and not whole:
            self.fail("invalid")
        return super().run_validation(data)


def decimal_pattern(*, places: int, min_value: Decimal, max_value: Decimal) -> str:
    """The plain decimals from ``min_value`` to ``max_value`` with at most ``places`` places:
    ``12``, ``12.3``, ``12.30``, no sign, exponent, leading zero or bare point.

    ``min_value`` is 0 or the smallest step (0.01 for 2 places: "more than zero"), and
    ``max_value`` a power of ten, which is all a regular expression says plainly."""
    step = Decimal(1).scaleb(-places)
    digits = len(str(int(max_value))) - 1
    if max_value != 10**digits or min_value not in (0, step):
        raise ValueError(f"no pattern for {min_value}..{max_value}")
    fraction = rf"(?:\.[0-9]{{1,{places}}})?"
    if min_value:  # 0.x with a digit other than 0 in it
        below_one = "|".join(
            "0" * zeros + "[1-9]" + upto(places - zeros - 1) for zeros in range(places)
        )
        branches = [rf"0\.(?:{below_one})"]
    else:
        branches = ["0" + fraction]
    if digits:
        branches.append("[1-9]" + upto(digits - 1) + fraction)
    branches.append(rf"{max_value:.0f}(?:\.0{{1,{places}}})?")
    return "^(?:" + "|".join(branches) + ")$"


def upto(count: int) -> str:
    """A regular expression for 0 to ``count`` digits."""
    return rf"[0-9]{{0,{count}}}" if count else ""


class DecimalString(serializers.DecimalField):
    """A decimal sent as a JSON string ("12.30"), never as a JSON number (a binary float
    loses cents), matching ``decimal_pattern`` of its bounds."""

    default_error_messages = {
        "not_a_string": _('Send this number as a string, e.g. "12.30".'),
        "plain": _(
            'Write this number plainly, e.g. "12.30": no sign, exponent, spaces or leading zero.'
        ),
    }

    def __init__(self, *, places: int, min_value: Decimal, max_value: Decimal, **kwargs):
        self.pattern = decimal_pattern(places=places, min_value=min_value, max_value=max_value)
        self.regex = re.compile(self.pattern)
        super().__init__(
            max_digits=len(f"{max_value:.0f}") + places,
            decimal_places=places,
            min_value=min_value,
            max_value=max_value,
            **kwargs,
        )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.regex.fullmatch(data):
            return self.quantize(Decimal(data))
        # Why not, in DRF's words where it has them: not a number, too many places, the range.
        self.run_validators(super().to_internal_value(data))
        self.fail("plain")  # a number in range, but not written plainly ("+5", "1e2", "05")


class DecimalStringScheme(OpenApiSerializerFieldExtension):
    target_class = DecimalString

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "decimal", "pattern": self.target.pattern}


class QueryValue:
    """A query parameter given empty (``?status=``) is a value to validate, not "not given"
    (DRF's reading of an empty form field): the schema says what an empty one is."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class QueryText(QueryValue, Text):
    pass


class QueryChoice(QueryValue, serializers.ChoiceField):
    pass


class QueryInteger(QueryValue, serializers.IntegerField):
    """Digits only: DRF's IntegerField would also take " 5", "5.0", "+5" and "5_0"."""

    def to_internal_value(self, data):
        if not re.fullmatch(r"[0-9]{1,18}", str(data)):
            self.fail("invalid")
        return int(data)
