"""Which keys hold secrets (one list of patterns, held against every secret key of the public
Yealink templates), which keys only the provider may set (in any case, by either firmware
generation's name), and password inputs that never carry the stored value into the page."""

import re

import pytest
from django.contrib.admin.models import LogEntry

from devices.models import SipAccount
from organisations.config_syntax import (
    KNOWN_KEYS_FILE,
    is_provider_only,
    is_secret_key,
    without_url_credentials,
)
from organisations.models import Organisation
from tests.admin_forms import browser_form, browser_form_with_inlines
from tests.factories import make_account
from tests.phonebooks.factories import make_staff

pytestmark = pytest.mark.django_db

# Every key of yealink-keys.tsv that holds a secret: read from the file by hand.
SECRET_KEYS = {
    "account.N.hoteling.password",
    "account.N.hoteling.pin",
    "account.N.password",
    "account.N.signal_encode_key",
    "account.N.xsi.password",
    "auto_provision.aes_key_16.com",
    "auto_provision.aes_key_16.mac",
    "auto_provision.server.password",
    "autoprovision.N.code",
    "autoprovision.N.com_aes",
    "autoprovision.N.mac_aes",
    "autoprovision.N.password",
    "autoprovision.X.code",
    "autoprovision.X.com_aes",
    "autoprovision.X.mac_aes",
    "autoprovision.X.password",
    "base.pin_code",
    "base.pin_code_for_register",
    "bw.virtual_user.N.xsi.password",
    "bw_call_log.data.N.password",
    "bw_phonebook.data.N.password",
    "custom.features.dsskey_unlock_password",
    "features.doorphone.N.httpapi.password",
    "features.doorphone.N.unlock_pin",
    "features.recording_upload.server.password",
    "features.uc_password",
    "features.xml_browser.pwd",
    "gb.sopi.password",
    "hoteling.password",
    "ldap.password",
    "managementserver.connection_request_password",
    "managementserver.password",
    "meta.comm_portal.server.password",
    "meta.comm_portal.server.token",
    "network.802_1x.md5_password",
    "network.pppoe.password",
    "phone_setting.phone_lock.unlock_pin",
    "push_xml.password",
    "remote_phonebook.data.N.password",
    "security.user_password",
    "sip.nat_turn.password",
    "static.auto_provision.aes_key.com",
    "static.auto_provision.aes_key.mac",
    "static.auto_provision.aes_key_16.com",
    "static.auto_provision.aes_key_16.mac",
    "static.auto_provision.server.password",
    "static.autoprovision.N.code",
    "static.autoprovision.N.com_aes",
    "static.autoprovision.N.mac_aes",
    "static.autoprovision.N.password",
    "static.diagnose.server.password",
    "static.managementserver.connection_request_password",
    "static.managementserver.password",
    "static.network.802_1x.md5_password",
    "static.network.l2tp_server.password",
    "static.redirect.password",
    "static.security.user_password",
    "static.sip.nat_turn.password",
    "static.wifi.N.eap_password",
    "static.wifi.N.password",
    "static.wifiap.password",
    "xml_phonebook.data.x.password",
    "xsi.password",
}
# Masked though they hold no secret (a switch or an input method named after a password):
# harmless, and kept apart here so that the list above stays exactly the secrets.
MASKED_THOUGH_NOT_SECRET = {
    "default_input_method.xsi_password",
    "features.export_cfg_erase_pwd",
    "static.auto_provision.aes_key_in_file",
}
# The words a secret's key could be named with, and their neighbours (user names, access
# codes, line keys, certificates): every key of the file with one of them is held below, so
# a key added to the file is either recognised as a secret or must not be.
NEAR_SECRET = re.compile(
    r"^(pass\w*|passwd|pwd|secret|token|credentials?|pin|aes|psk|key|code|pri|private|user\w*|"
    r"cert)$"
)


def template_keys() -> list[str]:
    lines = KNOWN_KEYS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[0] for line in lines if line and not line.startswith("#")]


def near_secret_keys() -> list[str]:
    return [
        key
        for key in template_keys()
        if any(NEAR_SECRET.match(word) for word in re.split(r"[._\d]+", key.lower()))
    ]


