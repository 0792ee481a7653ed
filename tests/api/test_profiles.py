"""Key profiles and settings profiles through HTTP with real tokens: the admin's rules and
messages, who may see and change them, what reaches the phones, what a page costs."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.models import Device, KeyProfile, ProfileKey
from organisations.models import Organisation
from organisations.phone_settings import PHONE_SETTINGS, SettingsProfile
from tests.api.conftest import pointers, problem
from tests.factories import make_device, make_organisation, own_basic, user_agent

KEY_PROFILES = "/api/v1/key-profiles"
SETTINGS_PROFILES = "/api/v1/settings-profiles"
A_MAC = "805ec0aaaa01"
RECEPTION = {
    "name": "Reception",
    "keys": [
        {"position": 1, "type": "blf", "value": "201", "label": "Desk"},
        {"position": 2, "type": "speed_dial", "value": "0800123"},
    ],
}


def mac_file(device: Device) -> dict[str, str]:
    """The phone's next MAC file, fetched as it fetches it, by key."""
    device.refresh_from_db()
    headers = {"User-Agent": user_agent(device), "Authorization": own_basic(device)}
    response = Client().get(f"/{device.mac}.cfg", headers=headers)
    assert response.status_code == 200, response.content
    lines = response.content.decode().splitlines()
    return dict(line.split(" = ", 1) for line in lines if " = " in line)


def key_profile(organisation: Organisation, name: str = "Reception", keys: int = 1) -> KeyProfile:
    profile = KeyProfile.objects.create(organisation=organisation, name=name)
    for position in range(1, keys + 1):
        ProfileKey.objects.create(profile=profile, position=position, value=str(200 + position))
    return profile


def used_profile(tenant) -> KeyProfile:
    """A profile of alpha's that its phone (a T54W) uses."""
    profile = key_profile(tenant.organisation)
    tenant.device.key_profile = profile
    tenant.device.save()
    return profile


# --- key profiles: reading -----------------------------------------------------------------


def test_an_organisation_token_lists_its_own_key_profiles(api_a, provider_api, tenant_a, tenant_b):
    used_profile(tenant_a)
    key_profile(tenant_b.organisation, "Bravo keys")

    mine = api_a.get(KEY_PROFILES).json()["results"]
    every = provider_api.get(KEY_PROFILES).json()["results"]
    betas = provider_api.get(KEY_PROFILES, {"organisation": "bravo"}).json()["results"]

    assert [(p["organisation"], p["name"], p["phone_count"]) for p in mine] == [
        ("alpha", "Reception", 1)
    ]
    assert mine[0]["keys"][0] == {
        "module": 0,
        "position": 1,
        "type": "blf",
        "value": "201",
        "label": "",
        "line": None,
        "extension": "",
    }
    assert {p["name"] for p in every} == {"Reception", "Bravo keys"}
    assert [p["name"] for p in betas] == ["Bravo keys"]


def test_another_organisations_key_profile_is_a_404_for_every_method(api_a, tenant_a, tenant_b):
    theirs = key_profile(tenant_b.organisation, "Bravo keys")
    url = f"{KEY_PROFILES}/{theirs.pk}"

    answers = [
        api_a.get(url),
        api_a.patch(url, {"name": "Mine now"}),
        api_a.put(url, {"name": "Mine now"}),
        api_a.delete(url),
    ]

    assert [problem(answer)["status"] for answer in answers] == [404] * 4
    assert KeyProfile.objects.get(pk=theirs.pk).name == "Bravo keys"
    assert not api_a.get(KEY_PROFILES, {"organisation": "bravo"}).json()["results"]


def test_a_read_only_token_looks_at_key_profiles_and_changes_none(read_only_api_a, tenant_a):
    profile = key_profile(tenant_a.organisation)
    url = f"{KEY_PROFILES}/{profile.pk}"

    assert read_only_api_a.get(url).status_code == 200
    answers = [
        read_only_api_a.post(KEY_PROFILES, RECEPTION),
        read_only_api_a.patch(url, {"name": "Other"}),
        read_only_api_a.delete(url),
    ]
    assert [problem(answer)["code"] for answer in answers] == ["read_only_token"] * 3
    assert KeyProfile.objects.get().name == "Reception"


# --- key profiles: writing -----------------------------------------------------------------


