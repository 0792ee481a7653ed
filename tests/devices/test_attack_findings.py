"""What an attack on the running server found, each kept as a test through the interface it
used: the admin's forms and CSV import, and the phone's files."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from devices.models import Device, Handset, KeyProfile
from organisations.config_syntax import provider_only_keys, validate_overrides
from organisations.models import Organisation, SettingsProfile
from tests.devices.test_phone_settings import mac_file
from tests.factories import make_account, make_device

pytestmark = pytest.mark.django_db


def import_csv(client, text: str):
    upload = SimpleUploadedFile("phones.csv", text.encode())
    return client.post("/admin/devices/device/import/", {"file": upload})


@pytest.mark.parametrize(
    "row",
    [
        "alpha,805ec0123456,T54W,²,3001,pw",  # line
        "alpha,805ec0123456,T54W,1,3001,pw\nalpha,805ec0123457,T54W,١,3002,pw",
    ],
)
def test_digits_of_other_scripts_in_the_csv_are_a_row_error_not_a_500(admin_client, tenant_a, row):
    response = import_csv(admin_client, "organisation,mac,model,line,user name,password\n" + row)

    assert response.status_code == 200
    assert "line must be a number" in response.content.decode()
    assert not Device.objects.filter(mac="805ec0123456").exists()


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_csv_file_is_refused_with_a_message(admin_client, tenant_a, text):
    response = import_csv(admin_client, text)

    assert response.status_code == 200
    assert response.context["file_error"]


def test_a_handsets_lines_in_other_scripts_digits_are_refused(tenant_a):
    base = make_device(tenant_a.organisation, model="W60B")
    handset = Handset(device=base, index=1, incoming_lines="¹", outgoing_lines="1", default_line=1)

    with pytest.raises(ValidationError) as raised:
        handset.full_clean()

    assert "Line numbers separated by commas" in str(raised.value)


def test_a_handset_taken_away_is_blanked_on_its_base(client, tenant_a):
    base = make_device(tenant_a.organisation, model="W60B")
    make_account(base, 1)
    for index in (1, 2):
        Handset.objects.create(
            device=base,
            index=index,
            name=f"H{index}",
            incoming_lines="1",
            outgoing_lines="1",
            default_line=1,
        )
    Handset.objects.get(device=base, index=2).delete()

    got = mac_file(client, tenant_a, device=base, fw="77.85.0.20")

    assert got["handset.1.name"] == "H1"
    for key in ("name", "incoming_lines", "dial_out_lines"):
        assert got[f"handset.2.{key}"] == "%NULL%"
    assert "handset.3.name" not in got


@pytest.mark.parametrize(
    "line", ["autoprovision.1.url = http://evil.example/", "static.autoprovision.1.password = x"]
)
def test_activation_code_provisioning_keys_are_the_providers(line):
    assert provider_only_keys(line) == [line.split(" = ")[0]]


def test_a_factory_password_with_a_space_is_still_refused():
    with pytest.raises(ValidationError):
        validate_overrides("static.security.user_password = admin: admin")


def test_staff_revealing_see_their_sip_passwords_but_no_other_secret(client):
    call_command("loaddemo", stdout=StringIO())
    demo = Organisation.objects.get(slug="demo")
    demo.raw_overrides = "autoprovision.1.password = Sneaky7777\nautoprovision.1.code = 1234"
    demo.save()
    phone = Device.objects.get(mac="805ec0000001")
    client.force_login(get_user_model().objects.get(username="demo-admin"))

    page = client.get(f"/admin/devices/device/{phone.pk}/config/?reveal=1").content.decode()

    assert "demo-sip-1001" in page  # their own SIP password, revealed
    assert "Sneaky7777" not in page and "= 1234" not in page
    assert "autoprovision.1.password = ********" in page


def test_masking_takes_activation_codes_and_leaves_codecs():
    from devices.config import mask_secrets

    text = "account.1.codec.g722.enable = 1\nautoprovision.1.code = 1234\nx.com_aes = k\n"

    assert mask_secrets(text) == (
        "account.1.codec.g722.enable = 1\nautoprovision.1.code = ********\nx.com_aes = ********\n"
    )


def test_a_key_profile_used_by_phones_cannot_move_to_another_organisation(tenant_a, tenant_b):
    profile = KeyProfile.objects.create(organisation=tenant_a.organisation, name="Desk")
    tenant_a.device.key_profile = profile
    tenant_a.device.save()
    profile.organisation = tenant_b.organisation

    with pytest.raises(ValidationError) as raised:
        profile.full_clean()

    assert raised.value.message_dict["organisation"] == [
        "1 phone of another organisation uses this key profile: give it another one first."
    ]


def test_a_vlan_a_profile_gave_goes_off_when_the_profile_is_taken_away(client, tenant_a):
    org = tenant_a.organisation
    profile = SettingsProfile.objects.create(name="Voice VLAN", vlan_enabled=True, vlan_id=20)
    org.profile = profile
    org.save()
    assert mac_file(client, tenant_a)["static.network.vlan.internet_port_vid"] == "20"

    org.profile = None
    org.save()
    got = mac_file(client, tenant_a)

    assert got["static.network.vlan.internet_port_enable"] == "0"
    assert "static.network.vlan.internet_port_vid" not in got
    assert "static.network.lldp.enable" not in got  # never chosen: still the phone's own


def test_a_vlan_a_profile_chooses_later_is_managed_on_its_organisations_too(client, tenant_a):
    org = tenant_a.organisation
    profile = SettingsProfile.objects.create(name="Later")
    org.profile = profile
    org.save()
    profile.lldp_enabled = False
    profile.save()
    profile.lldp_enabled = None
    profile.save()

    assert mac_file(client, tenant_a)["static.network.lldp.enable"] == "1"  # back to on


@pytest.mark.parametrize("offset", ["+99", "-13", "+5:10"])
def test_an_offset_no_clock_has_is_refused(tenant_a, offset):
    org = tenant_a.organisation
    org.time_zone_name, org.time_zone = "", offset

    with pytest.raises(ValidationError) as raised:
        org.full_clean()

    assert "offsets run from -12 to +14" in " ".join(raised.value.message_dict["time_zone"])
