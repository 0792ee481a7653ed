"""What an attack on the API found: each test fails on the code it was found in and passes
once that is fixed. Found against a production-like server (gunicorn, PostgreSQL, Redis,
DEBUG off); reproduced here through the whole stack with real tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devices.models import AccessLog
from tests.api.conftest import Api, problem
from tests.conftest import basic
from tests.factories import user_agent

DEVICE = "/api/v1/devices/805ec0aaaa01"


def send_raw(api: Api, method: str, path: str, body: bytes | str, **extra: Any) -> Any:
    """A body as it is sent, not as json.dumps would make it; a fault is answered (500), as
    gunicorn answers it, not raised into the test."""
    api.client.raise_request_exception = False
    return api.client.generic(
        method,
        path,
        body,
        content_type=extra.pop("content_type", "application/json"),
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        **extra,
    )


# --- malformed input: a 500 for a 2 KB body -----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", DEVICE), ("POST", "/api/v1/devices/bulk"), ("POST", "/api/v1/phonebooks")],
)
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_a_parse_error_not_a_500(api_a, method, path, opening):
    """json.loads raises RecursionError (not ValueError) past ~1,000 levels; DRF's
    JSONParser catches only ValueError, so 2,000 brackets are an unhandled fault: a 500 and a
    logged traceback per request, for any token."""
    closing = "]" if opening == "[" else "}"
    body = opening * 2000 + "1" + closing * 2000

    response = send_raw(api_a, method, path, body)

    assert response.status_code == 400, response.content[:200]
    assert problem(response)["code"] == "parse_error"


# --- an oracle: the access log names another organisation's phone ---------------------------


def phone_asks(client: Any, mac: str, username: str, password: str) -> None:
    """A request for a MAC file as a phone sends it: its MAC in the User-Agent."""
    client.get(
        f"/{mac}.cfg",
        headers={"User-Agent": user_agent(mac), "Authorization": basic(username, password)},
    )


def shown(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("organisation", "device", "outcome", "status_code")}


def test_the_access_log_does_not_tell_an_organisation_that_another_has_a_mac(
    client, api_a, tenant_a, tenant_b
):
    """Someone of A sends a phone request with A's user name, a wrong password and any MAC
    in the User-Agent: the phone gets the same 401 either way, but A's own access log then
    says `device: <mac>` and `wrong_credentials` for a MAC another organisation has, and
    `device: null` and `mac_unknown` for one nobody has. That confirms B's phone without
    the "cannot be added" answer, its daily limit or its record for the provider
    (devices.foreign_macs)."""
    phone_asks(client, tenant_b.device.mac, tenant_a.username, "not-the-password")
    phone_asks(client, "805ec0999999", tenant_a.username, "not-the-password")
    assert AccessLog.objects.count() == 2

    response = api_a.get("/api/v1/access-log")

    assert response.status_code == 200, response.content
    rows = {row["mac"]: row for row in response.json()["results"]}
    assert rows.keys() == {tenant_b.device.mac, "805ec0999999"}
    assert shown(rows[tenant_b.device.mac]) == shown(rows["805ec0999999"])
    assert tenant_b.device.mac not in json.dumps([row["device"] for row in rows.values()])


def test_filtering_the_access_log_by_device_does_not_find_another_organisations_phone(
    client, api_a, tenant_a, tenant_b
):
    """The same oracle through the filter: the MAC filter finds A's rows either way, but
    their `device` must not be B's phone."""
    phone_asks(client, tenant_b.device.mac, tenant_a.username, "not-the-password")

    response = api_a.get("/api/v1/access-log", {"mac": tenant_b.device.mac})

    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert row["device"] is None
    assert row["outcome"] == AccessLog.Outcome.MAC_UNKNOWN


def test_the_provider_still_sees_which_phone_a_wrong_password_was_for(
    client, provider_api, tenant_a, tenant_b
):
    """What the fix keeps: the provider reads the MAC and whose user name was tried (the
    row is A's, as for any MAC A does not have; the MAC says which phone it was)."""
    phone_asks(client, tenant_b.device.mac, tenant_a.username, "not-the-password")

    [row] = provider_api.get("/api/v1/access-log").json()["results"]

    assert (row["mac"], row["username"]) == (tenant_b.device.mac, tenant_a.username)
    assert row["organisation"] == tenant_a.organisation.slug


# --- errors outside DRF's views are not problem details ------------------------------------


def test_a_body_over_the_upload_limit_is_a_problem_answer(api_a, settings):
    """Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE before DRF sees it, with its
    HTML "Bad Request (400)" page: the API promises problem details for every error."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"label": "x" * 2000})

    response = send_raw(api_a, "PATCH", DEVICE, body)

    assert response.status_code in (400, 413)
    assert problem(response)["status"] == response.status_code


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/devices/", "/api/v1/"])
def test_an_unknown_api_address_is_a_problem_answer(api_a, path):
    """Django's HTML 404 page for an address no route matches (a trailing slash, a typo)."""
    response = api_a.get(path)

    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"


def test_a_nul_in_an_api_query_is_a_problem_answer(api_a):
    """The NUL guard's text/plain 400 for `?x=%00` under /api/v1."""
    api_a.client.raise_request_exception = False
    response = api_a.client.get(
        "/api/v1/devices?organisation=%00", HTTP_AUTHORIZATION=f"Bearer {api_a.token}"
    )

    assert response.status_code == 400
    assert problem(response)["status"] == 400