def test_an_organisation_token_creates_a_key_profile_of_its_own(api_a, tenant_a):
    response = api_a.post(KEY_PROFILES, RECEPTION)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["organisation"], body["name"], body["phone_count"]) == ("alpha", "Reception", 0)
    assert [(key["position"], key["type"]) for key in body["keys"]] == [
        (1, "blf"),
        (2, "speed_dial"),
    ]
    profile = KeyProfile.objects.get(pk=body["id"])
    assert profile.organisation == tenant_a.organisation
    assert profile.keys.count() == 2
    entry = LogEntry.objects.get(object_id=str(profile.pk))
    assert entry.change_message == "Added through the API (token test alpha)."


def test_the_organisation_is_the_tokens_own_or_one_the_provider_names(
    api_a, provider_api, tenant_a, tenant_b
):
    other = api_a.post(KEY_PROFILES, {**RECEPTION, "organisation": "bravo"})
    nobody = api_a.post(KEY_PROFILES, {**RECEPTION, "organisation": "gamma"})
    unnamed = provider_api.post(KEY_PROFILES, RECEPTION)
    named = provider_api.post(KEY_PROFILES, {**RECEPTION, "organisation": "bravo"})

    # Another organisation's slug reads as one nobody has.
    assert problem(other)["errors"][0]["message"] == "Object with slug=bravo does not exist."
    assert problem(nobody)["errors"][0]["message"] == "Object with slug=gamma does not exist."
    assert pointers(unnamed) == {"/organisation": "required"}
    assert named.status_code == 201 and named.json()["organisation"] == "bravo"
    assert list(KeyProfile.objects.values_list("organisation__slug", flat=True)) == ["bravo"]


def test_a_name_twice_in_an_organisation_is_refused_in_the_admins_words(api_a, tenant_a):
    key_profile(tenant_a.organisation)

    response = api_a.post(KEY_PROFILES, RECEPTION)

    body = problem(response)
    assert response.status_code == 400
    assert body["errors"][0]["message"] == (
        "Key profile with this Organisation and Name already exists."
    )


def test_keys_given_replace_the_set(api_a, tenant_a):
    profile = key_profile(tenant_a.organisation, keys=3)
    kept = profile.keys.get(position=1).pk
    body = {"keys": [{"position": 1, "value": "299"}, {"position": 5, "value": "205"}]}

    response = api_a.patch(f"{KEY_PROFILES}/{profile.pk}", body)

    assert response.status_code == 200, response.content
    assert [key["position"] for key in response.json()["keys"]] == [1, 5]
    assert list(profile.keys.values_list("pk", "position", "value")) == [
        (kept, 1, "299"),
        (profile.keys.get(position=5).pk, 5, "205"),
    ]
    entry = LogEntry.objects.filter(object_id=str(profile.pk)).latest("action_time")
    assert entry.change_message == "Changed keys through the API (token test alpha)."


def test_a_key_is_checked_as_the_admin_checks_it(api_a, tenant_a):
    profile = key_profile(tenant_a.organisation)
    body = {
        "keys": [
            {"position": 1, "type": "blf", "value": ""},
            {"position": 2, "type": "xml_phonebook", "value": "7"},
            {"position": 3, "type": "none"},
            {"position": 3, "type": "none"},
            {"module": 0},
        ]
    }

    response = api_a.patch(f"{KEY_PROFILES}/{profile.pk}", body)

    assert pointers(response) == {
        "/keys/0/value": "invalid",
        "/keys/1/value": "invalid",
        "/keys/3/position": "invalid",
        "/keys/4/position": "required",
    }
    messages = {e["pointer"]: e["message"] for e in problem(response)["errors"]}
    assert messages["/keys/0/value"] == "A BLF key needs a value (a number)."
    assert messages["/keys/3/position"] == "Key 3 is also item 2 of keys."
    assert list(profile.keys.values_list("position", flat=True)) == [1]


def test_a_key_that_does_not_fit_a_phone_using_the_profile_is_refused(api_a, tenant_a):
    profile = used_profile(tenant_a)

    response = api_a.patch(
        f"{KEY_PROFILES}/{profile.pk}", {"keys": [{"position": 40, "value": "1"}]}
    )

    assert pointers(response) == {"/keys/0": "invalid"}
    assert problem(response)["errors"][0]["message"] == (
        f"{tenant_a.device} uses this profile. A T54W has 27 line keys; there is no key 40."
    )
    assert list(profile.keys.values_list("position", flat=True)) == [1]


