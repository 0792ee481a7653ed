"""Brute force and scanning get throttled; the right phone behind the same NAT keeps working."""

import os
import time
import uuid

import pytest
from django.core.cache.backends.redis import RedisCache

from devices.models import AccessLog
from devices.serving import throttle
from tests.conftest import basic
from tests.factories import user_agent

# Each counts failures toward a limit: none may straddle the turn of a throttle window.
pytestmark = pytest.mark.usefixtures("one_throttle_window")

Outcome = AccessLog.Outcome
MAC_FILE = "/805ec0aaaa01.cfg"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.THROTTLE_MAX_FAILURES_PER_IP = 5
    settings.THROTTLE_MAX_FAILURES_PER_MAC = 3


def attempt(client, ip, mac="805ec0aaaa01", password="wrong-password", username="alpha"):
    return client.get(
        f"/{mac}.cfg",
        headers={"User-Agent": user_agent(mac), "Authorization": basic(username, password)},
        REMOTE_ADDR=ip,
    )


def test_wrong_passwords_for_one_mac_from_anywhere_are_throttled(client, tenant_a):
    statuses = [attempt(client, f"198.51.100.{n}").status_code for n in range(1, 6)]
    right_but_elsewhere = attempt(client, "198.51.100.99", password=tenant_a.password)

    assert statuses == [401, 401, 401, 429, 429]
    assert right_but_elsewhere.status_code == 429  # not even checked
    assert right_but_elsewhere["Retry-After"] == "300"
    outcomes = list(AccessLog.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [Outcome.WRONG_CREDENTIALS] * 3 + [Outcome.THROTTLED] * 3


def test_scanning_unknown_macs_from_one_address_is_throttled(client, tenant_a):
    scans = [attempt(client, "203.0.113.7", mac=f"805ec0ff{n:04x}").status_code for n in range(7)]

    assert scans == [401] * 5 + [429] * 2
    assert AccessLog.objects.filter(outcome=Outcome.THROTTLED, ip="203.0.113.7").count() == 2


def test_a_phone_behind_the_same_nat_as_an_attacker_keeps_working(client, tenant_a):
    nat, own = "192.0.2.10", tenant_a.device.provisioning_password
    assert attempt(client, nat, username=tenant_a.device.mac, password=own).status_code == 200
    for n in range(60):  # the attacker, same address, other MACs: over the address's limit
        attempt(client, nat, mac=f"805ec0ff{n:04x}")

    again = attempt(client, nat, username=tenant_a.device.mac, password=own)

    assert again.status_code == 200  # its own credentials: never refused for others' failures
    assert attempt(client, nat, mac="805ec0ff0099").status_code == 429


def test_guessing_from_the_phones_own_address_is_limited_too(client, tenant_a):
    home, own = "192.0.2.20", tenant_a.device.provisioning_password
    assert attempt(client, home, username=tenant_a.device.mac, password=own).status_code == 200

    # The attack of the issue: 300 wrong passwords from the address the phone succeeded from.
    organisation = [attempt(client, home).status_code for _ in range(150)]
    its_own = [
        attempt(client, home, username=tenant_a.device.mac, password=f"guess-{n}").status_code
        for n in range(150)
    ]

    assert organisation == [401] * 3 + [429] * 147  # THROTTLE_MAX_FAILURES_PER_MAC is 3
    assert its_own == [429] * 150
    assert attempt(client, home, username=tenant_a.device.mac, password=own).status_code == 200


def test_a_phone_under_attack_from_elsewhere_keeps_working_from_its_own_address(client, tenant_a):
    home, own = "192.0.2.20", tenant_a.device.provisioning_password
    assert attempt(client, home, username=tenant_a.device.mac, password=own).status_code == 200
    for n in range(10):
        attempt(client, f"198.51.100.{n + 1}", username=tenant_a.device.mac)

    assert attempt(client, home, username=tenant_a.device.mac, password=own).status_code == 200
    assert attempt(
        client, "198.51.100.50", username=tenant_a.device.mac, password=own
    ).status_code == (
        200  # from anywhere: its own credentials are checked, however many failures there were
    )
    # The organisation's credentials are a password people chose: over the MAC's limit they
    # are not even checked, from any address.
    assert attempt(client, home, password=tenant_a.password).status_code == 429


def test_a_new_window_starts_afresh(client, tenant_a, monkeypatch):
    for n in range(4):
        attempt(client, f"198.51.100.{n + 1}")
    assert attempt(client, "198.51.100.9", password=tenant_a.password).status_code == 429

    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)

    assert attempt(client, "198.51.100.9", password=tenant_a.password).status_code == 200


def test_requests_without_credentials_are_never_counted(client, tenant_a):
    for _ in range(20):
        client.get(
            MAC_FILE, headers={"User-Agent": user_agent(tenant_a.device)}, REMOTE_ADDR="192.0.2.30"
        )

    assert attempt(client, "192.0.2.30", password=tenant_a.password).status_code == 200


def test_throttling_can_be_switched_off(client, tenant_a, settings):
    settings.THROTTLE_ENABLED = False

    statuses = {attempt(client, "198.51.100.1").status_code for _ in range(10)}

    assert statuses == {401}


def _redis_or_skip() -> str:
    location = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(location, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure means no Redis here
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test the shared Redis cache: {exc}")
        pytest.skip(f"no Redis at {location}: {exc}")
    return location


def test_the_counts_are_shared_by_every_app_server_through_redis(client, tenant_a, settings):
    location = _redis_or_skip()
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    other_server = RedisCache(location, {"KEY_PREFIX": prefix})  # another process's client

    try:
        for n in range(3):
            attempt(client, f"198.51.100.{n + 1}")

        assert other_server.get(f"throttle:mac:805ec0aaaa01:{throttle.window()}") == 3
        assert attempt(client, "198.51.100.77", password=tenant_a.password).status_code == 429
    finally:
        other_server.clear()  # database 15 is the tests' own


def test_an_unknown_mac_is_throttled_like_a_known_one(client, tenant_a):
    # Otherwise the 429s would tell which MACs exist.
    known = [attempt(client, f"198.51.100.{n}").status_code for n in range(1, 6)]
    unknown = [
        attempt(client, f"198.51.100.{n}", mac="805ec0999999").status_code for n in range(1, 6)
    ]

    assert known == unknown == [401, 401, 401, 429, 429]


def test_ipv6_clients_are_counted_per_64_network(client, tenant_a):
    statuses = [
        attempt(client, f"2001:db8:1:2::{n:x}", mac=f"805ec0ff{n:04x}").status_code
        for n in range(1, 8)
    ]

    assert statuses == [401] * 5 + [429] * 2
    assert attempt(client, "2001:db8:1:3::1", mac="805ec0ff0099").status_code == 401
