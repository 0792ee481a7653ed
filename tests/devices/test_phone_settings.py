"""What phones are configured with: settings resolved over the layers (defaults, provider
profile, organisation, model, phone's profile, phone, account, raw overrides), fetched the
way a phone fetches its files."""

import pytest
from django.core.exceptions import ValidationError

from devices.config import device_config
from devices.models import Device
from organisations.models import SettingsProfile, SipTransport
from organisations.phone_settings import Srtp
from tests.devices.test_phone_requests import fetch
from tests.factories import make_account, make_device, own_basic, user_agent

pytestmark = pytest.mark.django_db


def mac_file(client, tenant, device=None, fw="96.86.0.100") -> dict[str, str]:
    """The MAC file a phone gets, as key -> value (the last line of a key wins)."""
    device = device or tenant.device
    response = fetch(
        client, f"/{device.mac}.cfg", tenant, agent=user_agent(device, device.model, fw)
    )
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0] == "#!version:1.0.0.1"
    return dict(line.split(" = ", 1) for line in lines[1:])


def lines_of(client, tenant, path, fw="96.86.0.100") -> list[str]:
    response = fetch(client, path, tenant, agent=user_agent(tenant.device, "T54W", fw))
    assert response.status_code == 200
    return response.content.decode().splitlines()


def test_each_layer_beats_the_one_before_it(client, tenant_a):
    org = tenant_a.organisation
    provider = SettingsProfile.objects.create(
        name="Reseller X", codecs="pcma,pcmu", dtmf_type=2, vlan_enabled=True, vlan_id=30
    )
    org.profile = provider
    org.dtmf_type = 3  # beats the provider's profile
    org.save()
    phones_profile = SettingsProfile.objects.create(name="Warehouse", vlan_id=40)
    device = tenant_a.device
    device.profile = phones_profile
    device.registration_expires = 600
    device.save()
    account = tenant_a.accounts[1]
    account.registration_expires = 120  # this line only
    account.save()

    got = mac_file(client, tenant_a)

    assert got["account.1.codec.pcma.priority"] == "1"  # provider profile
    assert got["account.1.codec.g722.enable"] == "0"  # not chosen: switched off
    assert got["account.1.dtmf.type"] == "3"  # organisation
    assert got["static.network.vlan.internet_port_enable"] == "1"  # provider profile
    assert got["static.network.vlan.internet_port_vid"] == "40"  # phone's profile
    assert got["account.1.sip_server.1.expires"] == "600"  # phone
    assert got["account.2.sip_server.1.expires"] == "120"  # account
    origin = device_config(Device.objects.get(pk=device.pk)).origin
    assert origin["account.1.codec.pcma.priority"] == "profile Reseller X"
    assert origin["account.1.dtmf.type"] == "organisation"
    assert origin["static.network.vlan.internet_port_vid"] == "phone's profile Warehouse"
    assert origin["account.1.sip_server.1.expires"] == "phone"
    assert origin["account.2.sip_server.1.expires"] == "account"
    assert origin["account.1.nat.udp_update_time"] == "default"


def test_a_raw_override_still_beats_every_layer(client, tenant_a):
    tenant_a.organisation.srtp = Srtp.OPTIONAL
    tenant_a.organisation.save()
    tenant_a.device.raw_overrides = "account.1.srtp_encryption = 0"
    tenant_a.device.save()

    got = mac_file(client, tenant_a)

    assert got["account.1.srtp_encryption"] == "0"
    assert got["account.2.srtp_encryption"] == "1"


def test_srtp_is_compulsory_on_tls_unless_a_layer_says_otherwise(client, tenant_a):
    org = tenant_a.organisation
    org.sip_transport = SipTransport.TLS
    org.save()
    udp = tenant_a.accounts[1]
    udp.server_transport = SipTransport.UDP
    udp.save()

    got = mac_file(client, tenant_a)

    assert got["account.1.sip_server.1.transport_type"] == "2"
    assert got["account.1.srtp_encryption"] == "2"
    assert got["account.2.srtp_encryption"] == "0"
    org.srtp = Srtp.OPTIONAL
    org.save()
    assert mac_file(client, tenant_a)["account.1.srtp_encryption"] == "1"


