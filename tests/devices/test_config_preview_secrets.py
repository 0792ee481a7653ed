"""Organisation staff never see a value their provider set that is a secret or the provider's
own: not in the config preview (revealed or not, in the files, the layers or the diff), not
on the phone's page. Provider staff see secrets masked until they reveal them."""

import pytest
from django.test import Client

from devices.models import Device
from tests.admin_forms import browser_form_with_inlines as browser_form
from tests.factories import user_agent
from tests.phonebooks.factories import make_staff

pytestmark = pytest.mark.django_db

# What a provider sets for an organisation: secrets, a firmware URL with its credentials, and
# settings that are not secret but are the provider's (the organisation page hides them all).
PROVIDER_OVERRIDES = (
    "static.network.802_1x.password = Dot1xSecret\n"
    "openvpn.password = VpnSecret\n"
    "static.firmware.url = http://fw:FwPass@fw.example/t54.rom\n"
    "account.1.password = ProviderSip\n"
    "features.remote_phonebook.flash_time = 7171\n"
)
PROVIDER_VALUES = ("Dot1xSecret", "VpnSecret", "FwPass", "ProviderSip", "7171")
# The provider's lines of a phone's own overrides: a provider-only key in another case.
PROVIDER_PHONE_OVERRIDES = (
    "Static.Firmware.URL = http://fw.example/beta-4242.rom\n"
    "STATIC.TRUSTED_CERTIFICATES.URL = http://pki.example/ca-4343.pem"
)


@pytest.fixture
def provider_setup(tenant_a) -> Device:
    org = tenant_a.organisation
    org.raw_overrides = PROVIDER_OVERRIDES
    org.save()
    device = tenant_a.device
    device.raw_overrides = f"{PROVIDER_PHONE_OVERRIDES}\nlang.gui = Dutch"
    device.save()
    return device


@pytest.fixture
def staff(client, tenant_a) -> Client:
    client.force_login(make_staff(tenant_a.organisation))
    return client


def preview(browser: Client, device: Device, reveal: bool = False):
    params = {"reveal": "1"} if reveal else {}
    response = browser.get(f"/admin/devices/device/{device.pk}/config/", params)
    assert response.status_code == 200
    return response


def seen(response) -> str:
    """Everything of the preview a browser gets: the page, and each line beside its layer."""
    context = response.context
    layers = [f"{line} | {layer}" for line, layer in context["mac_lines"] + context["common_lines"]]
    return "\n".join([response.content.decode(), *layers, context["diff"] or ""])


@pytest.mark.parametrize("reveal", [False, True], ids=["masked", "revealed"])
def test_staff_see_none_of_the_providers_values_in_the_preview(
    staff, provider_setup, tenant_a, reveal
):
    page = seen(preview(staff, provider_setup, reveal=reveal))

    leaked = [value for value in (*PROVIDER_VALUES, "4242", "4343") if value in page]

    assert leaked == []
    assert "static.firmware.url = ********" in page  # they see that it is set, not to what
    assert "lang.gui = Dutch" in page  # a line of their own


def test_staff_who_reveal_see_their_own_sip_passwords_and_still_no_provider_secret(
    staff, provider_setup, tenant_a
):
    tenant_a.organisation.raw_overrides = "openvpn.password = VpnSecret\naccount.2.password = Prov2"
    tenant_a.organisation.save()

    page = seen(preview(staff, provider_setup, reveal=True))

    assert "account.1.password = alpha-sip-101" in page  # theirs, from the account
    assert "account.2.password = ********" in page  # the provider's, over theirs
    assert "VpnSecret" not in page and "Prov2" not in page
    assert "static.auto_provision.server.password = ********" in page  # the phone's own


def test_the_diff_shows_staff_none_of_what_the_phone_got_from_the_provider(
    client, staff, provider_setup, tenant_a
):
    phone = Client()
    phone.get(f"/{provider_setup.mac}.cfg", headers=tenant_a.phone_headers())
    served = Device.objects.get(pk=provider_setup.pk).last_config
    assert "Dot1xSecret" in served and "VpnSecret" in served  # the phone got them
    tenant_a.organisation.raw_overrides = "lang.wui = Dutch"  # the provider took them out
    tenant_a.organisation.save()

    response = preview(staff, provider_setup)

    diff = response.context["diff"]
    assert "-openvpn.password = ********" in diff  # what changed, not what it was
    assert [value for value in PROVIDER_VALUES if value in seen(response)] == []


