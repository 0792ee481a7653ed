"""The Django admin for phones, SIP accounts and the access log."""

import pytest

from devices.models import AccessLog, Device, SipAccount
from tests.admin_forms import browser_form

pytestmark = pytest.mark.django_db


def device_form(client, organisation, mac, **extra):
    data = browser_form(client, "/admin/devices/device/add/")
    data |= {
        "organisation": organisation.pk,
        "mac": mac,
        "model": "T54W",
        "label": "Meeting room",
        "is_active": "on",
        "raw_overrides": "",
        "sip_accounts-TOTAL_FORMS": "1",
        "sip_accounts-INITIAL_FORMS": "0",
        "sip_accounts-MIN_NUM_FORMS": "0",
        "sip_accounts-MAX_NUM_FORMS": "1000",
        "sip_accounts-0-index": "1",
        "sip_accounts-0-is_enabled": "on",
        "sip_accounts-0-user_name": "3001",
        "sip_accounts-0-password": "new-sip-secret",
        "sip_accounts-0-label": "",
        "sip_accounts-0-display_name": "Meeting room",
        "sip_accounts-0-auth_name": "",
        "sip_accounts-0-server_host": "",
        "sip_accounts-0-server_port": "",
        "sip_accounts-0-server_transport": "",
    }
    data.update(extra)
    return data


def test_an_admin_adds_a_phone_with_a_mac_in_any_notation(admin_client, tenant_a):
    response = admin_client.post(
        "/admin/devices/device/add/",
        device_form(admin_client, tenant_a.organisation, "80-5E-C0-12-34-56"),
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    device = Device.objects.get(mac="805ec0123456")
    assert device.sip_accounts.get().user_name == "3001"


def test_a_malformed_mac_is_refused_with_a_message_saying_why(admin_client, tenant_a):
    response = admin_client.post(
        "/admin/devices/device/add/",
        device_form(admin_client, tenant_a.organisation, "80:5e:c0:12:34"),
    )

    assert response.status_code == 200
    assert "A MAC has 12 hexadecimal digits, this has 10" in response.content.decode()
    assert not Device.objects.filter(label="Meeting room").exists()


def test_a_line_the_model_does_not_have_is_refused_in_the_inline(admin_client, tenant_a):
    data = device_form(admin_client, tenant_a.organisation, "805ec0123456", model="T31G")
    data["sip_accounts-0-index"] = "5"

    response = admin_client.post("/admin/devices/device/add/", data)

    assert "A T31G has 2 lines; line 5 is out." in response.content.decode()
    assert not Device.objects.filter(mac="805ec0123456").exists()


def test_bad_overrides_are_refused_with_the_line_number(admin_client, tenant_a):
    data = device_form(
        admin_client, tenant_a.organisation, "805ec0123456", raw_overrides="lang.gui = Dutch\noops"
    )

    response = admin_client.post("/admin/devices/device/add/", data)

    assert "Line 2: &#x27;oops&#x27; is not of the form &#x27;key = value&#x27;." in (
        response.content.decode()
    )


def test_an_unknown_override_key_is_saved_with_a_warning(admin_client, tenant_a):
    data = device_form(
        admin_client, tenant_a.organisation, "805ec0123456", raw_overrides="lang.guii = Dutch"
    )

    response = admin_client.post("/admin/devices/device/add/", data, follow=True)

    assert "check them for typos" in response.content.decode()
    assert Device.objects.get(mac="805ec0123456").raw_overrides == "lang.guii = Dutch"


@pytest.mark.parametrize(
    "term", ["80:5E:C0:AA:AA:01", "805e.c0aa.aa01", "80-5e-c0-aa", "Alpha desk"]
)
def test_the_device_list_finds_a_mac_in_any_notation(admin_client, tenant_a, tenant_b, term):
    response = admin_client.get("/admin/devices/device/", {"q": term})

    assert list(response.context["cl"].result_list) == [tenant_a.device]


def test_list_pages_never_show_passwords(admin_client, tenant_a):
    pages = [
        "/admin/organisations/organisation/",
        "/admin/devices/device/",
        "/admin/devices/sipaccount/",
        "/admin/devices/accesslog/",
    ]
    AccessLog.objects.create(path="/x.cfg", outcome="success", status_code=200)

    for page in pages:
        body = admin_client.get(page).content.decode()
        assert tenant_a.password not in body, page
        assert "alpha-sip-101" not in body, page


def test_the_sip_account_list_finds_accounts_by_their_phones_mac(admin_client, tenant_a, tenant_b):
    response = admin_client.get("/admin/devices/sipaccount/", {"q": "00:15:65:bb:bb:01"})

    assert list(response.context["cl"].result_list) == list(
        SipAccount.objects.filter(device=tenant_b.device)
    )


def test_the_access_log_is_read_only(admin_client, tenant_a):
    row = AccessLog.objects.create(path="/x.cfg", outcome="success", status_code=200)

    assert admin_client.get("/admin/devices/accesslog/add/").status_code == 403
    assert admin_client.post(f"/admin/devices/accesslog/{row.pk}/delete/").status_code == 403
    change = admin_client.post(f"/admin/devices/accesslog/{row.pk}/change/", {"path": "/y"})
    assert change.status_code == 403
    assert AccessLog.objects.get(pk=row.pk).path == "/x.cfg"


@pytest.mark.parametrize(
    ("term", "expected"),
    [("80:5e:c0:aa:aa:01", ["a"]), ("805ec0aa", ["a"]), ("10.0.0.7", ["b"]), ("nonsense", [])],
)
def test_the_access_log_is_searched_by_mac_or_ip(admin_client, term, expected):
    AccessLog.objects.create(
        path="/a", mac="805ec0aaaa01", ip="10.0.0.1", outcome="success", status_code=200
    )
    AccessLog.objects.create(
        path="/b", mac="001565bbbb01", ip="10.0.0.7", outcome="success", status_code=200
    )

    response = admin_client.get("/admin/devices/accesslog/", {"q": term})

    assert [row.path.strip("/") for row in response.context["cl"].result_list] == expected
