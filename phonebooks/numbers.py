"""Phone numbers in a phonebook: what may be typed, and what the phone is given to dial."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

MAX_NUMBER_LENGTH = 32
ALLOWED = frozenset("0123456789+*# -")


def validate_phone_number(value: str) -> None:
    """Digits, `+`, `*`, `#`, spaces and `-`; `+` only in front; at least one digit."""
    bad = sorted(set(value) - ALLOWED)
    if bad:
        shown = " ".join(repr(char) for char in bad[:5])
        raise ValidationError(
            gettext(
                "%(characters)s not allowed in a phone number; use digits, +, *, #, spaces and -."
            )
            % {"characters": shown},
            code="number_chars",
        )
    if "+" in value.lstrip()[1:]:
        raise ValidationError(
            gettext("A + can only come first in a phone number."), code="number_plus"
        )
    if not any(char.isdigit() for char in value):
        raise ValidationError(
            gettext("A phone number needs at least one digit."), code="number_digits"
        )


def dialable(number: str) -> str:
    """The number as the phone gets it: stored as typed, rendered without spaces.

    Dashes go as well: like spaces they only group digits for the eye, and a phone that
    dials from the book would send them.
    """
    return number.replace(" ", "").replace("-", "")
