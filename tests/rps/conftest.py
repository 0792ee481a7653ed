"""The fake RPS server, started on 127.0.0.1 for each test that needs it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from media_assets import ca
from tests.rps.fake_rps import KEY_ID, SECRET, FakeRps

CA_URL = "https://provisioning.example.net/ca.crt"


@pytest.fixture
def fake_rps(settings):
    """A fresh fake RPS; settings point the client at it with fast retries."""
    fake = FakeRps().start()
    settings.RPS_API_URL = fake.url
    settings.RPS_ACCESS_KEY_ID = KEY_ID
    settings.RPS_ACCESS_KEY_SECRET = SECRET
    settings.RPS_RETRIES = 2
    settings.RPS_BACKOFF_SECONDS = 0
    settings.RPS_READ_TIMEOUT = 2
    settings.PROVISIONING_URL = "https://provisioning.example.net/"
    yield fake
    fake.stop()


@pytest.fixture
def ca_url(monkeypatch) -> str:
    """Our CA certificate is uploaded (its URL comes from media_assets)."""
    monkeypatch.setattr(ca, "ca_certificate_url", lambda: CA_URL)
    return CA_URL


@pytest.fixture
def alpha_staff(client, alpha):
    """Staff of the test module's organisation `alpha` (its own fixture), logged in."""
    call_command(
        "createorgadmin", "alpha", "bob", "--password", "Corr3ct-Horse-Battery", stdout=StringIO()
    )
    client.force_login(get_user_model().objects.get(username="bob"))
    return client
