"""The `devices` resource through HTTP with real tokens: phones by MAC, their accounts and
keys, what each token may see and change, and what reaches the phone."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices import foreign_macs
from devices.models import Device, ForeignMacAttempt, LineKey, SipAccount, UnassignedPhone
from devices.phone_models import get_model
from organisations.config_syntax import MASK
from tests.api.conftest import pointers, problem
from tests.factories import make_account, make_device

DEVICES = "/api/v1/devices"
A_MAC = "805ec0aaaa01"
NEW = {
    "mac": "80:5E:C0:AA:AA:02",
    "model": "T54W",
    "label": "Reception",
    "sip_accounts": [
        {"line": 1, "user_name": "a201", "password": "new-sip-secret-1", "transport": "tls"},
        {"line": 2, "user_name": "a202", "password": "new-sip-secret-2"},
    ],
    "line_keys": [{"position": 1, "type": "blf", "value": "201", "label": "Desk"}],
}


def phone_file(tenant, mac: str = A_MAC) -> str:
    """The MAC file as the phone gets it, with its own credentials."""
    device = Device.objects.get(mac=mac)
    tenant.device = device
    response = Client().get(f"/{mac}.cfg", headers=tenant.own_headers())
    assert response.status_code == 200, response.content
    return response.content.decode()


def values(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)


@pytest.mark.parametrize(
    "notation", ["805ec0aaaa01", "80:5E:C0:AA:AA:01", "80-5e-c0-aa-aa-01", "805e.c0aa.aa01"]
)
def test_it_finds_a_phone_by_its_mac_in_any_notation(api_a, notation):
    response = api_a.get(f"{DEVICES}/{notation}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mac"] == A_MAC and body["organisation"] == "alpha"
    assert [account["line"] for account in body["sip_accounts"]] == [1, 2]
    assert body["status"] == "never" and body["rps"]["state"] == "Pending (not synced yet)"


@pytest.mark.parametrize("text", ["zz", "805ec0aaaa0", "805ec0aaaa01x", "01:00:5e:00:00:01"])
def test_a_malformed_mac_is_a_404(api_a, text):
    assert problem(api_a.get(f"{DEVICES}/{text}"))["status"] == 404
    assert api_a.patch(f"{DEVICES}/{text}", {"label": "x"}).status_code == 404


def test_it_lists_only_the_tokens_organisations_phones(api_a, provider_api, tenant_b):
    assert [d["mac"] for d in api_a.get(DEVICES).json()["results"]] == [A_MAC]
    macs = {d["mac"] for d in provider_api.get(DEVICES).json()["results"]}
    assert macs == {A_MAC, tenant_b.device.mac}


def test_it_creates_a_phone_with_accounts_and_keys(api_a, tenant_a):
    response = api_a.post(DEVICES, NEW)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mac"] == "805ec0aaaa02" and body["organisation"] == "alpha"
    assert body["sip_accounts"][0]["transport"] == "tls"
    assert body["line_keys"] == [
        {
            "module": 0,
            "position": 1,
            "type": "blf",
            "value": "201",
            "label": "Desk",
            "line": None,
            "extension": "",
        }
    ]
    device = Device.objects.get(mac="805ec0aaaa02")
    assert device.sip_accounts.get(index=1).password == "new-sip-secret-1"
    entry = LogEntry.objects.get(object_id=str(device.pk))
    assert "through the API (token test alpha)" in entry.change_message
    assert values(phone_file(tenant_a, device.mac))["account.1.password"] == "new-sip-secret-1"


def test_sip_passwords_never_appear_in_an_answer(api_a, provider_api, tenant_a):
    answers = [
        api_a.post(DEVICES, NEW),
        api_a.get(DEVICES),
        api_a.get(f"{DEVICES}/{A_MAC}"),
        api_a.patch(f"{DEVICES}/{A_MAC}", {"sip_accounts": [{"line": 1, "password": "new-101"}]}),
        api_a.get(f"{DEVICES}/{A_MAC}/config"),
        provider_api.get(DEVICES),
        provider_api.get(f"{DEVICES}/{A_MAC}/config"),
    ]
    for response in answers:
        assert response.status_code in (200, 201), response.content
        for secret in (b"alpha-sip-102", b"new-101", b"new-sip-secret-1", b"new-sip-secret-2"):
            assert secret not in response.content
        assert tenant_a.device.provisioning_password.encode() not in response.content


def test_accounts_given_replace_the_set_and_a_left_out_password_is_kept(api_a, tenant_a):
    response = api_a.patch(
        f"{DEVICES}/80-5e-c0-aa-aa-01",
        {"sip_accounts": [{"line": 1, "user_name": "a101", "label": "Front"}]},
    )
    assert response.status_code == 200, response.content
    accounts = list(tenant_a.device.sip_accounts.all())
    assert [(a.index, a.label, a.password) for a in accounts] == [(1, "Front", "alpha-sip-101")]
    assert [a["line"] for a in response.json()["sip_accounts"]] == [1]


def test_a_patch_without_accounts_leaves_them_alone(api_a, tenant_a):
    response = api_a.patch(f"{DEVICES}/{A_MAC}", {"label": "Hall"})
    assert response.status_code == 200, response.content
    assert tenant_a.device.sip_accounts.count() == 2
    assert Device.objects.get(mac=A_MAC).label == "Hall"


def test_a_new_line_needs_its_password(api_a):
    response = api_a.patch(f"{DEVICES}/{A_MAC}", {"sip_accounts": [{"line": 3, "user_name": "x"}]})
    assert pointers(response) == {"/sip_accounts/0/password": "required"}


def test_a_line_out_of_range_says_what_the_admin_says(api_a, tenant_a):
    model = get_model("T54W")
    assert model is not None
    lines = model.lines
    account = SipAccount(device=tenant_a.device, index=lines + 1, user_name="x", password="p")
    with pytest.raises(ValidationError) as admin:
        account.full_clean(validate_unique=False)
    body = {"sip_accounts": [{"line": lines + 1, "user_name": "x", "password": "p"}]}
    response = api_a.patch(f"{DEVICES}/{A_MAC}", body)
    errors = problem(response)["errors"]
    assert [(e["pointer"], e["message"]) for e in errors] == [
        ("/sip_accounts/0/line", admin.value.message_dict["index"][0])
    ]
    assert tenant_a.device.sip_accounts.count() == 2  # nothing written


def test_a_key_beyond_the_phones_keys_says_what_the_admin_says(api_a, tenant_a):
    key = LineKey(device=tenant_a.device, position=99, type=16, value="1")
    with pytest.raises(ValidationError) as admin:
        key.full_clean(exclude=["device"], validate_unique=False)
    body = {"line_keys": [{"position": 99, "type": "blf", "value": "1"}]}
    errors = problem(api_a.patch(f"{DEVICES}/{A_MAC}", body))["errors"]
    assert [(e["pointer"], e["message"]) for e in errors] == [
        ("/line_keys/0", admin.value.messages[0])
    ]


def test_another_organisations_phone_is_a_404(api_a, tenant_b):
    mac = tenant_b.device.mac
    for response in (
        api_a.get(f"{DEVICES}/{mac}"),
        api_a.get(f"{DEVICES}/{mac}/config"),
        api_a.patch(f"{DEVICES}/{mac}", {"label": "mine"}),
        api_a.put(f"{DEVICES}/{mac}", {"mac": mac, "model": "T46U"}),
        api_a.delete(f"{DEVICES}/{mac}"),
    ):
        assert problem(response)["status"] == 404
    assert Device.objects.get(mac=mac).label == "Bravo desk"


def test_an_organisation_token_never_moves_a_phone(api_a, tenant_a, tenant_b):
    moved = api_a.patch(f"{DEVICES}/{A_MAC}", {"organisation": "bravo"})
    nobody = api_a.patch(f"{DEVICES}/{A_MAC}", {"organisation": "nobody"})
    assert pointers(moved) == {"/organisation": "does_not_exist"}
    # The same words for bravo as for a slug nobody has: nothing confirms it exists.
    assert (
        problem(moved)["errors"][0]["message"].replace("bravo", "nobody")
        == (problem(nobody)["errors"][0]["message"])
    )
    created = api_a.post(DEVICES, {**NEW, "organisation": "bravo"})
    assert pointers(created) == {"/organisation": "does_not_exist"}
    assert Device.objects.get(mac=A_MAC).organisation == tenant_a.organisation


def test_the_provider_moves_a_phone(provider_api, tenant_a, tenant_b):
    response = provider_api.patch(f"{DEVICES}/{A_MAC}", {"organisation": "bravo"})
    assert response.status_code == 200, response.content
    assert Device.objects.get(mac=A_MAC).organisation == tenant_b.organisation


def test_a_read_only_token_only_looks(read_only_api_a):
    assert read_only_api_a.get(DEVICES).status_code == 200
    assert read_only_api_a.get(f"{DEVICES}/{A_MAC}/config").status_code == 200
    for response in (
        read_only_api_a.post(DEVICES, NEW),
        read_only_api_a.patch(f"{DEVICES}/{A_MAC}", {"label": "x"}),
        read_only_api_a.delete(f"{DEVICES}/{A_MAC}"),
        read_only_api_a.post(f"{DEVICES}/bulk", {"devices": [NEW]}),
    ):
        assert problem(response)["code"] == "read_only_token"
    assert Device.objects.count() == 1


def test_another_organisations_mac_cannot_be_added_and_the_attempt_is_recorded(api_a, tenant_b):
    response = api_a.post(DEVICES, {**NEW, "mac": "00:15:65:BB:BB:01"})
    errors = problem(response)["errors"]
    assert errors == [
        {
            "pointer": "/mac",
            "code": "cannot_add",
            "message": foreign_macs.cannot_add(tenant_b.device.mac),
        }
    ]
    assert b"bravo" not in response.content.lower()
    attempt = ForeignMacAttempt.objects.get()
    assert attempt.macs == tenant_b.device.mac and attempt.username == "API token test alpha"
    assert attempt.organisation.slug == "alpha"


def test_the_mac_of_a_phone_it_has_says_so(api_a, tenant_a):
    make_device(tenant_a.organisation, "805ec0aaaa02")
    response = api_a.patch(f"{DEVICES}/{A_MAC}", {"mac": "805ec0aaaa02"})
    assert problem(response)["errors"][0]["message"] == "This MAC is one of your phones already."


def test_adding_is_paused_after_too_many_foreign_macs(api_a, tenant_a, tenant_b, settings):
    settings.FOREIGN_MACS_PER_DAY = 1
    api_a.post(DEVICES, {**NEW, "mac": tenant_b.device.mac})
    response = api_a.post(DEVICES, NEW)  # a free MAC, but adding is paused now
    assert pointers(response) == {"/mac": "paused"}
    assert not Device.objects.filter(mac="805ec0aaaa02").exists()


def test_a_mac_on_its_unassigned_list_is_added(api_a, tenant_a):
    UnassignedPhone.objects.create(organisation=tenant_a.organisation, mac="805ec0aaaa02")
    assert api_a.post(DEVICES, NEW).status_code == 201
    assert not UnassignedPhone.objects.exists()


def test_provider_only_fields_are_the_providers(api_a, provider_api, tenant_a):
    body = {"phone_admin_password": "Web-admin-pw-123", "label": "x"}
    assert provider_api.patch(f"{DEVICES}/{A_MAC}", body).status_code == 200
    assert Device.objects.get(mac=A_MAC).phone_admin_password == "Web-admin-pw-123"
    for api in (provider_api, api_a):
        shown = api.get(f"{DEVICES}/{A_MAC}")
        assert b"Web-admin-pw-123" not in shown.content
        assert "phone_admin_password" not in shown.json()
    assert "profile" in provider_api.get(f"{DEVICES}/{A_MAC}").json()
    assert "profile" not in api_a.get(f"{DEVICES}/{A_MAC}").json()
    # An organisation token's provider-only values are not taken.
    api_a.patch(f"{DEVICES}/{A_MAC}", {"phone_admin_password": "Other-pw-12345"})
    assert Device.objects.get(mac=A_MAC).phone_admin_password == "Web-admin-pw-123"


def test_raw_overrides_as_the_admin_lets_staff_edit_them(api_a, provider_api, tenant_a):
    overrides = "static.security.user_password = admin:Provider-pw-1\nlang.gui = German"
    assert provider_api.patch(f"{DEVICES}/{A_MAC}", {"raw_overrides": overrides}).status_code == 200
    provider_view = provider_api.get(f"{DEVICES}/{A_MAC}").json()["raw_overrides"]
    assert provider_view == f"static.security.user_password = admin:{MASK}\nlang.gui = German"
    assert api_a.get(f"{DEVICES}/{A_MAC}").json()["raw_overrides"] == "lang.gui = German"
    # Staff change their lines; the provider's stay; a provider-only key is refused.
    assert (
        api_a.patch(f"{DEVICES}/{A_MAC}", {"raw_overrides": "lang.gui = French"}).status_code == 200
    )
    stored = Device.objects.get(mac=A_MAC).raw_overrides
    assert stored == "lang.gui = French\nstatic.security.user_password = admin:Provider-pw-1"
    refused = api_a.patch(f"{DEVICES}/{A_MAC}", {"raw_overrides": "static.firmware.url = x"})
    assert pointers(refused) == {"/raw_overrides": "provider_only"}
    # The provider's masked line sent back keeps its value.
    assert (
        provider_api.patch(f"{DEVICES}/{A_MAC}", {"raw_overrides": provider_view}).status_code
        == 200
    )
    assert "admin:Provider-pw-1" in Device.objects.get(mac=A_MAC).raw_overrides


def test_the_config_is_what_the_phone_gets_masked(api_a, tenant_a):
    response = api_a.get(f"{DEVICES}/80:5e:c0:aa:aa:01/config")
    assert response.status_code == 200, response.content
    body = response.json()
    phone = phone_file(tenant_a)
    assert body["name"] == "805ec0aaaa01.cfg"
    shown, got = body["content"].splitlines(), phone.splitlines()
    assert len(shown) == len(got)
    for ours, theirs in zip(shown, got, strict=True):
        assert ours == theirs or MASK in ours, (ours, theirs)
    assert values(phone)["account.1.password"] == "alpha-sip-101"
    assert values(body["content"])["account.1.password"] == MASK
    layers = {line["text"].split(" = ")[0]: line["layer"] for line in body["lines"]}
    assert layers["account.1.user_name"] == "account"


def test_a_write_reaches_the_phone_on_its_next_request(api_a, tenant_a):
    assert values(phone_file(tenant_a))["account.1.user_name"] == "a101"
    body = {"sip_accounts": [{"line": 1, "user_name": "a999"}, {"line": 2, "user_name": "a102"}]}
    assert api_a.patch(f"{DEVICES}/{A_MAC}", body).status_code == 200
    assert values(phone_file(tenant_a))["account.1.user_name"] == "a999"


def test_delete_removes_the_phone_and_records_it(api_a, tenant_a):
    pk = tenant_a.device.pk
    assert api_a.delete(f"{DEVICES}/80-5E-C0-AA-AA-01").status_code == 204
    assert not Device.objects.filter(pk=pk).exists()
    assert LogEntry.objects.filter(object_id=str(pk), action_flag=3).exists()


def list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(DEVICES, {"page_size": 100})
    assert response.status_code == 200
    return len(queries)


def test_a_page_costs_the_same_queries_for_2_or_20_phones(provider_api, tenant_a):
    make_device(tenant_a.organisation)
    list_queries(provider_api)  # the token's first use is recorded once
    two = list_queries(provider_api)
    for _ in range(18):
        device = make_device(tenant_a.organisation)
        make_account(device, 1)
        LineKey.objects.create(device=device, position=1, value="1")
    assert Device.objects.count() == 20
    assert list_queries(provider_api) == two


def test_a_phone_moved_to_another_organisation_leaves_the_former_ones_books_and_files(
    provider_api, api_a, tenant_a, tenant_b
):
    """Its former organisation's phonebook listed it and its wallpaper was the former's:
    after the move neither links across, so alpha's token reads no MAC of beta's."""
    from media_assets.models import DeviceMedia, Wallpaper
    from phonebooks.models import Phonebook
    from tests.media_assets.media import image_bytes

    device = tenant_a.device
    book = Phonebook.objects.create(
        organisation=tenant_a.organisation, name="Alpha book", title="Alpha book", audience="chosen"
    )
    book.devices.add(device)
    wallpaper = Wallpaper(organisation=tenant_a.organisation, name="alpha.png")
    wallpaper.set_content(image_bytes(), "image/png")
    wallpaper.save()
    DeviceMedia.objects.create(device=device, wallpaper=wallpaper)

    response = provider_api.patch(
        f"/api/v1/devices/{device.mac}", {"organisation": tenant_b.organisation.slug}
    )

    assert response.status_code == 200, response.content
    assert not book.devices.exists()
    assert DeviceMedia.objects.get(device=device).wallpaper is None
    assert device.mac not in api_a.get(f"/api/v1/phonebooks/{book.pk}").content.decode()


def test_a_put_that_leaves_out_active_keeps_a_deactivated_phone_off(provider_api, tenant_a):
    """A billing system deactivates a phone for non-payment; a later PUT of its label must
    not switch it back on."""
    device = tenant_a.device
    device.is_active = False
    device.save()

    response = provider_api.put(
        f"/api/v1/devices/{device.mac}", {"mac": device.mac, "model": "T54W", "label": "New"}
    )

    assert response.status_code == 200, response.content
    device.refresh_from_db()
    assert (device.label, device.is_active) == ("New", False)
    assert response.json()["active"] is False


def test_a_bulk_write_reaches_the_phone_on_its_next_request(api_a, tenant_a):
    """The bulk announces its change once, at its end: the phone still gets it."""
    assert values(phone_file(tenant_a))["account.1.user_name"] == "a101"
    accounts = [{"line": 1, "user_name": "a998"}, {"line": 2, "user_name": "a102"}]
    body = {"devices": [{"mac": A_MAC, "model": "T54W", "sip_accounts": accounts}]}

    assert api_a.post(f"{DEVICES}/bulk", body).status_code == 200

    assert values(phone_file(tenant_a))["account.1.user_name"] == "a998"
