"""`/api/v1/unassigned-phones`: phones that sent their organisation's credentials but are not
among its phones; listed, dismissed and assigned as in the admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.models import Device, ForeignMacAttempt, UnassignedPhone
from tests.api.conftest import pointers, problem
from tests.factories import make_device, user_agent

URL = "/api/v1/unassigned-phones"


def unassigned(tenant, mac: str, model: str = "T54W") -> UnassignedPhone:
    return UnassignedPhone.objects.create(
        organisation=tenant.organisation, mac=mac, model=model, firmware="96.86.0.100"
    )


@pytest.fixture
def waiting(tenant_a, tenant_b) -> dict[str, UnassignedPhone]:
    return {
        "alpha": unassigned(tenant_a, "805ec0aaaa09"),
        "bravo": unassigned(tenant_b, "001565bbbb09", model="T46U"),
    }


def test_a_phone_asking_with_its_organisations_credentials_is_listed(api_a, tenant_a):
    mac = "805ec0aaaa42"
    headers = {**tenant_a.phone_headers(), "User-Agent": user_agent(mac)}
    assert Client().get(f"/{mac}.cfg", headers=headers).status_code == 404

    listed = api_a.get(URL).json()["results"]

    assert [(row["mac"], row["organisation"], row["model"]) for row in listed] == [
        (mac, "alpha", "T54W")
    ]


def test_an_organisation_token_sees_only_its_own(api_a, waiting):
    listed = api_a.get(URL).json()["results"]
    other = api_a.get(f"{URL}/{waiting['bravo'].pk}")

    assert [row["mac"] for row in listed] == ["805ec0aaaa09"]
    assert other.status_code == 404
    assert api_a.delete(f"{URL}/{waiting['bravo'].pk}").status_code == 404
    assert api_a.post(f"{URL}/{waiting['bravo'].pk}/assign").status_code == 404
    assert UnassignedPhone.objects.filter(pk=waiting["bravo"].pk).exists()


def test_a_provider_token_sees_all_and_filters_by_organisation(provider_api, waiting):
    everything = provider_api.get(URL).json()["results"]
    bravo = provider_api.get(URL, {"organisation": "bravo"}).json()["results"]

    assert {row["organisation"] for row in everything} == {"alpha", "bravo"}
    assert [row["mac"] for row in bravo] == ["001565bbbb09"]


def test_dismissing_removes_it(api_a, waiting):
    response = api_a.delete(f"{URL}/{waiting['alpha'].pk}")

    assert response.status_code == 204
    assert not UnassignedPhone.objects.filter(pk=waiting["alpha"].pk).exists()
    assert "Deleted through the API" in LogEntry.objects.get().change_message


def test_a_read_only_token_neither_dismisses_nor_assigns(read_only_api_a, waiting):
    pk = waiting["alpha"].pk

    assert read_only_api_a.get(f"{URL}/{pk}").status_code == 200
    for response in (
        read_only_api_a.delete(f"{URL}/{pk}"),
        read_only_api_a.post(f"{URL}/{pk}/assign"),
    ):
        assert response.status_code == 403
        assert problem(response)["code"] == "read_only_token"
    assert UnassignedPhone.objects.filter(pk=pk).exists()


def test_assigning_adds_the_phone_with_the_model_its_user_agent_named(api_a, waiting):
    response = api_a.post(f"{URL}/{waiting['alpha'].pk}/assign", {"label": "Reception"})

    assert response.status_code == 201, response.content
    assert response.json() | {"created_at": None} == {
        "mac": "805ec0aaaa09",
        "organisation": "alpha",
        "model": "T54W",
        "label": "Reception",
        "active": True,
        "created_at": None,
    }
    device = Device.objects.get(mac="805ec0aaaa09")
    assert device.organisation.slug == "alpha"
    assert not UnassignedPhone.objects.filter(mac="805ec0aaaa09").exists()
    assert api_a.get(URL).json()["results"] == []
    assert "Added through the API" in LogEntry.objects.get(object_id=str(device.pk)).change_message


def test_an_unknown_model_must_be_named(api_a, tenant_a):
    phone = unassigned(tenant_a, "805ec0aaaa10", model="")

    refused = api_a.post(f"{URL}/{phone.pk}/assign")
    named = api_a.post(f"{URL}/{phone.pk}/assign", {"model": "T46U"})

    assert refused.status_code == 400
    assert pointers(refused) == {"/model": "blank"}
    assert named.status_code == 201
    assert Device.objects.get(mac="805ec0aaaa10").model == "T46U"


def test_a_model_we_do_not_know_is_refused_in_the_admins_words(api_a, waiting):
    response = api_a.post(f"{URL}/{waiting['alpha'].pk}/assign", {"model": "T99Z"})

    assert response.status_code == 400
    assert problem(response)["errors"][0]["message"] == "Value 'T99Z' is not a valid choice."


def test_a_mac_another_organisation_added_meanwhile_cannot_be_added(api_a, waiting, tenant_b):
    make_device(tenant_b.organisation, "805ec0aaaa09")

    response = api_a.post(f"{URL}/{waiting['alpha'].pk}/assign")

    assert response.status_code == 400
    [error] = problem(response)["errors"]
    assert error == {
        "pointer": "/mac",
        "code": "cannot_add",
        "message": "80:5e:c0:aa:aa:09 cannot be added. If it is one of your phones, contact "
        "your provider.",
    }
    assert b"bravo" not in response.content.lower()
    attempt = ForeignMacAttempt.objects.get()
    assert (attempt.organisation.slug, attempt.macs, attempt.mac_count) == (
        "alpha",
        "805ec0aaaa09",
        1,
    )
    assert "test alpha" in attempt.username
    assert Device.objects.get(mac="805ec0aaaa09").organisation == tenant_b.organisation


def test_a_page_costs_the_same_queries_for_2_or_20(api_a, tenant_a):
    def queries(count: int) -> int:
        UnassignedPhone.objects.all().delete()
        for number in range(count):
            unassigned(tenant_a, f"805ec0ab{number:04x}")
        api_a.get(URL)
        with CaptureQueriesContext(connection) as captured:
            assert len(api_a.get(URL).json()["results"]) == count
        return len(captured)

    assert queries(2) == queries(20)
