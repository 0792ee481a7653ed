"""`/api/v1/organisations/{slug}/rps-sync`: the admin's "Sync with RPS" for one organisation,
against the local fake RPS (real HTTP, signatures checked)."""

from __future__ import annotations

import pytest

from rps import wording
from rps.desired import server_name
from rps.models import RpsDeviceState
from tests.api.conftest import problem
from tests.factories import make_device
from tests.rps.test_admin import assert_plain, closed_port_url

ALPHA = "/api/v1/organisations/alpha/rps-sync"


@pytest.fixture
def alpha(tenant_a, tenant_b):
    """Alpha with two phones to push, and Bravo's phone, which a sync of Alpha leaves alone."""
    make_device(tenant_a.organisation, "805ec0aaaa02")
    return tenant_a


def test_a_provider_token_syncs_one_organisation_and_reads_its_state(
    provider_api, fake_rps, alpha, tenant_b
):
    response = provider_api.post(ALPHA)

    assert response.status_code == 200, response.content
    body = response.json()
    assert fake_rps.our_devices() == {
        "805ec0aaaa01": server_name("alpha"),
        "805ec0aaaa02": server_name("alpha"),
    }
    assert (body["state"], body["ok"]) == ("in_sync", True)
    assert body["servers"]["created"] == 1
    assert body["devices"]["registered"] == 2
    assert body["rps"]["phones"]["registered"] == 2
    assert body["rps"]["phones"]["not_synced"] == 0
    assert body["rps"]["server"]["server_name"] == server_name("alpha")
    assert body["actions"]  # the provider reads what was written
    assert not RpsDeviceState.objects.filter(mac=tenant_b.device.mac).exists()


def test_get_says_the_stored_state_without_syncing(provider_api, fake_rps, alpha):
    before = provider_api.get(ALPHA)

    assert before.status_code == 200
    assert fake_rps.calls == []
    assert before.json()["phones"] == {
        "registered": 0,
        "pending": 0,
        "failed": 0,
        "owned_by_other": 0,
        "removed": 0,
        "not_synced": 2,
    }
    assert before.json()["server"] is None
    provider_api.post(ALPHA)
    assert provider_api.get(ALPHA).json()["phones"]["registered"] == 2


def test_an_organisation_token_syncs_its_own_organisation_in_plain_words(api_a, fake_rps, alpha):
    fake_rps.seed_device("805ec0aaaa02", owner="another-provider")

    response = api_a.post(ALPHA)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "needs_attention"
    [owned] = body["problems"]
    assert owned == {
        "mac": "805ec0aaaa02",
        "kind": "owned_by_other",
        "message": wording.OWNED_BY_OTHER,
    }
    assert "server" not in body["rps"] and "actions" not in body
    assert_plain(response.content.decode())
    assert fake_rps.our_devices() == {"805ec0aaaa01": server_name("alpha")}


def test_the_provider_reads_what_rps_said(provider_api, fake_rps, alpha):
    fake_rps.seed_device("805ec0aaaa02", owner="another-provider")

    body = provider_api.post(ALPHA).json()

    [owned] = body["problems"]
    assert "device.mac.added.by.other" in owned["detail"]
    assert provider_api.get(ALPHA).json()["problems"] == [owned]


def test_a_read_only_token_reads_the_state_but_may_not_sync(read_only_api_a, fake_rps, alpha):
    assert read_only_api_a.get(ALPHA).status_code == 200

    response = read_only_api_a.post(ALPHA)

    assert response.status_code == 403
    assert problem(response)["code"] == "read_only_token"
    assert fake_rps.calls == []


def test_another_organisations_sync_is_a_404(api_b, fake_rps, alpha):
    assert api_b.post(ALPHA).status_code == 404
    assert api_b.get(ALPHA).status_code == 404
    assert fake_rps.calls == []


def test_rps_down_is_a_502_problem_not_a_500(provider_api, api_a, fake_rps, alpha, settings):
    settings.RPS_API_URL = closed_port_url()

    by_provider = provider_api.post(ALPHA)
    by_staff = api_a.post(ALPHA)

    for response in (by_provider, by_staff):
        assert response.status_code == 502
        assert problem(response)["code"] == "rps_unreachable"
        assert response.json()["sync"]["state"] == "rps_unavailable"
    assert "Connection refused" in by_provider.json()["detail"]
    assert by_staff.json()["detail"] == wording.UNREACHABLE
    assert_plain(by_staff.content.decode())


def test_our_key_refused_is_a_502_problem(provider_api, fake_rps, alpha, settings):
    settings.RPS_ACCESS_KEY_SECRET = "not-the-secret"

    response = provider_api.post(ALPHA)

    assert response.status_code == 502
    assert problem(response)["code"] == "rps_refused_access"
    assert "RPS_ACCESS_KEY_SECRET" in response.json()["detail"]


def test_rps_not_set_up_is_a_503_problem(provider_api, api_a, fake_rps, alpha, settings):
    settings.RPS_ACCESS_KEY_ID = ""

    by_provider = provider_api.post(ALPHA)
    by_staff = api_a.post(ALPHA)

    assert by_provider.status_code == by_staff.status_code == 503
    assert problem(by_provider)["code"] == problem(by_staff)["code"] == "rps_not_set_up"
    assert "RPS_ACCESS_KEY_ID must be set" in by_provider.json()["detail"]
    assert by_staff.json()["detail"] == wording.NOT_SET_UP
    assert fake_rps.calls == []


def test_no_secret_reaches_the_answer(provider_api, fake_rps, alpha):
    secrets = [alpha.organisation.provisioning_password, alpha.device.provisioning_password]

    bodies = [provider_api.post(ALPHA).content.decode(), provider_api.get(ALPHA).content.decode()]

    for body in bodies:
        assert not [secret for secret in secrets if secret in body]