def test_a_second_server_and_outbound_proxies_and_their_removal(client, tenant_a):
    org = tenant_a.organisation
    org.sip_server_2_host = "sip2.alpha.example"
    org.failover = 1
    org.outbound_proxy = True
    org.outbound_proxy_host = "proxy1.alpha.example"
    org.outbound_proxy_2_host = "proxy2.alpha.example"
    org.outbound_proxy_port = 5070
    org.full_clean()
    org.save()

    got = mac_file(client, tenant_a)

    assert got["account.1.sip_server.2.address"] == "sip2.alpha.example"
    assert got["account.1.sip_server.2.port"] == "5060"
    assert got["account.1.fallback.redundancy_type"] == "1"
    assert got["account.1.outbound_proxy_enable"] == "1"
    assert got["account.1.outbound_proxy.1.address"] == "proxy1.alpha.example"
    assert got["account.1.outbound_proxy.2.address"] == "proxy2.alpha.example"
    assert got["account.1.outbound_proxy.2.port"] == "5070"

    org.sip_server_2_host = ""
    org.outbound_proxy = False
    org.save()
    got = mac_file(client, tenant_a)

    assert got["account.1.sip_server.2.address"] == "%NULL%"
    assert got["account.1.outbound_proxy_enable"] == "0"
    assert got["account.1.outbound_proxy.1.address"] == "%NULL%"
    assert got["account.1.outbound_proxy.2.address"] == "%NULL%"


def test_voicemail_mwi_and_nat_keepalive(client, tenant_a):
    org = tenant_a.organisation
    org.voicemail_number = "*97"
    org.mwi_subscribe = True
    org.nat_keepalive_seconds = 0
    org.save()
    account = tenant_a.accounts[1]
    account.voicemail_number = "*98"
    account.save()

    got = mac_file(client, tenant_a)

    assert (got["voice_mail.number.1"], got["voice_mail.number.2"]) == ("*97", "*98")
    assert got["account.1.subscribe_mwi"] == "1"
    assert got["account.1.nat.udp_update_enable"] == "0"
    assert "account.1.nat.udp_update_time" not in got


def test_a_second_ntp_server_and_lldp_cdp_switches(client, tenant_a):
    org = tenant_a.organisation
    org.ntp_server_2 = "ntp2.alpha.example"
    org.cdp_enabled = False
    org.save()
    tenant_a.device.lldp_enabled = False
    tenant_a.device.save()

    got = mac_file(client, tenant_a)

    assert got["local_time.ntp_server2"] == "ntp2.alpha.example"
    assert got["static.network.cdp.enable"] == "0"
    assert got["static.network.lldp.enable"] == "0"
    common = lines_of(client, tenant_a, "/y000000000096.cfg")
    assert "static.network.cdp.enable = 0" in common
    assert not any("lldp" in line for line in common)  # the phone's own choice, not theirs


def test_what_nobody_chose_is_left_to_the_phone_vlan_lldp_cdp_and_codecs(client, tenant_a):
    got = mac_file(client, tenant_a)

    # A phone may have its VLAN from LLDP, DHCP or its keypad: our "off" would cut it off.
    assert not [key for key in got if key.startswith(("static.network.", "local_time.ntp"))]
    assert not [key for key in got if ".codec." in key]
    tenant_a.organisation.vlan_enabled = True
    tenant_a.organisation.vlan_id = 30
    tenant_a.organisation.save()
    assert mac_file(client, tenant_a)["static.network.vlan.internet_port_vid"] == "30"
    tenant_a.organisation.vlan_enabled = False  # taken back: written as off
    tenant_a.organisation.save()
    assert mac_file(client, tenant_a)["static.network.vlan.internet_port_enable"] == "0"


def test_the_second_server_is_on_the_first_servers_port_unless_set(client, tenant_a):
    org = tenant_a.organisation
    org.sip_server_port, org.sip_transport = 5061, SipTransport.TLS
    org.sip_server_2_host = "sip2.alpha.example"
    org.save()

    got = mac_file(client, tenant_a)

    assert got["account.1.sip_server.2.port"] == "5061"
    assert got["account.1.sip_server.2.transport_type"] == "2"