def concrete(key: str) -> str:
    """A key as a phone gets it: the file writes each index as N, X or x."""
    return re.sub(r"(?<![^.])[NXx](?![^.])", "1", key)


def test_every_secret_key_of_the_public_templates_is_recognised_in_any_case():
    assert set(template_keys()) >= SECRET_KEYS  # the list above is read from the file

    missed = [key for key in sorted(SECRET_KEYS) if not is_secret_key(concrete(key))]
    missed += [key for key in sorted(SECRET_KEYS) if not is_secret_key(concrete(key).upper())]

    assert missed == []


def test_no_other_key_near_a_secret_is_taken_for_one():
    others = set(near_secret_keys()) - SECRET_KEYS - MASKED_THOUGH_NOT_SECRET

    taken = sorted(key for key in others if is_secret_key(concrete(key)))

    assert len(others) > 200  # access codes, line keys, user names, certificates, switches
    assert taken == []
    assert all(is_secret_key(concrete(key)) for key in MASKED_THOUGH_NOT_SECRET)


@pytest.mark.parametrize(
    "key",
    [
        "static.network.802_1x.password",
        "openvpn.password",
        "features.some_vendor.api_key",
        "xyz.client_secret",
        "xyz.access_token",
        "xyz.passwd",
        "xyz.credentials",
    ],
)
def test_the_keys_the_issue_names_and_the_patterns_words_are_secret(key):
    assert is_secret_key(key) and is_secret_key(key.upper())


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://fw:FwPass@fw.example/t54.rom", "http://********@fw.example/t54.rom"),
        ("HTTPS://only-user@fw.example/", "HTTPS://********@fw.example/"),
        ("ftp://a:b@h/x tftp://c:d@h/y", "ftp://********@h/x tftp://********@h/y"),
        (
            "https://pb.example/book.xml?token=abc&lang=nl&Password=p",
            "https://pb.example/book.xml?token=********&lang=nl&Password=********",
        ),
        ("https://pb.example/a@b.xml", "https://pb.example/a@b.xml"),  # no credentials
        ("http://fw.example/t54.rom", "http://fw.example/t54.rom"),
    ],
)
def test_credentials_inside_urls_are_masked_wherever_they_are(value, shown):
    assert without_url_credentials(value) == shown


@pytest.mark.parametrize(
    "key",
    [
        "Static.Auto_Provision.Server.URL",
        "STATIC.SECURITY.USER_PASSWORD",
        "auto_provision.server.url",
        "Auto_Provision.Server.Password",
        "security.user_password",
        "firmware.url",
        "FIRMWARE.URL",
        "trusted_certificates.url",
        "static.trusted_certificates.url",
    ],
)
def test_provider_only_keys_are_recognised_in_any_case_and_by_either_generations_name(key):
    assert is_provider_only(key)


@pytest.mark.parametrize(
    "line",
    [
        "Static.Auto_Provision.Server.URL = http://evil.example/",
        "STATIC.SECURITY.USER_PASSWORD = admin:Evil12345",
        "auto_provision.server.url = http://evil.example/",
        "security.user_password = admin:Evil12345",
        "firmware.url = http://evil.example/fw.rom",
        "Trusted_Certificates.URL = http://evil.example/ca.pem",
    ],
)
def test_staff_saving_a_provider_only_key_in_any_spelling_are_refused(client, tenant_a, line):
    client.force_login(make_staff(tenant_a.organisation))
    url = f"/admin/devices/device/{tenant_a.device.pk}/change/"
    data = browser_form(client, url) | {"raw_overrides": f"lang.gui = Dutch\n{line}"}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Only your provider may set these keys" in response.content.decode()
    tenant_a.device.refresh_from_db()
    assert tenant_a.device.raw_overrides == ""


# --- password inputs -----------------------------------------------------------------------


def test_the_organisations_provisioning_password_is_never_written_into_its_page(
    admin_client, tenant_a
):
    org = tenant_a.organisation
    url = f"/admin/organisations/organisation/{org.pk}/change/"

    page = admin_client.get(url).content.decode()

    assert 'type="password" name="provisioning_password"' in page
    assert org.provisioning_password not in page


