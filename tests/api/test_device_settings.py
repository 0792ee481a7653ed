"""A phone's own settings, its accounts' SIP settings and its DECT handsets through the
`devices` resource: the admin's fields and messages, what reaches the phone, what it costs."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.models import Device, Handset
from organisations.phone_settings import PHONE_SETTINGS, SIP_SETTINGS
from tests.api.conftest import pointers, problem
from tests.factories import make_account, make_device, own_basic, user_agent

DEVICES = "/api/v1/devices"
A_MAC = "805ec0aaaa01"
PHONE = f"{DEVICES}/{A_MAC}"
DECT_MAC = "805ec0aaaa0d"
HANDSETS = [
    {
        "index": 1,
        "name": "Kitchen",
        "incoming_lines": "1,2",
        "outgoing_lines": "1,2",
        "default_line": 2,
    },
    {"index": 2, "name": "Yard", "incoming_lines": "1", "outgoing_lines": "1", "default_line": 1},
]


def mac_file(device: Device, model: str = "T54W") -> dict[str, str]:
    """The phone's next MAC file, fetched as it fetches it, by key."""
    device.refresh_from_db()
    headers = {"User-Agent": user_agent(device, model=model), "Authorization": own_basic(device)}
    response = Client().get(f"/{device.mac}.cfg", headers=headers)
    assert response.status_code == 200, response.content
    lines = response.content.decode().splitlines()
    return dict(line.split(" = ", 1) for line in lines if " = " in line)


def dect_base(api, **extra) -> dict:
    body = {
        "mac": DECT_MAC,
        "model": "W60B",
        "sip_accounts": [
            {"line": 1, "user_name": "d101", "password": "dect-secret-1"},
            {"line": 2, "user_name": "d102", "password": "dect-secret-2"},
        ],
        "handsets": HANDSETS,
        **extra,
    }
    response = api.post(DEVICES, body)
    assert response.status_code == 201, response.content
    return response.json()


# --- the phone's own settings ------------------------------------------------------------


def test_a_phone_has_the_organisations_settings_object(api_a, provider_api, tenant_a):
    phone = api_a.get(PHONE).json()
    organisation = provider_api.get("/api/v1/organisations/alpha").json()

    assert set(phone["settings"]) == set(organisation["settings"]) == set(PHONE_SETTINGS)
    assert phone["settings"]["vlan_enabled"] is None  # as the layer above says


def test_staff_set_a_phones_settings_as_the_admin_lets_them(api_a, tenant_a):
    # DeviceAdmin keeps only the profile and web passwords from staff, not the settings.
    body = {"settings": {"vlan_enabled": True, "vlan_id": 20, "srtp": "compulsory"}}

    response = api_a.patch(PHONE, body)

    assert response.status_code == 200, response.content
    shown = response.json()["settings"]
    assert (shown["vlan_enabled"], shown["vlan_id"], shown["srtp"]) == (True, 20, "compulsory")
    device = Device.objects.get(mac=A_MAC)
    assert (device.vlan_enabled, device.vlan_id, device.srtp) == (True, 20, 2)
    entry = LogEntry.objects.filter(object_id=str(device.pk)).latest("action_time")
    assert entry.change_message.startswith("Changed srtp, vlan_enabled, vlan_id through the API")


def test_a_device_setting_reaches_the_phones_next_mac_file(api_a, tenant_a):
    assert mac_file(tenant_a.device)["account.1.sip_server.1.expires"] == "3600"

    body = {"settings": {"registration_expires": 600, "vlan_enabled": True, "vlan_id": 40}}
    assert api_a.patch(PHONE, body).status_code == 200

    got = mac_file(tenant_a.device)
    assert got["account.1.sip_server.1.expires"] == "600"
    assert got["static.network.vlan.internet_port_enable"] == "1"
    assert got["static.network.vlan.internet_port_vid"] == "40"


def test_the_models_checks_of_settings_point_into_settings(api_a, tenant_a):
    vlan = api_a.patch(PHONE, {"settings": {"vlan_enabled": True}})
    assert pointers(vlan) == {"/settings/vlan_id": "invalid"}
    assert "A VLAN switched on needs its id" in problem(vlan)["errors"][0]["message"]

    bad = {"settings": {"vlan_id": 5000, "codecs": "g722,nope", "failover": "sometimes"}}
    assert set(pointers(api_a.patch(PHONE, bad))) == {
        "/settings/vlan_id",
        "/settings/codecs",
        "/settings/failover",
    }
    assert Device.objects.get(mac=A_MAC).vlan_id is None


def test_null_takes_a_setting_back_to_the_layer_above(api_a, tenant_a):
    Device.objects.filter(mac=A_MAC).update(registration_expires=600)

    response = api_a.patch(PHONE, {"settings": {"registration_expires": None}})

    assert response.status_code == 200, response.content
    assert Device.objects.get(mac=A_MAC).registration_expires is None
    assert mac_file(tenant_a.device)["account.1.sip_server.1.expires"] == "3600"


