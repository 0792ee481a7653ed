"""`/api/v1/access-log`: read-only, newest first by cursor, filtered as the indexes allow."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import AccessLog
from tests.api.conftest import pointers, problem

URL = "/api/v1/access-log"
Outcome = AccessLog.Outcome
NOW = timezone.now().replace(microsecond=0)


def log(tenant, minutes_ago: int = 0, **fields) -> AccessLog:
    values = {
        "created_at": NOW - timedelta(minutes=minutes_ago),
        "ip": "192.0.2.10",
        "user_agent": "Yealink SIP-T54W 96.86.0.100",
        "path": f"/{tenant.device.mac}.cfg",
        "mac": tenant.device.mac,
        "username": tenant.device.mac,
        "organisation": tenant.organisation,
        "device": tenant.device,
        "outcome": Outcome.SUCCESS,
        "status_code": 200,
    }
    values.update(fields)
    return AccessLog.objects.create(**values)


@pytest.fixture
def rows(tenant_a, tenant_b) -> dict[str, AccessLog]:
    return {
        "a_ok": log(tenant_a, 30),
        "a_wrong": log(tenant_a, 20, outcome=Outcome.WRONG_CREDENTIALS, status_code=401),
        "a_new": log(tenant_a, 5),
        "b_ok": log(tenant_b, 10),
        "nobody": log(
            tenant_a,
            1,
            organisation=None,
            device=None,
            mac="",
            username="guess",
            outcome=Outcome.MAC_UNKNOWN,
            status_code=401,
        ),
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_provider_token_reads_every_row_newest_first(provider_api, rows):
    response = provider_api.get(URL)

    expected = ["nobody", "a_new", "b_ok", "a_wrong", "a_ok"]
    assert ids(response) == [rows[name].pk for name in expected]
    first = response.json()["results"][1]
    assert first | {"id": 0, "created_at": ""} == {
        "id": 0,
        "created_at": "",
        "ip": "192.0.2.10",
        "user_agent": "Yealink SIP-T54W 96.86.0.100",
        "path": "/805ec0aaaa01.cfg",
        "mac": "805ec0aaaa01",
        "username": "805ec0aaaa01",
        "organisation": "alpha",
        "device": "805ec0aaaa01",
        "outcome": "success",
        "status_code": 200,
    }
    assert response.json()["results"][0]["organisation"] is None


def test_an_organisation_token_never_reads_another_organisations_rows(api_a, rows):
    own = ids(api_a.get(URL))
    asked_for_bravo = ids(api_a.get(URL, {"organisation": "bravo"}))
    other = api_a.get(f"{URL}/{rows['b_ok'].pk}")
    unowned = api_a.get(f"{URL}/{rows['nobody'].pk}")

    assert own == [rows[name].pk for name in ("a_new", "a_wrong", "a_ok")]
    assert asked_for_bravo == []
    assert ids(api_a.get(URL, {"mac": "00:15:65:bb:bb:01"})) == []
    assert other.status_code == unowned.status_code == 404
    assert problem(other)["code"] == "not_found"


def test_the_log_is_read_only(provider_api, rows):
    for response in (
        provider_api.post(URL, {"path": "/x"}),
        provider_api.delete(f"{URL}/{rows['a_ok'].pk}"),
        provider_api.patch(f"{URL}/{rows['a_ok'].pk}", {"path": "/x"}),
    ):
        assert response.status_code == 405
    assert AccessLog.objects.count() == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"mac": "80-5E-C0-AA-AA-01"}, ["a_new", "a_wrong", "a_ok"]),
        ({"mac": "805e.c0aa.aa01", "outcome": "wrong_credentials"}, ["a_wrong"]),
        ({"outcome": "mac_unknown"}, ["nobody"]),
        ({"organisation": "bravo"}, ["b_ok"]),
        ({"organisation": "nobody-at-all"}, []),
        ({"status_code": "401"}, ["nobody", "a_wrong"]),
        ({"since": (NOW - timedelta(minutes=10)).isoformat()}, ["nobody", "a_new", "b_ok"]),
        ({"until": (NOW - timedelta(minutes=10)).isoformat()}, ["a_wrong", "a_ok"]),
        (
            {
                "since": (NOW - timedelta(minutes=25)).isoformat(),
                "until": (NOW - timedelta(minutes=4)).isoformat(),
                "organisation": "alpha",
            },
            ["a_new", "a_wrong"],
        ),
    ],
)
def test_it_filters(provider_api, rows, params, expected):
    assert ids(provider_api.get(URL, params)) == [rows[name].pk for name in expected]


def test_since_takes_a_zulu_time_and_a_date(provider_api, rows):
    zulu = (NOW - timedelta(minutes=10)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()

    assert len(ids(provider_api.get(URL, {"since": zulu}))) == 3
    assert ids(provider_api.get(URL, {"since": tomorrow})) == []


@pytest.mark.parametrize(
    ("params", "pointer", "said"),
    [
        ({"outcome": "hacked"}, "/outcome", "use one of: success, success_previous, mac_unknown"),
        ({"since": "yesterday"}, "/since", "is not an ISO 8601 time"),
        ({"until": "2025-13-45T99:00"}, "/until", "is not an ISO 8601 time"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "/since", "is out of the range of times"),
        ({"until": "2025-01-01T00:00:00+99:00"}, "/until", ""),
        ({"mac": "not-a-mac"}, "/mac", ""),
        ({"status_code": "ok"}, "/status_code", "is not an HTTP status code"),
        ({"status_code": "999"}, "/status_code", "is not an HTTP status code"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_it_takes(provider_api, rows, params, pointer, said):
    response = provider_api.get(URL, params)

    assert response.status_code == 400
    assert list(pointers(response)) == [pointer]
    assert said in problem(response)["errors"][0]["message"]


def test_the_cursor_walks_every_row_once(provider_api, tenant_a):
    for number in range(23):
        log(tenant_a, number % 4)  # many rows share a time: the id breaks the tie

    seen: list[int] = []
    page = provider_api.get(URL, {"page_size": 5}).json()
    pages = 1
    while True:
        seen += [row["id"] for row in page["results"]]
        if not page["next"]:
            break
        page = provider_api.get(page["next"]).json()
        pages += 1

    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == set(AccessLog.objects.values_list("pk", flat=True))
    assert "count" not in page


def test_a_bad_cursor_is_a_problem_not_a_500(provider_api, rows):
    response = provider_api.get(URL, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert problem(response)["errors"][0]["code"] == "invalid_cursor"


def queries_for_page(api, tenant, count: int) -> int:
    AccessLog.objects.all().delete()
    for number in range(count):
        log(tenant, number)
    api.get(URL)
    with CaptureQueriesContext(connection) as queries:
        assert len(ids(api.get(URL, {"organisation": tenant.organisation.slug}))) == count
    return len(queries)


def test_a_page_costs_the_same_queries_for_2_or_20_rows(api_a, provider_api, tenant_a):
    assert queries_for_page(api_a, tenant_a, 2) == queries_for_page(api_a, tenant_a, 20)
    assert queries_for_page(provider_api, tenant_a, 2) == queries_for_page(
        provider_api, tenant_a, 20
    )


def test_a_phones_request_shows_in_its_organisations_log(api_a, api_b, tenant_a, tenant_b):
    Client().get(f"/{tenant_a.device.mac}.cfg", headers=tenant_a.own_headers())

    own = api_a.get(URL, {"mac": tenant_a.device.mac}).json()["results"]

    assert [row["outcome"] for row in own] == ["success"]
    assert api_b.get(URL).json()["results"] == []
