"""`/api/v1/organisations`: what provider and organisation tokens see and change, through
HTTP with real tokens."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from organisations.config_syntax import MASK
from organisations.models import Organisation, SettingsProfile, SipTransport
from organisations.phone_settings import PHONE_SETTINGS
from tests.api.conftest import pointers, problem
from tests.factories import make_device, make_organisation

URL = "/api/v1/organisations"
SECRET_LINE = "static.network.802_1x.md5_password = Hunter2-Hunter2"


def new_organisation(**fields) -> dict:
    body = {
        "name": "Charlie Ltd",
        "slug": "charlie",
        "provisioning_username": "charlie-phones",
        "sip_server": "sip.charlie.example",
    }
    body.update(fields)
    return body


def secrets_of(organisation: Organisation) -> list[str]:
    organisation.refresh_from_db()
    found = [
        organisation.provisioning_password,
        organisation.previous_provisioning_password,
        organisation.phone_admin_password,
        organisation.phone_user_password,
        organisation.phone_var_password,
    ]
    return [secret for secret in found if secret]


# --- who sees what ----------------------------------------------------------------------


def test_a_provider_token_lists_every_organisation_with_its_phone_counts(
    provider_api, tenant_a, tenant_b
):
    make_device(tenant_a.organisation)

    response = provider_api.get(URL)

    assert response.status_code == 200
    listed = {row["slug"]: row for row in response.json()["results"]}
    assert set(listed) == {"alpha", "bravo"}
    assert listed["alpha"]["phone_counts"] == {"total": 2, "never": 2, "stale": 0, "failing": 0}
    assert listed["alpha"]["sip_server"] == "sip.alpha.example"
    assert listed["alpha"]["sip_transport"] == "udp"
    assert set(listed["alpha"]["settings"]) == set(PHONE_SETTINGS)


def test_an_organisation_token_sees_its_own_organisation_only(api_a, tenant_a, tenant_b):
    listed = api_a.get(URL)
    own = api_a.get(f"{URL}/alpha")
    other = api_a.get(f"{URL}/bravo")

    assert [row["slug"] for row in listed.json()["results"]] == ["alpha"]
    assert own.status_code == 200
    assert other.status_code == 404
    assert problem(other)["code"] == "not_found"
    assert b"bravo" not in other.content and b"Bravo" not in other.content


def test_an_organisation_token_does_not_see_what_the_admin_keeps_from_staff(api_a, tenant_a):
    shown = api_a.get(f"{URL}/alpha").json()

    hidden = {"profile", "raw_overrides", "organisation_credentials", "password_grace_days"}
    assert not hidden & set(shown)
    assert {"name", "sip_server", "settings", "phone_counts"} <= set(shown)


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", URL), ("put", f"{URL}/alpha"), ("patch", f"{URL}/alpha"), ("delete", f"{URL}/alpha")],
)
def test_an_organisation_token_may_not_change_organisations(api_a, tenant_a, method, path):
    if method == "delete":
        response = api_a.delete(path)
    else:
        response = getattr(api_a, method)(path, new_organisation(slug="alpha"))

    assert response.status_code == 403
    assert problem(response)["code"] == "not_permitted"
    assert Organisation.objects.get().name == "Alpha"


def test_a_read_only_token_may_look_but_not_change(read_only_api_a, tenant_a):
    assert read_only_api_a.get(f"{URL}/alpha").status_code == 200

    response = read_only_api_a.patch(f"{URL}/alpha", {"name": "Renamed"})

    assert response.status_code == 403
    assert problem(response)["code"] == "read_only_token"


def test_another_organisations_slug_is_a_404_for_every_method(api_a, tenant_a, tenant_b):
    for response in [
        api_a.get(f"{URL}/bravo"),
        api_a.get(f"{URL}/bravo/rps-sync"),
        api_a.post(f"{URL}/bravo/rps-sync"),
    ]:
        assert response.status_code == 404, response.content
    assert tenant_b.organisation.name == Organisation.objects.get(slug="bravo").name


# --- creating: the provisioning password once -------------------------------------------


def test_creating_generates_the_provisioning_password_and_answers_it_once(provider_api, db):
    created = provider_api.post(URL, new_organisation())

    assert created.status_code == 201, created.content
    password = created.json()["provisioning_password"]
    organisation = Organisation.objects.get(slug="charlie")
    assert password == organisation.provisioning_password
    assert len(password) >= 20
    again = provider_api.get(f"{URL}/charlie")
    listed = provider_api.get(URL)
    for response in (again, listed):
        assert "provisioning_password" not in response.content.decode()
        assert password not in response.content.decode()
    assert organisation.phone_admin_password  # generated, like the admin does
    assert organisation.phone_admin_password not in created.content.decode()


def test_a_given_provisioning_password_is_kept_and_answered_once(provider_api, db):
    created = provider_api.post(URL, new_organisation(provisioning_password="Chosen-Pass-123"))

    assert created.json()["provisioning_password"] == "Chosen-Pass-123"
    assert Organisation.objects.get().provisioning_password == "Chosen-Pass-123"


def test_creating_writes_every_field_and_the_admins_history(provider_api, db):
    SettingsProfile.objects.create(name="Secure TLS", srtp=2)
    body = new_organisation(
        active=False,
        sip_port=5061,
        sip_transport="tls",
        time_zone_name="",
        time_zone="-5",
        language="Dutch",
        profile="Secure TLS",
        organisation_credentials="never",
        enrol_unknown_phones=True,
        password_grace_days=3,
        settings={"codecs": "g722,pcma", "vlan_enabled": True, "vlan_id": 20, "srtp": "optional"},
        phone_admin_password="Admin-Web-Pass9",
    )

    created = provider_api.post(URL, body)

    assert created.status_code == 201, created.content
    organisation = Organisation.objects.get()
    assert organisation.sip_transport == SipTransport.TLS
    assert (organisation.sip_server_port, organisation.time_zone) == (5061, "-5")
    assert organisation.profile == SettingsProfile.objects.get(name="Secure TLS")
    assert (organisation.vlan_enabled, organisation.vlan_id, organisation.srtp) == (True, 20, 1)
    assert organisation.phone_admin_password == "Admin-Web-Pass9"
    shown = created.json()
    assert shown["settings"]["srtp"] == "optional"
    assert shown["profile"] == "Secure TLS"
    assert shown["active"] is False
    entry = LogEntry.objects.get(object_id=str(organisation.pk))
    assert "API" in entry.change_message and "test provider" in entry.change_message


def test_the_time_zone_name_sets_the_offset_as_in_the_admin(provider_api, db):
    created = provider_api.post(
        URL, new_organisation(time_zone_name="Netherlands(Amsterdam)", time_zone="-7")
    )

    assert created.json()["time_zone"] == "+1"
    assert Organisation.objects.get().time_zone == "+1"


# --- validation: the admin's messages ---------------------------------------------------


def test_it_refuses_bad_values_of_fields_field_by_field(provider_api, tenant_a):
    response = provider_api.post(
        URL,
        new_organisation(
            sip_transport="carrier-pigeon",
            sip_port=70000,
            settings={"vlan_id": 5000, "codecs": "g722,speex", "failover": "sometimes"},
        ),
    )

    assert response.status_code == 400
    assert pointers(response) == {
        "/sip_port": "max_value",
        "/sip_transport": "invalid_choice",
        "/settings/vlan_id": "max_value",
        "/settings/codecs": "unknown_codec",
        "/settings/failover": "invalid_choice",
    }
    messages = {error["pointer"]: error["message"] for error in problem(response)["errors"]}
    assert messages["/sip_port"] == "Ensure this value is less than or equal to 65535."
    assert Organisation.objects.count() == 1


def test_model_checks_speak_with_the_admins_words_under_the_api_names(provider_api, tenant_a):
    response = provider_api.post(
        URL, new_organisation(slug="alpha", provisioning_username="805ec0aaaa01")
    )

    assert response.status_code == 400
    messages = {error["pointer"]: error["message"] for error in problem(response)["errors"]}
    assert messages["/slug"] == "Organisation with this Slug already exists."
    assert messages["/provisioning_username"].startswith("Twelve hexadecimal digits")
    assert Organisation.objects.count() == 1


def test_a_vlan_switched_on_needs_its_id(provider_api, tenant_a):
    response = provider_api.patch(f"{URL}/alpha", {"settings": {"vlan_enabled": True}})

    assert response.status_code == 400
    messages = {error["pointer"]: error["message"] for error in problem(response)["errors"]}
    assert messages == {"/settings/vlan_id": "A VLAN switched on needs its id (1-4094)."}


def test_an_unknown_profile_is_refused(provider_api, tenant_a):
    response = provider_api.patch(f"{URL}/alpha", {"profile": "No such profile"})

    assert response.status_code == 400
    assert "/profile" in pointers(response)


# --- changing -------------------------------------------------------------------------


def test_a_new_provisioning_password_keeps_the_previous_one_for_the_grace_period(
    provider_api, tenant_a
):
    old = tenant_a.organisation.provisioning_password

    response = provider_api.patch(f"{URL}/alpha", {"provisioning_password": "Brand-New-Pass-1"})

    assert response.status_code == 200, response.content
    assert "Brand-New-Pass-1" not in response.content.decode()
    organisation = Organisation.objects.get(slug="alpha")
    assert organisation.passwords() == ["Brand-New-Pass-1", old]


def test_a_put_without_secrets_keeps_them(provider_api, tenant_a):
    before = secrets_of(tenant_a.organisation)
    body = new_organisation(slug="alpha", name="Alpha Renamed", provisioning_username="alpha")

    response = provider_api.put(f"{URL}/alpha", body)

    assert response.status_code == 200, response.content
    assert secrets_of(tenant_a.organisation) == before
    assert Organisation.objects.get(slug="alpha").name == "Alpha Renamed"


def test_raw_overrides_are_answered_masked_and_kept_when_sent_back(provider_api, tenant_a):
    written = provider_api.patch(f"{URL}/alpha", {"raw_overrides": SECRET_LINE})
    shown = written.json()["raw_overrides"]

    assert shown == f"static.network.802_1x.md5_password = {MASK}"
    assert "Hunter2" not in written.content.decode()
    again = provider_api.patch(f"{URL}/alpha", {"raw_overrides": shown + "\nlang.gui = English"})
    assert again.status_code == 200, again.content
    stored = Organisation.objects.get(slug="alpha").raw_overrides
    assert stored == SECRET_LINE + "\nlang.gui = English"


def test_a_mask_moved_to_another_key_is_refused(provider_api, tenant_a):
    provider_api.patch(f"{URL}/alpha", {"raw_overrides": SECRET_LINE})

    response = provider_api.patch(f"{URL}/alpha", {"raw_overrides": f"account.1.password = {MASK}"})

    assert response.status_code == 400
    assert pointers(response) == {"/raw_overrides": "invalid"}


def test_no_response_body_holds_a_secret(provider_api, api_a, read_only_api_a, tenant_a):
    provider_api.patch(
        f"{URL}/alpha",
        {"raw_overrides": SECRET_LINE, "phone_user_password": "User-Web-Pass7"},
    )
    provider_api.patch(f"{URL}/alpha", {"provisioning_password": "Rotated-Pass-42"})
    secrets = [*secrets_of(tenant_a.organisation), "Hunter2-Hunter2"]

    bodies = [
        api.get(path).content.decode()
        for api in (provider_api, api_a, read_only_api_a)
        for path in (URL, f"{URL}/alpha", f"{URL}/alpha/rps-sync")
    ]
    bodies.append(provider_api.patch(f"{URL}/alpha", {"name": "Alpha"}).content.decode())

    assert len(secrets) == 5
    for body in bodies:
        assert not [secret for secret in secrets if secret in body], body


def test_an_organisation_change_reaches_the_phones_next_mac_file(provider_api, tenant_a):
    phone = Client()
    mac_file = f"/{tenant_a.device.mac}.cfg"
    before = phone.get(mac_file, headers=tenant_a.own_headers())
    assert "sip.alpha.example" in before.content.decode()

    response = provider_api.patch(
        f"{URL}/alpha", {"sip_server": "pbx2.alpha.example", "sip_transport": "tcp"}
    )

    assert response.status_code == 200
    after = phone.get(mac_file, headers=tenant_a.own_headers()).content.decode()
    assert "account.1.sip_server.1.address = pbx2.alpha.example" in after
    assert "account.1.sip_server.1.transport_type = 1" in after


# --- deleting -------------------------------------------------------------------------


def test_deleting_an_organisation_with_phones_is_a_conflict(provider_api, tenant_a):
    response = provider_api.delete(f"{URL}/alpha")

    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "organisation_in_use"
    assert "still has 1 device" in body["detail"]
    assert Organisation.objects.filter(slug="alpha").exists()
    assert not LogEntry.objects.exists()  # the history is not told of what did not happen


def test_deleting_an_organisation_without_phones(provider_api, db):
    make_organisation("empty")

    response = provider_api.delete(f"{URL}/empty")

    assert response.status_code == 204
    assert not Organisation.objects.exists()


# --- cost -----------------------------------------------------------------------------


def queries_for_page(api, count: int) -> int:
    for _ in range(count):
        make_organisation()
    api.get(URL)  # the token's first use of the minute is recorded once
    with CaptureQueriesContext(connection) as queries:
        response = api.get(URL, {"page_size": 100})
    assert len(response.json()["results"]) == count
    return len(queries)


def test_a_page_of_organisations_costs_the_same_queries_for_2_or_20(provider_api, db):
    few = queries_for_page(provider_api, 2)
    Organisation.objects.all().delete()
    many = queries_for_page(provider_api, 20)

    assert few == many