def test_a_read_only_token_sees_the_settings_and_changes_none(read_only_api_a, tenant_a):
    assert "settings" in read_only_api_a.get(PHONE).json()

    refused = read_only_api_a.patch(PHONE, {"settings": {"registration_expires": 600}})

    assert problem(refused)["status"] == 403
    assert Device.objects.get(mac=A_MAC).registration_expires is None


def test_another_organisations_phones_settings_are_a_404(api_b, tenant_a):
    assert problem(api_b.patch(PHONE, {"settings": {"vlan_id": 9}}))["status"] == 404
    assert Device.objects.get(mac=A_MAC).vlan_id is None


def test_the_bulk_request_takes_settings_too(api_a, tenant_a):
    body = {"devices": [{"mac": A_MAC, "settings": {"registration_expires": 900}}]}

    response = api_a.post(f"{DEVICES}/bulk", body)

    assert response.status_code == 200, response.content
    assert Device.objects.get(mac=A_MAC).registration_expires == 900


# --- each account's SIP settings -------------------------------------------------------------


def test_each_account_has_its_own_sip_settings(api_a, tenant_a):
    accounts = api_a.get(PHONE).json()["sip_accounts"]

    assert [set(account["settings"]) for account in accounts] == [set(SIP_SETTINGS)] * 2
    assert "vlan_id" not in accounts[0]["settings"]  # a line has no network of its own


def test_an_account_setting_reaches_the_phones_next_mac_file(api_a, tenant_a):
    body = {
        "sip_accounts": [
            {"line": 1, "settings": {"registration_expires": 120, "dtmf_type": "sip_info"}},
            {"line": 2},
        ]
    }

    response = api_a.patch(PHONE, body)

    assert response.status_code == 200, response.content
    first, second = response.json()["sip_accounts"]
    assert first["settings"]["registration_expires"] == 120
    assert first["settings"]["dtmf_type"] == "sip_info"
    assert second["settings"]["registration_expires"] is None
    got = mac_file(tenant_a.device)
    assert got["account.1.sip_server.1.expires"] == "120"
    assert got["account.1.dtmf.type"] == "2"
    assert got["account.2.sip_server.1.expires"] == "3600"
    assert tenant_a.device.sip_accounts.get(index=1).password == "alpha-sip-101"  # kept


def test_an_accounts_settings_are_checked_by_the_model(api_a, tenant_a):
    body = {
        "sip_accounts": [
            {"line": 1},
            {"line": 2, "settings": {"outbound_proxy": True, "sip_server_2_port": 0}},
        ]
    }

    response = api_a.patch(PHONE, body)

    assert pointers(response) == {
        "/sip_accounts/1/settings/sip_server_2_port": "min_value",
    }
    only_proxy = {"sip_accounts": [{"line": 1}, {"line": 2, "settings": {"outbound_proxy": True}}]}
    refused = api_a.patch(PHONE, only_proxy)
    assert pointers(refused) == {"/sip_accounts/1/settings/outbound_proxy_host": "invalid"}
    assert "needs its address" in problem(refused)["errors"][0]["message"]
    assert tenant_a.device.sip_accounts.get(index=2).outbound_proxy is None


def test_the_same_account_settings_twice_change_nothing(api_a, tenant_a):
    body = {"sip_accounts": [{"line": 1, "settings": {"voicemail_number": "*97"}}, {"line": 2}]}
    assert api_a.patch(PHONE, body).status_code == 200
    entries = LogEntry.objects.count()

    assert api_a.patch(PHONE, body).status_code == 200

    latest = LogEntry.objects.latest("pk")
    assert LogEntry.objects.count() == entries + 1
    assert latest.change_message.startswith("Saved unchanged")


# --- DECT handsets -------------------------------------------------------------------------


def test_a_dect_base_is_created_with_its_handsets(api_a, tenant_a):
    body = dect_base(api_a)

    assert body["handsets"] == HANDSETS
    device = Device.objects.get(mac=DECT_MAC)
    assert list(device.handsets.values_list("index", "name")) == [(1, "Kitchen"), (2, "Yard")]
    got = mac_file(device, model="W60B")
    assert got["handset.1.name"] == "Kitchen"
    assert got["handset.1.dial_out_default_line"] == "2"


def test_handsets_given_replace_the_set(api_a, tenant_a):
    dect_base(api_a)
    kept = Handset.objects.get(device__mac=DECT_MAC, index=1).pk
    body = {"handsets": [{**HANDSETS[0], "name": "Office"}]}

    response = api_a.patch(f"{DEVICES}/{DECT_MAC}", body)

    assert response.status_code == 200, response.content
    assert [handset["name"] for handset in response.json()["handsets"]] == ["Office"]
    assert list(Handset.objects.filter(device__mac=DECT_MAC).values_list("pk", "name")) == [
        (kept, "Office")
    ]
    got = mac_file(Device.objects.get(mac=DECT_MAC), model="W60B")
    assert got["handset.1.name"] == "Office"
    assert got["handset.2.name"] == "%NULL%"  # taken away: blanked on the base


