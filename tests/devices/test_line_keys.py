"""Line keys (DSS keys), key profiles, expansion modules and DECT handsets: validated
against the model, rendered as the phone reads them, and nothing left behind on the phone
when they are taken away."""

import pytest
from django.core.exceptions import ValidationError

from devices.models import Handset, KeyProfile, KeyType, LineKey, ProfileKey
from tests.devices.test_phone_settings import mac_file
from tests.factories import make_account, make_device

pytestmark = pytest.mark.django_db


def test_keys_of_the_key_profile_and_the_phones_own(client, tenant_a):
    device = tenant_a.device  # a T54W with accounts 1 and 2
    profile = KeyProfile.objects.create(organisation=tenant_a.organisation, name="Reception")
    ProfileKey.objects.create(profile=profile, position=3, type=KeyType.BLF, value="1003")
    ProfileKey.objects.create(profile=profile, position=4, type=KeyType.SPEED_DIAL, value="112")
    device.key_profile = profile
    device.save()
    LineKey.objects.create(
        device=device, position=4, type=KeyType.CALL_PARK, value="700", label="Park", line=2
    )
    LineKey.objects.create(
        device=device, position=6, type=KeyType.XML_PHONEBOOK, value="1", label="Sales"
    )

    got = mac_file(client, tenant_a)

    # Keys 1 and 2: the phone's lines, as out of the box.
    assert (got["linekey.1.type"], got["linekey.1.line"]) == ("15", "1")
    assert (got["linekey.2.type"], got["linekey.2.line"]) == ("15", "2")
    assert (got["linekey.3.type"], got["linekey.3.value"]) == ("16", "1003")
    assert got["linekey.3.extension"] == "%NULL%"
    # The phone's own key 4 replaces the profile's.
    assert (got["linekey.4.type"], got["linekey.4.value"]) == ("10", "700")
    assert (got["linekey.4.label"], got["linekey.4.line"]) == ("Park", "2")
    assert (got["linekey.6.type"], got["linekey.6.xml_phonebook"]) == ("47", "1")
    # Every other key of the model is blank, so nothing lingers from before.
    assert (got["linekey.5.type"], got["linekey.5.value"]) == ("0", "%NULL%")
    assert got["linekey.27.type"] == "0"
    assert "linekey.28.type" not in got  # a T54W has 27


def test_expansion_module_keys_and_a_module_taken_away(client, tenant_a):
    device = tenant_a.device
    device.expansion_module, device.expansion_module_count = "EXP50", 2
    device.full_clean()
    device.save()
    LineKey.objects.create(device=device, module=2, position=60, type=KeyType.BLF, value="1060")

    got = mac_file(client, tenant_a)

    assert (got["expansion_module.2.key.60.type"], got["expansion_module.2.key.60.value"]) == (
        "16",
        "1060",
    )
    assert got["expansion_module.1.key.1.type"] == "0"

    device.line_keys.all().delete()
    device.expansion_module_count = 1
    device.save()
    got = mac_file(client, tenant_a)

    assert got["expansion_module.1.key.60.type"] == "0"
    # The module taken away is blanked too: its BLF would stay on the phone otherwise.
    assert (got["expansion_module.2.key.60.type"], got["expansion_module.2.key.60.value"]) == (
        "0",
        "%NULL%",
    )
    assert "expansion_module.3.key.1.type" not in got


@pytest.mark.parametrize(
    ("model", "modules", "key", "message"),
    [
        ("T54W", ("", 0), {"position": 28}, "A T54W has 27 line keys; there is no key 28."),
        (
            "T54W",
            ("EXP50", 1),
            {"module": 2, "position": 1},
            "This T54W has 1 EXP50 module; there is no expansion module 2 key 1.",
        ),
        (
            "T54W",
            ("EXP50", 1),
            {"module": 1, "position": 61},
            "An EXP50 has 60 keys; there is no expansion module 1 key 61.",
        ),
        ("CP920", ("", 0), {"position": 1}, "A CP920 has 0 line keys; there is no key 1."),
        ("W60B", ("", 0), {"position": 1}, "A W60B has 0 line keys; there is no key 1."),
        ("T54W", ("", 0), {"position": 1, "line": 17}, "A T54W has 16 lines; key 1 uses"),
    ],
)
def test_a_key_the_model_does_not_have_is_refused_naming_the_model_and_its_limit(
    tenant_a, model, modules, key, message
):
    device = make_device(tenant_a.organisation, model=model)
    device.expansion_module, device.expansion_module_count = modules
    device.save()
    line_key = LineKey(device=device, type=KeyType.BLF, value="1", **key)

    with pytest.raises(ValidationError) as raised:
        line_key.full_clean()

    assert message in " ".join(raised.value.messages)