def test_a_key_profile_key_reaches_the_phones_next_mac_file(api_a, tenant_a):
    profile = used_profile(tenant_a)
    assert mac_file(tenant_a.device)["linekey.1.value"] == "201"

    body = {"keys": [{"position": 1, "value": "299", "label": "Boss"}]}
    assert api_a.patch(f"{KEY_PROFILES}/{profile.pk}", body).status_code == 200

    got = mac_file(tenant_a.device)
    assert (got["linekey.1.value"], got["linekey.1.label"]) == ("299", "Boss")


def test_the_same_body_twice_changes_nothing(api_a, tenant_a):
    profile = key_profile(tenant_a.organisation, keys=2)
    body = api_a.get(f"{KEY_PROFILES}/{profile.pk}").json()
    before = list(profile.keys.values_list("pk", flat=True))

    response = api_a.put(f"{KEY_PROFILES}/{profile.pk}", body)

    assert response.status_code == 200, response.content
    assert list(profile.keys.values_list("pk", flat=True)) == before
    entry = LogEntry.objects.get(object_id=str(profile.pk))
    assert entry.change_message.startswith("Saved unchanged")


def test_a_profile_phones_of_its_organisation_use_does_not_move(provider_api, tenant_a, tenant_b):
    profile = used_profile(tenant_a)

    response = provider_api.patch(f"{KEY_PROFILES}/{profile.pk}", {"organisation": "bravo"})

    assert pointers(response) == {"/organisation": "invalid"}
    assert (
        "1 phone of another organisation uses this key profile"
        in (problem(response)["errors"][0]["message"])
    )


def test_deleting_a_key_profile_phones_use_is_a_conflict(api_a, tenant_a):
    profile = used_profile(tenant_a)

    response = api_a.delete(f"{KEY_PROFILES}/{profile.pk}")

    body = problem(response)
    assert (response.status_code, body["code"]) == (409, "in_use")
    assert body["detail"].startswith(
        "Reception cannot be deleted: it is still chosen for 1 device."
    )
    assert KeyProfile.objects.filter(pk=profile.pk).exists()
    assert not LogEntry.objects.filter(object_id=str(profile.pk)).exists()


def test_deleting_an_unused_key_profile_removes_it_and_records_it(api_a, tenant_a):
    profile = key_profile(tenant_a.organisation)

    assert api_a.delete(f"{KEY_PROFILES}/{profile.pk}").status_code == 204

    assert not KeyProfile.objects.exists()
    assert LogEntry.objects.filter(object_id=str(profile.pk), action_flag=3).exists()


def test_an_id_that_is_no_number_or_too_large_is_a_404(api_a, tenant_a):
    for text in ("x", "1.5", "99999999999999999999"):
        assert problem(api_a.get(f"{KEY_PROFILES}/{text}"))["status"] == 404


# --- settings profiles ---------------------------------------------------------------------


SECURE = {
    "name": "Secure TLS",
    "description": "For every customer on TLS",
    "settings": {"srtp": "compulsory", "registration_expires": 300},
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", ""),
        ("get", "/{pk}"),
        ("put", "/{pk}"),
        ("patch", "/{pk}"),
        ("delete", "/{pk}"),
    ],
)
def test_an_organisation_token_may_do_nothing_with_settings_profiles(api_a, method, path):
    profile = SettingsProfile.objects.create(name="Secure TLS")
    url = SETTINGS_PROFILES + path.format(pk=profile.pk)

    response = api_a.send(method.upper(), url, SECURE) if method != "get" else api_a.get(url)

    assert (response.status_code, problem(response)["code"]) == (403, "provider_only")
    assert SettingsProfile.objects.get().name == "Secure TLS"


def test_the_provider_creates_a_settings_profile_with_its_settings(provider_api, db):
    response = provider_api.post(SETTINGS_PROFILES, SECURE)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body["settings"]) == set(PHONE_SETTINGS)
    assert (body["settings"]["srtp"], body["settings"]["registration_expires"]) == (
        "compulsory",
        300,
    )
    assert (body["organisation_count"], body["phone_count"]) == (0, 0)
    profile = SettingsProfile.objects.get(pk=body["id"])
    assert (profile.srtp, profile.registration_expires) == (2, 300)
    assert LogEntry.objects.filter(object_id=str(profile.pk), action_flag=1).exists()