def test_a_patch_without_handsets_leaves_them_alone(api_a, tenant_a):
    dect_base(api_a)

    assert api_a.patch(f"{DEVICES}/{DECT_MAC}", {"label": "Warehouse"}).status_code == 200

    assert Handset.objects.filter(device__mac=DECT_MAC).count() == 2


def test_handsets_are_refused_in_the_admins_words(api_a, tenant_a):
    desk = api_a.patch(PHONE, {"handsets": [HANDSETS[1]]})
    assert pointers(desk) == {"/handsets/0": "invalid"}
    assert problem(desk)["errors"][0]["message"] == "A T54W takes no DECT handsets."

    dect_base(api_a)
    bad = [
        {**HANDSETS[0], "index": 9},
        {**HANDSETS[1], "outgoing_lines": "1,9", "default_line": 2},
        {**HANDSETS[1], "index": 3},
        {**HANDSETS[1], "index": 3},
    ]
    response = api_a.patch(f"{DEVICES}/{DECT_MAC}", {"handsets": bad})
    assert pointers(response) == {
        "/handsets/0/index": "invalid",
        "/handsets/1/outgoing_lines": "invalid",
        "/handsets/1/default_line": "invalid",
        "/handsets/3/index": "invalid",
    }
    messages = {error["pointer"]: error["message"] for error in problem(response)["errors"]}
    assert messages["/handsets/0/index"] == "A W60B takes 8 handsets; 9 is out."
    assert messages["/handsets/1/default_line"] == (
        "The default line must be one of its outgoing lines."
    )
    assert messages["/handsets/3/index"] == "Handset 3 is also item 2 of handsets."
    words = api_a.patch(
        f"{DEVICES}/{DECT_MAC}", {"handsets": [{**HANDSETS[1], "incoming_lines": "one"}]}
    )
    assert pointers(words) == {"/handsets/0/incoming_lines": "line_list"}
    assert Handset.objects.filter(device__mac=DECT_MAC).count() == 2


def test_a_new_handset_needs_its_lines(api_a, tenant_a):
    dect_base(api_a)

    response = api_a.patch(f"{DEVICES}/{DECT_MAC}", {"handsets": [{"index": 4}]})

    assert set(pointers(response)) == {
        "/handsets/0/incoming_lines",
        "/handsets/0/outgoing_lines",
        "/handsets/0/default_line",
    }


def test_a_model_that_takes_no_handsets_needs_them_taken_away(api_a, tenant_a):
    dect_base(api_a)

    refused = api_a.patch(f"{DEVICES}/{DECT_MAC}", {"model": "T54W"})
    assert "/handsets" in pointers(refused)
    assert "A T54W takes no DECT handsets." in problem(refused)["errors"][0]["message"]

    moved = api_a.patch(f"{DEVICES}/{DECT_MAC}", {"model": "T54W", "handsets": []})
    assert moved.status_code == 200, moved.content
    assert not Handset.objects.filter(device__mac=DECT_MAC).exists()


def test_another_organisations_base_and_its_handsets_are_a_404(api_b, api_a, tenant_a):
    dect_base(api_a)

    assert problem(api_b.get(f"{DEVICES}/{DECT_MAC}"))["status"] == 404
    assert problem(api_b.patch(f"{DEVICES}/{DECT_MAC}", {"handsets": []}))["status"] == 404
    assert Handset.objects.filter(device__mac=DECT_MAC).count() == 2


# --- secrets and cost ------------------------------------------------------------------------


def test_no_answer_holds_a_secret(api_a, provider_api, tenant_a):
    answers = [
        dect_base(api_a, label="Base"),
        api_a.patch(PHONE, {"settings": {"voicemail_number": "*97"}}).json(),
        api_a.get(DEVICES).json(),
        provider_api.get(f"{DEVICES}/{DECT_MAC}").json(),
    ]
    text = str(answers)
    for secret in ("dect-secret-1", "dect-secret-2", "alpha-sip-101", "alpha-sip-102"):
        assert secret not in text
    assert tenant_a.device.provisioning_password not in text


def list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(DEVICES, {"page_size": 100})
    assert response.status_code == 200
    return len(queries)


def test_a_page_with_handsets_and_account_settings_costs_the_same_for_2_or_20(
    provider_api, tenant_a
):
    make_device(tenant_a.organisation, model="W60B")
    list_queries(provider_api)  # the token's first use is recorded once
    two = list_queries(provider_api)
    for _ in range(18):
        device = make_device(tenant_a.organisation, model="W60B", vlan_id=10)
        make_account(device, 1, registration_expires=300)
        Handset.objects.create(
            device=device, index=1, incoming_lines="1", outgoing_lines="1", default_line=1
        )
    assert Device.objects.count() == 20

    assert list_queries(provider_api) == two


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_put_or_patch_without_settings_keeps_them(api_a, tenant_a, method):
    Device.objects.filter(mac=A_MAC).update(registration_expires=600)
    body = {"mac": A_MAC, "model": "T54W", "label": "Desk"}

    response = api_a.send(method, PHONE, body)

    assert response.status_code == 200, response.content
    assert Device.objects.get(mac=A_MAC).registration_expires == 600
