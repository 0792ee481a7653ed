"""`POST /api/v1/devices/bulk`: up to 1,000 phones in one all-or-nothing, idempotent request."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.test import Client

from devices import foreign_macs
from devices.models import Device, ForeignMacAttempt, SipAccount
from tests.api.conftest import pointers, problem

BULK = "/api/v1/devices/bulk"


def phone(number: int, **fields) -> dict:
    mac = f"805ec1{number:06x}"
    return {
        "mac": mac,
        "model": "T54W",
        "label": f"Desk {number}",
        "sip_accounts": [
            {"line": 1, "user_name": f"u{number}a", "password": f"bulk-secret-{number}-a"},
            {"line": 2, "user_name": f"u{number}b", "password": f"bulk-secret-{number}-b"},
        ],
        **fields,
    }


def test_a_thousand_phones_with_two_accounts_each_and_the_same_body_again(api_a):
    """How long it takes is bench/api_bench.py's to say, not a test's."""
    body = {"devices": [phone(n) for n in range(1000)]}
    response = api_a.post(BULK, body)
    assert response.status_code == 200, response.content[:2000]
    result = response.json()
    assert (result["created"], result["updated"], result["unchanged"]) == (1000, 0, 0)
    assert result["devices"][0] == {"mac": "805ec1000000", "outcome": "created"}
    assert Device.objects.filter(organisation__slug="alpha").count() == 1001
    assert SipAccount.objects.filter(device__mac__startswith="805ec1").count() == 2000
    assert b"bulk-secret" not in response.content
    entries = LogEntry.objects.filter(change_message__contains="through the API").count()
    again = api_a.post(BULK, body).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1000)
    assert LogEntry.objects.filter(change_message__contains="through the API").count() == entries


def test_more_than_a_thousand_is_refused_with_its_code(api_a):
    response = api_a.post(BULK, {"devices": [phone(n) for n in range(1001)]})
    assert problem(response)["code"] == "too_many_devices"
    assert "1000" in problem(response)["detail"]
    assert not Device.objects.filter(mac__startswith="805ec1").exists()


def test_one_bad_item_writes_nothing_and_is_pointed_at(api_a, tenant_a):
    items = [phone(n) for n in range(5)]
    del items[3]["sip_accounts"][0]["password"]
    items[4]["sip_accounts"][1]["line"] = 99
    items.append({**phone(9), "mac": "80:5e:zz:00:00:01"})
    change = {"mac": tenant_a.device.mac, "label": "Changed"}
    response = api_a.post(BULK, {"devices": [change, *items]})
    assert set(pointers(response)) == {
        "/devices/4/sip_accounts/0/password",
        "/devices/5/sip_accounts/1/line",
        "/devices/6/mac",
    }
    assert not Device.objects.filter(mac__startswith="805ec1").exists()
    assert Device.objects.get(mac=tenant_a.device.mac).label == "Alpha desk"


def test_a_mac_given_twice_is_refused(api_a):
    response = api_a.post(BULK, {"devices": [phone(1), {**phone(1), "mac": "80:5E:C1:00:00:01"}]})
    assert pointers(response) == {"/devices/1/mac": "invalid"}
    assert "is also item 0" in problem(response)["errors"][0]["message"]


def test_it_updates_phones_it_has_and_they_get_it(api_a, tenant_a):
    body = {
        "devices": [
            {
                "mac": "80-5E-C0-AA-AA-01",
                "sip_accounts": [{"line": 1, "user_name": "a555"}, {"line": 2}],
            },
            phone(1),
        ]
    }
    result = api_a.post(BULK, body).json()
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 0)
    account = tenant_a.device.sip_accounts.get(index=1)
    assert (account.user_name, account.password) == ("a555", "alpha-sip-101")
    entry = LogEntry.objects.get(object_id=str(tenant_a.device.pk))
    assert entry.change_message == "Changed sip_accounts through the API (token test alpha)."
    response = Client().get(f"/{tenant_a.device.mac}.cfg", headers=tenant_a.own_headers())
    assert "account.1.user_name = a555" in response.content.decode()


def test_another_organisations_mac_cannot_be_added_and_is_recorded(api_a, tenant_b):
    body = {"devices": [phone(1), phone(2, mac="00-15-65-BB-BB-01")]}
    response = api_a.post(BULK, body)
    assert problem(response)["errors"] == [
        {
            "pointer": "/devices/1/mac",
            "code": "cannot_add",
            "message": foreign_macs.cannot_add(tenant_b.device.mac),
        }
    ]
    assert b"bravo" not in response.content.lower()
    attempt = ForeignMacAttempt.objects.get()
    assert (attempt.macs, attempt.source, attempt.refused_whole) == (
        tenant_b.device.mac,
        ForeignMacAttempt.Source.API,
        False,
    )
    assert Device.objects.get(mac=tenant_b.device.mac).organisation == tenant_b.organisation


def test_too_many_foreign_macs_refuse_the_body_whole(api_a, tenant_b, settings):
    settings.FOREIGN_MACS_PER_IMPORT = 0
    response = api_a.post(BULK, {"devices": [phone(1), phone(2, mac=tenant_b.device.mac)]})
    body = problem(response)
    assert (body["code"], body["detail"]) == ("refused", foreign_macs.refused_whole())
    assert "errors" not in body
    assert ForeignMacAttempt.objects.get().refused_whole
    assert not Device.objects.filter(mac__startswith="805ec1").exists()


def test_the_provider_adds_for_each_organisation_and_moves_none(provider_api, tenant_a, tenant_b):
    body = {
        "devices": [
            phone(1, organisation="alpha"),
            phone(2, organisation="bravo"),
            {"mac": tenant_b.device.mac, "organisation": "alpha"},
        ]
    }
    response = provider_api.post(BULK, body)
    assert problem(response)["errors"][0]["message"] == (
        "00:15:65:bb:bb:01 is already registered to bravo."
    )
    result = provider_api.post(BULK, {"devices": body["devices"][:2]}).json()
    assert result["created"] == 2
    assert Device.objects.get(mac="805ec1000002").organisation == tenant_b.organisation


def test_a_new_phone_needs_its_organisation_from_a_provider(provider_api):
    assert pointers(provider_api.post(BULK, {"devices": [phone(1)]})) == {
        "/devices/0/organisation": "required"
    }


def test_a_body_that_is_no_list_of_devices(api_a):
    assert pointers(api_a.post(BULK, {"devices": "all"})) == {"/devices": "not_a_list"}
    assert pointers(api_a.post(BULK, {"devices": [1]})) == {"/devices/0": "invalid"}


def test_a_bulk_request_is_one_config_change(
    api_a, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    """Each saved row's signal would announce a change to every process (twice a row); the
    bulk announces one: now, and once committed."""
    from devices.serving import cache

    bumps = []
    real = cache.bump

    def counted() -> None:
        bumps.append(1)
        real()

    monkeypatch.setattr(cache, "bump", counted)
    body = {"devices": [phone(n) for n in range(20)]}
    body["devices"].append(
        {"mac": tenant_a.device.mac, "model": "T54W", "label": "Relabelled by bulk"}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(BULK, body)

    assert response.status_code == 200, response.content[:500]
    assert len(bumps) == 2  # now, and once committed
    assert "Relabelled by bulk" in Device.objects.get(pk=tenant_a.device.pk).label