def test_an_account_removed_in_the_admin_leaves_no_credentials_on_the_phone(client, tenant_a):
    tenant_a.accounts[1].delete()

    got = mac_file(client, tenant_a)

    assert got["account.2.enable"] == "0"
    for key in ("user_name", "auth_name", "password"):
        assert got[f"account.2.{key}"] == "%NULL%"
    assert got["account.1.password"] == "alpha-sip-101"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vlan_id", 4095, "less than or equal to 4094"),
        ("vlan_id", 0, "greater than or equal to 1"),
        ("vlan_priority", 8, "less than or equal to 7"),
        ("codecs", "pcma,g711", "Unknown codec g711; use names from: opus, g722, pcma"),
        ("codecs", "pcma,pcma", "Each codec once: pcma"),
        ("registration_expires", 10, "greater than or equal to 30"),
        ("outbound_proxy_port", 70000, "less than or equal to 65535"),
        ("time_zone_name", "Netherlands(Amsterdamm)", 'Did you mean "Netherlands(Amsterdam)"'),
    ],
)
def test_bad_settings_are_refused_with_a_message_saying_what_to_fix(
    tenant_a, field, value, message
):
    org = tenant_a.organisation
    setattr(org, field, value)

    with pytest.raises(ValidationError) as raised:
        org.full_clean()

    assert message in " ".join(raised.value.message_dict[field])


def test_a_vlan_switched_on_needs_its_id_and_a_proxy_its_address(tenant_a):
    device = tenant_a.device
    device.pc_vlan_enabled = True
    device.outbound_proxy = True

    with pytest.raises(ValidationError) as raised:
        device.full_clean()

    errors = raised.value.message_dict
    assert errors["outbound_proxy_host"] == ["An outbound proxy switched on needs its address."]
    device.outbound_proxy = None
    with pytest.raises(ValidationError) as raised:
        device.full_clean()
    assert raised.value.message_dict["pc_vlan_id"] == ["A VLAN switched on needs its id (1-4094)."]


def test_the_time_zone_name_sets_its_offset(client, tenant_a):
    org = tenant_a.organisation
    org.time_zone_name = "United Kingdom(London)"
    org.time_zone = "+5"
    org.full_clean()
    org.save()

    common = lines_of(client, tenant_a, "/y000000000096.cfg")

    assert "local_time.time_zone_name = United Kingdom(London)" in common
    assert "local_time.time_zone = 0" in common


def test_firmware_before_v81_gets_the_provisioning_keys_by_their_old_names(client, tenant_a):
    tenant_a.organisation.vlan_enabled = True
    tenant_a.organisation.vlan_id = 12
    tenant_a.organisation.save()

    old = mac_file(client, tenant_a, fw="96.80.0.70")
    new = mac_file(client, tenant_a, fw="96.86.0.100")
    old_common = lines_of(client, tenant_a, "/y000000000096.cfg", fw="96.80.0.70")
    new_common = lines_of(client, tenant_a, "/y000000000096.cfg", fw="96.86.0.100")

    assert old["security.user_password"].startswith("admin:")
    assert "static.security.user_password" not in old
    assert old["network.vlan.internet_port_vid"] == "12"
    assert new["static.network.vlan.internet_port_vid"] == "12"
    assert "static.network.vlan.internet_port_vid" not in old
    assert any(line.startswith("auto_provision.server.url = ") for line in old_common)
    assert not any(line.startswith("static.auto_provision.") for line in old_common)
    assert any(line.startswith("static.auto_provision.server.url = ") for line in new_common)
    assert (old["linekey.1.line"], new["linekey.1.line"]) == ("0", "1")  # counted from 0


def test_each_firmware_generation_is_rendered_and_kept_apart(client, tenant_a, settings):
    settings.CONFIG_CACHE = True

    old = mac_file(client, tenant_a, fw="96.80.0.70")
    new = mac_file(client, tenant_a, fw="96.86.0.100")
    old_again = mac_file(client, tenant_a, fw="96.80.0.70")

    assert "security.user_password" in old and "static.security.user_password" in new
    assert old_again == old and mac_file(client, tenant_a) == new


