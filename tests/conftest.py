"""Tenant personas shared by every test: organisation A and organisation B.

A's phones and data must never reach B's phones or staff, and the other way round.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

import pytest

from devices.models import Device, SipAccount
from organisations.models import Organisation
from tests.factories import make_account, make_device, make_organisation, user_agent


@dataclass
class Tenant:
    organisation: Organisation
    device: Device
    accounts: list[SipAccount]

    @property
    def username(self) -> str:
        return self.organisation.provisioning_username

    @property
    def password(self) -> str:
        return self.organisation.provisioning_password

    def phone_headers(self, *, auth: bool = True, password: str | None = None) -> dict:
        """Headers of this tenant's phone, with Basic credentials unless auth=False."""
        headers = {"User-Agent": user_agent(self.device)}
        if auth:
            headers["Authorization"] = basic(self.username, password or self.password)
        return headers

    def own_headers(self, *, password: str | None = None) -> dict:
        """Headers of this tenant's phone with its own credentials (user name its MAC), as
        it sends them from its second round on."""
        password = password or self.device.provisioning_password
        return {
            "User-Agent": user_agent(self.device),
            "Authorization": basic(self.device.mac, password),
        }


def basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


@pytest.fixture
def one_throttle_window(settings):
    """Throttle counts live in fixed windows of the real clock (devices.serving.throttle): a
    test that counts many failures must not straddle the turn of one, or its counts start
    afresh halfway. With under 20 s of the window left, wait for the next."""
    window = settings.THROTTLE_WINDOW_SECONDS
    left = window - time.time() % window
    if left < 20:
        time.sleep(left + 0.05)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts as a new process would: no throttle counts in the shared cache,
    nothing kept by the serving code."""
    from django.core.cache import cache

    from devices import serving

    cache.clear()
    serving.reset()
    yield
    cache.clear()
    serving.reset()


@pytest.fixture
def tenant_a(db) -> Tenant:
    organisation = make_organisation("alpha")
    device = make_device(organisation, "805ec0aaaa01", model="T54W", label="Alpha desk")
    accounts = [
        make_account(device, 1, user_name="a101", password="alpha-sip-101"),
        make_account(device, 2, user_name="a102", password="alpha-sip-102"),
    ]
    return Tenant(organisation, device, accounts)


@pytest.fixture
def tenant_b(db) -> Tenant:
    organisation = make_organisation("bravo")
    device = make_device(organisation, "001565bbbb01", model="T46U", label="Bravo desk")
    accounts = [make_account(device, 1, user_name="b201", password="bravo-sip-201")]
    return Tenant(organisation, device, accounts)


def pytest_collection_modifyitems(config, items) -> None:
    """Tests that start their own server test nothing of the suite's database: CI runs them
    in its PostgreSQL pass only (they are the slowest; the README's test command runs all)."""
    from django.db import connection

    if os.environ.get("CI") != "true" or connection.vendor == "postgresql":
        return
    once = pytest.mark.skip(reason="runs in CI's PostgreSQL pass")
    for item in items:
        if item.get_closest_marker("own_server"):
            item.add_marker(once)
