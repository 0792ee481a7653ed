"""A key is the same key in any case and by either firmware generation's name: in the override
parser, in the layers (a later layer's `STATIC.X` replaces an earlier `static.x`, and the
phone's own credentials still come last and win), and in the files older firmware gets."""

import pytest
from django.core.exceptions import ValidationError

from devices.config import common_config, device_config, legacy_names
from organisations.config_syntax import retire_overrides, validate_overrides
from tests.devices.test_phone_settings import lines_of

pytestmark = pytest.mark.django_db

OLD_FIRMWARE = "28.80.0.95"


def keys_of(lines: list[str]) -> list[str]:
    return [line.split(" = ", 1)[0].lower() for line in lines[1:]]


def values_of(lines: list[str], key: str) -> list[str]:
    return [line.split(" = ", 1)[1] for line in lines[1:] if line.lower().startswith(f"{key} = ")]


def test_a_providers_override_in_capitals_replaces_our_key_and_is_written_once(client, tenant_a):
    org = tenant_a.organisation
    org.raw_overrides = "LANG.GUI = Dutch\nStatic.Auto_Provision.Repeat.Minutes = 5"
    org.save()

    common = lines_of(client, tenant_a, "/y000000000096.cfg")
    mac = lines_of(client, tenant_a, f"/{tenant_a.device.mac}.cfg")

    for lines in (common, mac):
        assert len(keys_of(lines)) == len(set(keys_of(lines))), "a key written twice"
        assert values_of(lines, "lang.gui") == ["Dutch"]
    assert "lang.gui = Dutch" in common  # our key, in our spelling (the documented one)
    assert values_of(common, "static.auto_provision.repeat.minutes") == ["5"]


def test_the_phones_own_credentials_win_over_an_override_in_any_case(client, tenant_a):
    device = tenant_a.device
    device.raw_overrides = (
        "STATIC.AUTO_PROVISION.SERVER.PASSWORD = not-its-own\n"
        "Static.Auto_Provision.Server.Username = someone\n"
        "auto_provision.server.password = not-its-own-either"
    )
    device.save()

    new = lines_of(client, tenant_a, f"/{device.mac}.cfg")
    old = lines_of(client, tenant_a, f"/{device.mac}.cfg", fw=OLD_FIRMWARE)

    for lines, key in ((new, "static.auto_provision.server"), (old, "auto_provision.server")):
        assert values_of(lines, f"{key}.password") == [device.provisioning_password]
        assert values_of(lines, f"{key}.username") == [device.mac]
        assert len(keys_of(lines)) == len(set(keys_of(lines))), "a key written twice"


def test_older_firmware_gets_an_override_in_capitals_by_its_old_name(client, tenant_a):
    org = tenant_a.organisation
    org.raw_overrides = "STATIC.FIRMWARE.URL = http://fw.example/t46.rom"
    org.save()

    lines = lines_of(client, tenant_a, "/y000000000028.cfg", fw=OLD_FIRMWARE)

    assert values_of(lines, "firmware.url") == ["http://fw.example/t46.rom"]
    assert values_of(lines, "static.firmware.url") == []


def test_an_override_by_the_old_name_replaces_the_key_of_the_new_one(tenant_a):
    org = tenant_a.organisation
    org.raw_overrides = "auto_provision.repeat.minutes = 7"
    org.save()

    config = common_config(org)

    assert config["static.auto_provision.repeat.minutes"] == "7"
    assert "auto_provision.repeat.minutes" not in config
    assert legacy_names(config)["auto_provision.repeat.minutes"] == "7"


def test_an_override_by_the_old_name_taken_out_gives_the_provisioning_url_back(
    client, tenant_a, settings
):
    org = tenant_a.organisation
    org.raw_overrides = "auto_provision.server.url = http://staging.example/"
    org.save()
    org.raw_overrides = ""
    org.save()

    for firmware, key in (
        (OLD_FIRMWARE, "auto_provision"),
        ("96.86.0.100", "static.auto_provision"),
    ):
        lines = lines_of(client, tenant_a, f"/{tenant_a.device.mac}.cfg", fw=firmware)
        assert values_of(lines, f"{key}.server.url") == [settings.PROVISIONING_URL], firmware
        assert "%NULL%" not in " ".join(values_of(lines, "auto_provision.server.url"))


def test_an_override_spelled_otherwise_is_not_taken_out(client, tenant_a):
    device = tenant_a.device
    device.raw_overrides = "Lang.Gui = Dutch"
    device.save()
    device.raw_overrides = "lang.gui = Dutch"
    device.save()

    config = device_config(device)

    assert device.retired_override_keys == ""
    assert [value for place, value in config.items() if place.lower() == "lang.gui"] == ["Dutch"]


def test_the_parser_refuses_a_key_twice_in_another_case_or_by_its_old_name():
    with pytest.raises(ValidationError) as case:
        validate_overrides("lang.gui = Dutch\nLANG.GUI = French")
    with pytest.raises(ValidationError) as generation:
        validate_overrides("static.firmware.url = http://a/\nfirmware.url = http://b/")

    assert case.value.messages == ["Line 2: LANG.GUI is already set on line 1 (as lang.gui)."]
    assert generation.value.messages == [
        "Line 2: firmware.url is already set on line 1 (as static.firmware.url)."
    ]


def test_retired_keys_are_kept_once_whatever_their_case():
    retired = retire_overrides("Features.DND.Enable = 1\nlang.gui = Dutch", "LANG.GUI = x", "")

    assert retired == "features.dnd.enable"
    assert retire_overrides("", "FEATURES.DND.ENABLE = 0", retired) == ""


def test_every_key_our_own_layers_write_is_in_lower_case(tenant_a):
    """What folding relies on: our spelling of a key is its folded name."""
    configs = [device_config(tenant_a.device), common_config(tenant_a.organisation, 96)]

    capitals = [place for config in configs for place in config if place != place.lower()]

    assert capitals == []