def test_the_mac_file_costs_the_same_queries_however_much_it_holds(
    client, tenant_a, django_assert_max_num_queries
):
    small = make_device(tenant_a.organisation, model="T54W")
    make_account(small, 1)
    big = make_device(
        tenant_a.organisation, model="T54W", expansion_module="EXP50", expansion_module_count=3
    )
    for index in range(1, 17):
        make_account(big, index)
    profile = SettingsProfile.objects.create(name="Secure", srtp=Srtp.COMPULSORY, vlan_id=5)
    tenant_a.organisation.profile = profile
    tenant_a.organisation.save()
    big.profile = profile
    big.save()
    from devices.models import KeyProfile, LineKey, ProfileKey

    shared = KeyProfile.objects.create(organisation=tenant_a.organisation, name="Big")
    for position in range(1, 28):
        ProfileKey.objects.create(profile=shared, position=position, type=16, value="100")
    big.key_profile = shared
    big.save()
    for module in (1, 2, 3):
        for position in range(1, 61):
            LineKey.objects.create(
                device=big, module=module, position=position, type=13, value="200"
            )

    counts = []
    for device in (small, big):
        # 13 reads: the device with its accounts, its organisation, the settings profiles,
        # the organisation's key profiles, the phone's own keys, the phonebooks and who may
        # read them (2), the media choices (2), softkeys, CA, firmware targets and rollouts
        # (the phones of their opened waves too, when one is under way); then the
        # phone's visit, its access-log row and the row's hour's count. Nothing here depends
        # on how many keys, accounts or profiles.
        with django_assert_max_num_queries(16) as counted:
            response = client.get(
                f"/{device.mac}.cfg",
                headers={"User-Agent": user_agent(device), "Authorization": own_basic(device)},
            )
        assert response.status_code == 200
        assert "expansion_module.3.key.60.value = 200" in response.content.decode() or (
            device is small
        )
        counts.append(len(counted.captured_queries))

    assert counts[0] == counts[1] == 16, counts


def _basic(tenant):
    from tests.conftest import basic

    return {"Authorization": basic(tenant.username, tenant.password)}


def test_a_raw_override_taken_out_is_cleared_on_the_phone_not_left_there(client, tenant_a):
    org, device = tenant_a.organisation, tenant_a.device
    org.raw_overrides = "features.dnd.enable = 1"
    org.save()
    device.raw_overrides = "phone_setting.backlight_time = 60\naccount.1.srtp_encryption = 1"
    device.save()
    assert mac_file(client, tenant_a)["features.dnd.enable"] == "1"

    org.raw_overrides = ""
    org.save()
    device.raw_overrides = ""
    device.save()
    got = mac_file(client, tenant_a)

    assert got["features.dnd.enable"] == "%NULL%"
    assert got["phone_setting.backlight_time"] == "%NULL%"
    # A key our layers write goes back to what they say, not to a blank.
    assert got["account.1.srtp_encryption"] == "0"
    common = lines_of(client, tenant_a, "/y000000000096.cfg")
    assert "features.dnd.enable = %NULL%" in common

    org.raw_overrides = "features.dnd.enable = 0"
    org.save()
    assert mac_file(client, tenant_a)["features.dnd.enable"] == "0"
    org.refresh_from_db()
    assert org.retired_override_keys == ""


def test_an_override_of_a_key_our_layers_write_goes_back_to_their_value(client, tenant_a):
    org, device = tenant_a.organisation, tenant_a.device
    org.raw_overrides = (
        "static.auto_provision.repeat.minutes = 5\nstatic.auto_provision.server.password = x"
    )
    org.save()
    device.raw_overrides = "lang.gui = German"
    device.save()
    org.raw_overrides = ""
    org.save()
    device.raw_overrides = ""
    device.save()

    got = mac_file(client, tenant_a)
    common = dict(
        line.split(" = ", 1) for line in lines_of(client, tenant_a, "/y000000000096.cfg")[1:]
    )

    for config in (got, common):
        assert config["static.auto_provision.repeat.minutes"] == "30"
    # The MAC file (applied last) gives the phone its own password back; the common file
    # carries none, so it only blanks what the override had set.
    assert got["static.auto_provision.server.password"] == device.provisioning_password
    assert common["static.auto_provision.server.password"] == "%NULL%"
    assert got["lang.gui"] == common["lang.gui"] == "English"


def test_a_kept_phone_holds_its_file_not_its_accounts_and_keys(client, tenant_a, settings):
    from devices.serving import cache
    from devices.serving.lookup import ACCOUNTS, LINE_KEYS

    settings.CONFIG_CACHE = True
    make_device(tenant_a.organisation)  # the organisation is read whole, keys and all
    new = mac_file(client, tenant_a)
    kept = cache.device(tenant_a.device.mac)

    assert kept is not None and not hasattr(kept, ACCOUNTS) and not hasattr(kept, LINE_KEYS)
    # Another generation's file reads them again, and has every account.
    old = mac_file(client, tenant_a, fw="96.80.0.70")
    assert old["account.2.password"] == new["account.2.password"] == "alpha-sip-102"