def test_a_key_that_needs_a_value_and_a_module_the_model_does_not_take(tenant_a):
    with pytest.raises(ValidationError) as raised:
        LineKey(device=tenant_a.device, position=1, type=KeyType.BLF).full_clean()
    assert raised.value.message_dict["value"] == ["A BLF key needs a value (a number)."]

    device = make_device(tenant_a.organisation, model="T46U")
    device.expansion_module, device.expansion_module_count = "EXP50", 1
    with pytest.raises(ValidationError) as raised:
        device.full_clean()
    assert raised.value.message_dict["expansion_module"] == [
        "A T46U does not take an EXP50 (it takes: EXP43)."
    ]
    device.expansion_module, device.expansion_module_count = "EXP43", 4
    with pytest.raises(ValidationError) as raised:
        device.full_clean()
    assert "A T46U takes at most 3 expansion modules." in raised.value.messages


def test_a_key_profile_that_does_not_fit_a_phone_is_refused_on_either_side(tenant_a):
    profile = KeyProfile.objects.create(organisation=tenant_a.organisation, name="Operator")
    ProfileKey.objects.create(profile=profile, position=10, type=KeyType.BLF, value="1")
    small = make_device(tenant_a.organisation, model="T31G")  # 2 line keys
    small.key_profile = profile

    with pytest.raises(ValidationError) as raised:
        small.full_clean()
    assert raised.value.message_dict["key_profile"] == [
        "The key profile Operator does not fit this phone: A T31G has 2 line keys; "
        "there is no key 10."
    ]

    tenant_a.device.key_profile = profile
    tenant_a.device.save()
    with pytest.raises(ValidationError) as raised:
        ProfileKey(profile=profile, position=40, type=KeyType.BLF, value="2").full_clean()
    assert "uses this profile. A T54W has 27 line keys; there is no key 40." in str(raised.value)


def test_dect_handsets_get_their_lines_and_names(client, tenant_a):
    base = make_device(tenant_a.organisation, model="W60B")
    make_account(base, 1)
    make_account(base, 2)
    Handset.objects.create(
        device=base,
        index=1,
        name="Forklift",
        incoming_lines="1,2",
        outgoing_lines="2",
        default_line=2,
    )

    got = mac_file(client, tenant_a, device=base, fw="77.85.0.20")

    assert got["handset.1.name"] == "Forklift"
    assert got["handset.1.incoming_lines"] == "1,2"
    assert got["handset.1.dial_out_lines"] == "2"
    assert got["handset.1.dial_out_default_line"] == "2"
    assert "linekey.1.type" not in got


@pytest.mark.parametrize(
    ("model", "handset", "message"),
    [
        ("W60B", {"index": 9}, "A W60B takes 8 handsets; 9 is out."),
        ("W60B", {"incoming_lines": "1,9"}, "A W60B has lines 1 to 8; not [9]."),
        ("W60B", {"default_line": 1, "outgoing_lines": "2"}, "one of its outgoing lines"),
        ("T54W", {}, "A T54W takes no DECT handsets."),
        ("W60B", {"incoming_lines": "one"}, "Line numbers separated by commas"),
    ],
)
def test_a_handset_that_does_not_fit_its_base_is_refused(tenant_a, model, handset, message):
    base = make_device(tenant_a.organisation, model=model)
    fields = {"index": 1, "incoming_lines": "1", "outgoing_lines": "1", "default_line": 1}

    with pytest.raises(ValidationError) as raised:
        Handset(device=base, **{**fields, **handset}).full_clean()

    assert message in " ".join(raised.value.messages)


def test_the_w80_manager_holds_more_than_16_lines(client, tenant_a):
    manager = make_device(tenant_a.organisation, model="W80")
    make_account(manager, 40)

    got = mac_file(client, tenant_a, device=manager, fw="103.85.0.20")

    assert got["account.40.enable"] == "1"
    assert got["account.100.enable"] == "0"


def test_a_phone_cannot_have_another_organisations_key_profile(tenant_a, tenant_b):
    theirs = KeyProfile.objects.create(organisation=tenant_b.organisation, name="Bravo keys")
    tenant_a.device.key_profile = theirs

    with pytest.raises(ValidationError) as raised:
        tenant_a.device.full_clean()

    assert raised.value.message_dict["key_profile"] == [
        "The key profile Bravo keys is another organisation's."
    ]