def test_a_settings_profiles_checks_are_the_models(provider_api, db):
    SettingsProfile.objects.create(name="Secure TLS")

    taken = provider_api.post(SETTINGS_PROFILES, {"name": "Secure TLS"})
    vlan = provider_api.post(SETTINGS_PROFILES, {"name": "V", "settings": {"vlan_enabled": True}})

    assert problem(taken)["errors"][0] == {
        "pointer": "/name",
        "code": "unique",
        "message": "Settings profile with this Name already exists.",
    }
    assert pointers(vlan) == {"/settings/vlan_id": "invalid"}


def test_a_settings_profile_change_reaches_its_organisations_phones(provider_api, tenant_a):
    profile = SettingsProfile.objects.create(name="Secure TLS")
    tenant_a.organisation.profile = profile
    tenant_a.organisation.save()
    assert mac_file(tenant_a.device)["account.1.sip_server.1.expires"] == "3600"

    response = provider_api.patch(
        f"{SETTINGS_PROFILES}/{profile.pk}", {"settings": {"registration_expires": 300}}
    )

    assert response.status_code == 200, response.content
    assert response.json()["organisation_count"] == 1
    assert mac_file(tenant_a.device)["account.1.sip_server.1.expires"] == "300"


def test_deleting_a_settings_profile_still_chosen_is_a_conflict(provider_api, tenant_a):
    profile = SettingsProfile.objects.create(name="Secure TLS")
    Organisation.objects.filter(pk=tenant_a.organisation.pk).update(profile=profile)
    Device.objects.filter(pk=tenant_a.device.pk).update(profile=profile)

    response = provider_api.delete(f"{SETTINGS_PROFILES}/{profile.pk}")

    body = problem(response)
    assert (response.status_code, body["code"]) == (409, "in_use")
    assert "still chosen for 1 device, 1 organisation" in body["detail"]
    assert SettingsProfile.objects.exists()


def test_deleting_an_unused_settings_profile(provider_api, db):
    profile = SettingsProfile.objects.create(name="Old")

    assert provider_api.delete(f"{SETTINGS_PROFILES}/{profile.pk}").status_code == 204

    assert not SettingsProfile.objects.exists()


# --- secrets and cost ----------------------------------------------------------------------


def test_no_profile_answer_holds_a_secret(api_a, provider_api, tenant_a):
    profile = used_profile(tenant_a)
    answers = [
        api_a.get(KEY_PROFILES),
        api_a.get(f"{KEY_PROFILES}/{profile.pk}"),
        provider_api.post(SETTINGS_PROFILES, SECURE),
        provider_api.get(SETTINGS_PROFILES),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        for secret in ("alpha-sip-101", "alpha-secret-pw", tenant_a.device.provisioning_password):
            assert secret.encode() not in answer.content


def page_queries(api, url: str) -> int:
    api.get(url)  # the token's first use of the minute is recorded once
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url, {"page_size": 100})
    assert response.status_code == 200
    return len(queries)


def test_a_page_of_key_profiles_costs_the_same_for_2_or_20(provider_api, db):
    organisation = make_organisation()
    for number in range(2):
        key_profile(organisation, f"P{number}", keys=2)
    two = page_queries(provider_api, KEY_PROFILES)
    for number in range(2, 20):
        profile = key_profile(make_organisation(), f"P{number}", keys=3)
        make_device(profile.organisation, key_profile=profile)

    assert page_queries(provider_api, KEY_PROFILES) == two


def test_a_page_of_settings_profiles_costs_the_same_for_2_or_20(provider_api, db):
    for number in range(2):
        SettingsProfile.objects.create(name=f"P{number}")
    two = page_queries(provider_api, SETTINGS_PROFILES)
    for number in range(2, 20):
        profile = SettingsProfile.objects.create(name=f"P{number}", vlan_id=number)
        make_device(make_organisation(profile=profile), profile=profile)

    assert page_queries(provider_api, SETTINGS_PROFILES) == two
