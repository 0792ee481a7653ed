import re
from collections import Counter

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from organisations.time_zones import (
    TIME_ZONES_FILE,
    Zone,
    offset_of,
    offsets_of,
    validate_time_zone_name,
    zone_choices,
    zones,
)


def file_rows() -> list[tuple[str, str]]:
    """The data file read on its own, without the module's parser."""
    lines = TIME_ZONES_FILE.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(row) == 2 for row in rows), [row for row in rows if len(row) != 2]
    return [(offset, name) for offset, name in rows]


def offset_minutes(offset: str) -> int:
    hours, _, minutes = offset.lstrip("+-").partition(":")
    total = int(hours) * 60 + int(minutes or 0)
    return -total if offset.startswith("-") else total


def refusal(value: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_time_zone_name(value)
    assert caught.value.code == "unknown_time_zone"
    return caught.value


def test_the_file_parses_into_every_one_of_its_rows_in_order():
    assert zones() == tuple(Zone(offset, name) for offset, name in file_rows())
    assert len(zones()) > 100
    assert all(zone.name == zone.name.strip() and zone.name for zone in zones())


def test_the_file_is_read_once():
    assert zones() is zones()


def test_no_name_is_listed_twice_but_brazil_no_dst_as_in_yealinks_own_table():
    duplicated = {name for name, count in Counter(z.name for z in zones()).items() if count > 1}

    assert duplicated == {"Brazil(no DST)"}
    assert offsets_of("Brazil(no DST)") == ("-3", "-2")


def test_offsets_are_what_the_organisation_time_zone_field_accepts():
    from organisations.models import Organisation

    field = Organisation._meta.get_field("time_zone")
    regexes = [re.compile(v.regex) for v in field.validators if isinstance(v, RegexValidator)]
    assert regexes, "Organisation.time_zone has no RegexValidator to compare with"
    assert regexes[0].pattern == r"^[+-]?\d{1,2}(:[0-5]\d)?$"
    assert field.max_length is not None

    assert [zone for zone in zones() if not regexes[0].search(zone.offset)] == []
    assert all(len(zone.offset) <= field.max_length for zone in zones())


def test_offsets_are_in_yealinks_order_from_west_to_east():
    minutes = [offset_minutes(zone.offset) for zone in zones()]

    assert minutes == sorted(minutes)
    assert minutes[0] == -11 * 60
    assert minutes[-1] == 14 * 60


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("Netherlands(Amsterdam)", "+1"),
        ("Belgium(Brussels)", "+1"),
        ("United Kingdom(London)", "0"),
        ("United States-Eastern Time", "-5"),
        ("India(Calcutta)", "+5:30"),
        ("Canada-New Foundland(St.Johns)", "-3:30"),
        ("Trinidad&Tobago", "-4"),
    ],
)
def test_known_zones_are_there_with_their_offset(name, offset):
    assert Zone(offset, name) in zones()
    assert offset_of(name) == offset


def test_offset_of_agrees_with_the_file_for_every_name():
    offsets: dict[str, list[str]] = {}
    for offset, name in file_rows():
        offsets.setdefault(name, []).append(offset)

    for name, listed in offsets.items():
        assert offsets_of(name) == tuple(listed)
        assert offset_of(name) == (listed[0] if len(listed) == 1 else None)


def test_offset_of_an_unknown_or_ambiguous_name_is_none():
    assert offset_of("Netherlands") is None
    assert offset_of("") is None
    assert offsets_of("Mars(Olympus Mons)") == ()
    assert offset_of("Brazil(no DST)") is None


def test_the_validator_accepts_empty_for_offset_only_and_every_real_name():
    validate_time_zone_name("")
    for zone in zones():
        validate_time_zone_name(zone.name)


@pytest.mark.parametrize(
    "near_miss",
    [
        "Netherlands (Amsterdam)",
        "Netherland(Amsterdam)",
        "netherlands(amsterdam)",
        "Netherlands(Amsterdam) ",
    ],
)
def test_the_validator_refuses_a_near_miss_and_suggests_the_real_name(near_miss):
    (message,) = refusal(near_miss).messages

    assert f'"{near_miss}" is not one of Yealink\'s time zone names' in message
    assert 'Did you mean "Netherlands(Amsterdam)"' in message
    assert "leave it empty to send the offset only" in message


def suggested_names(message: str) -> list[str]:
    return re.findall(r'"([^"]+)"', message.split("Did you mean", 1)[1].split("?", 1)[0])


def test_the_validator_suggests_at_most_three_real_names():
    (message,) = refusal("Australia(Sidney)").messages

    suggested = suggested_names(message)
    assert 1 <= len(suggested) <= 3
    assert all(name.startswith("Australia(") and offsets_of(name) for name in suggested)


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("Europe/Amsterdam", "Netherlands(Amsterdam)"),
        ("Brussels", "Belgium(Brussels)"),
        ("Europe/London", "United Kingdom(London)"),
    ],
)
def test_the_validator_finds_the_zone_of_a_city_or_an_iana_name(value, suggestion):
    (message,) = refusal(value).messages

    assert suggested_names(message) == [suggestion]


def test_the_validator_says_what_to_do_when_nothing_is_close():
    (message,) = refusal("Mars/Olympus Mons").messages

    assert "Did you mean" not in message
    assert "is not one of Yealink's time zone names" in message
    assert 'such as "Netherlands(Amsterdam)"' in message
    assert "leave it empty to send the offset only" in message


def test_the_validator_refuses_without_looking_for_names_in_a_huge_value():
    (message,) = refusal("x" * 10_000).messages

    assert "Did you mean" not in message


def test_zone_choices_offer_each_name_once_labelled_with_its_offset():
    choices = zone_choices()
    values = [value for value, _ in choices]

    assert len(values) == len(set(values))
    assert values == list(dict.fromkeys(zone.name for zone in zones()))
    assert ("Netherlands(Amsterdam)", "+1 Netherlands(Amsterdam)") in choices
    assert ("United Kingdom(London)", "0 United Kingdom(London)") in choices
    assert ("Brazil(no DST)", "-3/-2 Brazil(no DST)") in choices


def test_zone_choices_work_in_a_django_form_field():
    field = forms.ChoiceField(choices=zone_choices())

    assert field.clean("Belgium(Brussels)") == "Belgium(Brussels)"
    with pytest.raises(ValidationError):
        field.clean("Belgium")
