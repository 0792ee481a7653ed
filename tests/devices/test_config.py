"""Rendering: one function per file, layered, every key one a phone knows."""

import pytest

from devices import config as config_module
from devices.config import (
    boot_file,
    common_config,
    device_config,
    register_device_contributor,
    render_device_config,
)
from devices.models import Device
from organisations.config_syntax import unknown_keys
from organisations.models import Organisation
from tests.factories import make_account, make_device


def keys_of(rendered: str) -> list[str]:
    return [line.split(" = ")[0] for line in rendered.splitlines()[1:]]


def test_the_common_file_layers_defaults_then_organisation(tenant_a):
    org = tenant_a.organisation
    org.provisioning_interval_minutes = 15
    org.language = Organisation.Language.DUTCH

    config = common_config(org, 96)

    assert config["static.auto_provision.repeat.enable"] == "1"
    assert config["static.auto_provision.repeat.minutes"] == "15"
    assert config["lang.gui"] == config["lang.wui"] == "Dutch"
    assert config["static.auto_provision.server.url"] == "http://127.0.0.1:8000/"
    # Credentials are each phone's own, in its MAC file only.
    assert "static.auto_provision.server.username" not in config
    assert "static.auto_provision.server.password" not in config


def test_an_override_replaces_a_key_in_place_never_duplicates_it(tenant_a):
    org = tenant_a.organisation
    org.raw_overrides = "static.auto_provision.repeat.minutes = 5\nfeatures.dnd.enable = 1"

    rendered = config_module.render_common_config(org, 96)

    assert keys_of(rendered).count("static.auto_provision.repeat.minutes") == 1
    assert "static.auto_provision.repeat.minutes = 5\n" in rendered
    assert keys_of(rendered)[-1] == "features.dnd.enable"


def test_in_the_mac_file_the_devices_override_beats_the_organisations(tenant_a):
    tenant_a.organisation.raw_overrides = "account.1.label = Org label\nfeatures.dnd.enable = 1"
    tenant_a.device.raw_overrides = "account.1.label = Device label"

    config = device_config(tenant_a.device)

    assert config["account.1.label"] == "Device label"
    assert config["features.dnd.enable"] == "1"


def test_every_line_of_the_model_is_set_and_unused_ones_are_switched_off(tenant_a):
    config = device_config(tenant_a.device)

    assert config["account.1.enable"] == config["account.2.enable"] == "1"
    assert [config[f"account.{n}.enable"] for n in range(3, 17)] == ["0"] * 14
    assert "account.17.enable" not in config


def test_an_account_takes_the_organisations_server_unless_it_overrides_it(tenant_a):
    tenant_a.accounts[1].server_host = "sbc.alpha.example"
    tenant_a.accounts[1].server_port = 5061
    tenant_a.accounts[1].server_transport = 2
    tenant_a.accounts[1].save()

    config = device_config(Device.objects.get(pk=tenant_a.device.pk))

    assert config["account.1.sip_server.1.address"] == "sip.alpha.example"
    assert config["account.1.sip_server.1.port"] == "5060"
    assert config["account.1.sip_server.1.transport_type"] == "0"
    assert config["account.2.sip_server.1.address"] == "sbc.alpha.example"
    assert config["account.2.sip_server.1.port"] == "5061"
    assert config["account.2.sip_server.1.transport_type"] == "2"


def test_names_default_to_the_user_name(tenant_a):
    config = device_config(tenant_a.device)

    assert config["account.1.label"] == config["account.1.auth_name"] == "a101"


def test_a_phones_sip_passwords_appear_only_in_its_own_mac_file(tenant_a, tenant_b):
    other = make_device(tenant_a.organisation, "805ec0aaaa02")
    make_account(other, 1, password="colleague-secret")

    mine = render_device_config(tenant_a.device)
    common = config_module.render_common_config(tenant_a.organisation, 96)

    assert "alpha-sip-101" in mine
    for secret in ["colleague-secret", "bravo-sip-201"]:
        assert secret not in mine
    assert "alpha-sip-101" not in common


def test_every_key_we_render_is_one_a_yealink_phone_knows(tenant_a):
    tenant_a.accounts[0].server_host = "sbc.alpha.example"
    tenant_a.accounts[0].save()

    rendered = config_module.render_common_config(tenant_a.organisation, 96) + render_device_config(
        Device.objects.get(pk=tenant_a.device.pk)
    )

    assert unknown_keys(keys_of(rendered.replace("#!version:1.0.0.1\n", ""))) == []


def test_a_bad_override_stored_behind_the_validators_back_does_not_break_the_file(tenant_a):
    Device.objects.filter(pk=tenant_a.device.pk).update(raw_overrides="garbage\nlang.gui = Dutch")

    config = device_config(Device.objects.get(pk=tenant_a.device.pk))

    assert config["lang.gui"] == "Dutch"


def test_other_apps_contribute_keys_to_the_mac_file(tenant_a, monkeypatch):
    monkeypatch.setattr(
        config_module, "_device_contributors", list(config_module._device_contributors)
    )

    @register_device_contributor
    def contribute(device):
        return [("features.remote_phonebook.enable", "1"), ("account.1.label", "From app")]

    config = device_config(tenant_a.device)

    assert config["features.remote_phonebook.enable"] == "1"
    assert config["account.1.label"] == "From app"


@pytest.mark.parametrize(
    ("code", "mac", "expected"),
    [
        (
            96,
            "805ec0aaaa01",
            ['include:config "y000000000096.cfg"', 'include:config "805ec0aaaa01.cfg"'],
        ),
        (None, None, ['include:config "y000000000000.cfg"']),
    ],
)
def test_the_boot_file_names_the_common_and_mac_files(code, mac, expected):
    lines = boot_file(code, mac).splitlines()

    assert lines[0] == "#!version:1.0.0.1"
    assert lines[1:] == expected
