import pytest
from django.core.exceptions import ValidationError

from devices.mac import InvalidMac
from devices.models import Device, SipAccount
from tests.factories import make_device, make_organisation


@pytest.fixture
def organisation(db):
    return make_organisation("gamma")


@pytest.mark.parametrize("notation", ["80:5E:C0:12:34:56", "80-5e-c0-12-34-56", "805e.c012.3456"])
def test_a_mac_in_any_notation_is_stored_as_twelve_lower_case_digits(organisation, notation):
    device = Device(organisation=organisation, mac=notation, model="T54W")
    device.full_clean()
    device.save()

    device.refresh_from_db()
    assert device.mac == "805ec0123456"


def test_a_lookup_in_any_notation_finds_the_device(organisation):
    device = make_device(organisation, "805ec0123456")

    assert Device.objects.get(mac="80:5E:C0:12:34:56") == device


def test_a_malformed_mac_is_refused_with_the_reason(organisation):
    device = Device(organisation=organisation, mac="80:5e:c0:12:34:5g", model="T54W")

    with pytest.raises(ValidationError) as caught:
        device.full_clean()

    assert "'g' is not a hexadecimal digit" in caught.value.message_dict["mac"][0]


def test_code_that_skips_validation_still_cannot_store_a_malformed_mac(organisation):
    with pytest.raises(InvalidMac):
        Device.objects.create(organisation=organisation, mac="not-a-mac", model="T54W")


def test_a_mac_belongs_to_one_organisation_only(organisation):
    make_device(organisation, "805ec0123456")
    other = make_organisation("delta")
    duplicate = Device(organisation=other, mac="80:5e:c0:12:34:56", model="T46U")

    with pytest.raises(ValidationError) as caught:
        duplicate.full_clean()

    assert caught.value.message_dict["mac"] == [
        "This MAC address is already registered to a device."
    ]


def test_a_line_beyond_what_the_model_holds_is_refused(organisation):
    device = make_device(organisation, model="T31G")  # two lines
    account = SipAccount(device=device, index=3, user_name="100", password="secret-pw")

    with pytest.raises(ValidationError) as caught:
        account.full_clean()

    assert caught.value.message_dict["index"] == ["A T31G has 2 lines; line 3 is out."]


def test_sip_names_refuse_characters_the_phone_refuses(organisation):
    device = make_device(organisation)
    account = SipAccount(device=device, index=1, label="Sales; desk", user_name="1", password="pw")

    with pytest.raises(ValidationError) as caught:
        account.full_clean()

    assert "label" in caught.value.message_dict


def test_overrides_are_validated_when_saved(organisation):
    device = make_device(organisation)
    device.raw_overrides = "lang.gui = Dutch\nnonsense"

    with pytest.raises(ValidationError) as caught:
        device.full_clean()

    assert caught.value.message_dict["raw_overrides"] == [
        "Line 2: 'nonsense' is not of the form 'key = value'."
    ]