def test_provider_staff_see_url_credentials_masked_until_they_reveal(admin_client, provider_setup):
    masked = seen(preview(admin_client, provider_setup))
    revealed = seen(preview(admin_client, provider_setup, reveal=True))

    assert "FwPass" not in masked and "Dot1xSecret" not in masked
    assert "static.firmware.url = http://********@fw.example/t54.rom" in masked
    assert "features.remote_phonebook.flash_time = 7171" in masked  # theirs, not secret
    assert all(value in revealed for value in PROVIDER_VALUES)


def test_the_preview_of_an_older_phone_hides_the_same_from_staff(
    client, staff, provider_setup, tenant_a
):
    Device.objects.filter(pk=provider_setup.pk).update(
        last_user_agent=user_agent(provider_setup, "T46G", "28.80.0.95")
    )

    page = seen(preview(staff, provider_setup, reveal=True))

    assert "firmware.url = ********" in page and "static.firmware.url" not in page
    assert [value for value in (*PROVIDER_VALUES, "4242") if value in page] == []


# --- the phone's page ----------------------------------------------------------------------

SECRET_LINE = "static.network.802_1x.md5_password = Dot1xSecret"


def test_staff_see_a_secret_override_of_their_phone_masked_and_saving_keeps_it(staff, tenant_a):
    device = tenant_a.device
    device.raw_overrides = f"lang.gui = Dutch\n{SECRET_LINE}"
    device.save()
    url = f"/admin/devices/device/{device.pk}/change/"

    page = staff.get(url).content.decode()
    data = browser_form(staff, url) | {"label": "Front desk"}
    response = staff.post(url, data)

    assert "Dot1xSecret" not in page
    assert data["raw_overrides"] == (
        "lang.gui = Dutch\nstatic.network.802_1x.md5_password = ********"
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    device.refresh_from_db()
    assert (device.label, device.raw_overrides) == (
        "Front desk",
        f"lang.gui = Dutch\n{SECRET_LINE}",
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("lang.gui = Dutch\nstatic.network.802_1x.md5_password = NewSecret", "NewSecret"),
        ("lang.gui = Dutch", None),  # the line taken out
    ],
    ids=["replaced", "removed"],
)
def test_staff_replace_or_remove_a_secret_override_they_cannot_see(staff, tenant_a, typed, stored):
    device = tenant_a.device
    device.raw_overrides = f"lang.gui = Dutch\n{SECRET_LINE}\n{PROVIDER_PHONE_OVERRIDES}"
    device.save()
    url = f"/admin/devices/device/{device.pk}/change/"

    response = staff.post(url, browser_form(staff, url) | {"raw_overrides": typed})

    assert response.status_code == 302, response.context["adminform"].form.errors
    device.refresh_from_db()
    lines = device.raw_overrides.splitlines()
    secret = [line for line in lines if "md5_password" in line]
    assert secret == ([] if stored is None else [f"static.network.802_1x.md5_password = {stored}"])
    assert PROVIDER_PHONE_OVERRIDES.splitlines() == lines[-2:]  # the provider's lines kept


def test_staff_cannot_move_a_masked_value_to_another_key(staff, tenant_a):
    device = tenant_a.device
    device.raw_overrides = SECRET_LINE
    device.save()
    url = f"/admin/devices/device/{device.pk}/change/"
    typed = "remote_phonebook.data.1.url = http://mine.example/?x=********"

    response = staff.post(url, browser_form(staff, url) | {"raw_overrides": typed})

    assert response.status_code == 200
    assert "stands for a value kept hidden" in response.content.decode()
    device.refresh_from_db()
    assert device.raw_overrides == SECRET_LINE


def test_a_line_the_phone_still_gets_is_no_change_in_the_diff(client, staff, tenant_a):
    org = tenant_a.organisation
    org.raw_overrides = "lang.gui = Dutch"
    org.save()
    phone = Client()
    phone.get(f"/{tenant_a.device.mac}.cfg", headers=tenant_a.phone_headers())
    org.raw_overrides = ""  # taken out: the MAC file gives the organisation's language back
    org.save()
    phone.get(f"/{tenant_a.device.mac}.cfg", headers=tenant_a.phone_headers())

    response = preview(staff, tenant_a.device)

    assert "lang.gui = English" in response.context["mac_file"]
    assert response.context["diff"] == ""  # the phone has exactly this file