def test_left_empty_the_provisioning_password_is_kept_and_not_rotated(admin_client, tenant_a):
    org = tenant_a.organisation
    url = f"/admin/organisations/organisation/{org.pk}/change/"
    data = browser_form(admin_client, url) | {"provisioning_password": "", "name": "Renamed"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    org.refresh_from_db()
    assert (org.name, org.provisioning_password) == ("Renamed", tenant_a.password)
    assert org.previous_password() is None  # nothing changed, so no grace period began


def test_a_typed_provisioning_password_replaces_it(admin_client, tenant_a):
    org, old = tenant_a.organisation, tenant_a.password
    url = f"/admin/organisations/organisation/{org.pk}/change/"
    data = browser_form(admin_client, url) | {"provisioning_password": "brand-new-pw-2026"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    org.refresh_from_db()
    assert org.provisioning_password == "brand-new-pw-2026"
    assert org.previous_password() == old  # good for its grace period


def test_a_new_organisation_needs_its_provisioning_password(admin_client):
    from tests.organisations.test_admin import organisation_form

    response = admin_client.post(
        "/admin/organisations/organisation/add/",
        organisation_form(admin_client, provisioning_password=""),
    )

    assert response.status_code == 200
    assert "provisioning_password" in response.context["adminform"].form.errors
    assert not Organisation.objects.filter(slug="hotel").exists()


def test_provider_staff_reveal_the_provisioning_password_and_it_is_recorded(admin_client, tenant_a):
    org = tenant_a.organisation

    page = admin_client.get(f"/admin/organisations/organisation/{org.pk}/web-passwords/")

    assert tenant_a.password in page.content.decode()
    assert LogEntry.objects.get(object_id=str(org.pk)).get_change_message() == (
        "Revealed the phones' web passwords and the provisioning password."
    )


@pytest.mark.parametrize("who", ["provider", "staff"])
def test_sip_passwords_are_never_written_into_the_phones_page_and_kept_when_left_empty(
    client, admin_client, tenant_a, who
):
    browser = admin_client
    if who == "staff":
        client.force_login(make_staff(tenant_a.organisation))
        browser = client
    url = f"/admin/devices/device/{tenant_a.device.pk}/change/"

    page = browser.get(url).content.decode()
    data = browser_form_with_inlines(browser, url) | {"sip_accounts-1-password": "typed-new-sip"}
    response = browser.post(url, data)

    assert "alpha-sip-101" not in page and "alpha-sip-102" not in page
    assert data["sip_accounts-0-password"] == ""  # what a browser posts back
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert SipAccount.objects.get(pk=tenant_a.accounts[0].pk).password == "alpha-sip-101"
    assert SipAccount.objects.get(pk=tenant_a.accounts[1].pk).password == "typed-new-sip"


def test_a_new_sip_account_needs_its_password(admin_client, tenant_a):
    url = f"/admin/devices/device/{tenant_a.device.pk}/change/"
    data = browser_form_with_inlines(admin_client, url) | {
        "sip_accounts-TOTAL_FORMS": "3",
        "sip_accounts-2-device": str(tenant_a.device.pk),
        "sip_accounts-2-index": "3",
        "sip_accounts-2-is_enabled": "on",
        "sip_accounts-2-user_name": "a103",
        "sip_accounts-2-password": "",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert errors[2] == {"password": ["This field is required."]}
    assert not SipAccount.objects.filter(user_name="a103").exists()


def test_the_sip_account_page_keeps_the_password_too(admin_client, tenant_a):
    account = make_account(tenant_a.device, 3, user_name="a103", password="alpha-sip-103")
    url = f"/admin/devices/sipaccount/{account.pk}/change/"

    page = admin_client.get(url).content.decode()
    response = admin_client.post(url, browser_form(admin_client, url) | {"label": "Desk 3"})

    assert "alpha-sip-103" not in page
    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert (account.label, account.password) == ("Desk 3", "alpha-sip-103")
