"""Phone numbers: what may be typed, what the phone gets."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from phonebooks.numbers import dialable, validate_phone_number


@pytest.mark.parametrize(
    "number", ["+31 20 123 4567", "020-123 45 67", "*97", "#31#0612345678", "1001", " +32 2 1"]
)
def test_usual_numbers_are_accepted(number):
    validate_phone_number(number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("020 CALL NOW", "not allowed"),
        ("(020) 123", "not allowed"),
        ("020/123", "not allowed"),
        ("020\t123", "not allowed"),
        ("00+31", "can only come first"),
        ("+-*#", "at least one digit"),
    ],
)
def test_other_numbers_are_refused_with_the_reason(number, reason):
    with pytest.raises(ValidationError, match=reason):
        validate_phone_number(number)


def test_the_phone_gets_the_number_without_spaces_or_dashes():
    assert dialable("+31 20 123-45 67") == "+31201234567"
    assert dialable("*97#") == "*97#"
