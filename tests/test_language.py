"""The language of the admin and the API: English by default, Dutch for a browser that asks
for it, the switch's choice over the browser's, and none at all for phones (issue 18, part 6).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation


@pytest.mark.django_db
def test_english_stays_the_default(client):
    response = client.get("/admin/login/")
    assert response.headers["Content-Language"] == "en-gb"
    assert "Username" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["nl", "nl-BE,nl;q=0.9,en;q=0.5", "nl-NL"])
def test_a_dutch_browser_gets_dutch(client, accept):
    response = client.get("/admin/login/", headers={"Accept-Language": accept})
    assert response.headers["Content-Language"] == "nl"
    assert "Gebruikersnaam" in response.text
    assert 'lang="nl"' in response.text


@pytest.mark.django_db
def test_the_switch_keeps_the_choice_over_the_browser(client):
    response = client.get("/admin/login/")
    assert 'id="language-switch"' in response.text  # on the login page already
    response = client.post("/i18n/setlang/", {"language": "nl", "next": "/admin/login/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/"
    assert settings.LANGUAGE_COOKIE_NAME in response.cookies
    response = client.get("/admin/login/", headers={"Accept-Language": "en"})
    assert "Gebruikersnaam" in response.text
    client.post("/i18n/setlang/", {"language": "en-gb", "next": "/admin/login/"})
    response = client.get("/admin/login/", headers={"Accept-Language": "nl"})
    assert "Username" in response.text


@pytest.mark.django_db
def test_the_switch_refuses_an_address_elsewhere(client):
    response = client.post("/i18n/setlang/", {"language": "nl", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


@pytest.mark.django_db
def test_phones_are_answered_in_no_language(client, tenant_a):
    """A phone's request costs no language negotiation, carries no Content-Language, and runs
    in the default language even right after a Dutch request on the same worker thread."""
    client.get("/admin/login/", headers={"Accept-Language": "nl"})
    assert translation.get_language() == "nl"
    response = client.get(
        f"/{tenant_a.device.mac}.cfg",
        headers={**tenant_a.phone_headers(), "Accept-Language": "nl"},
    )
    assert response.status_code == 200
    assert "Content-Language" not in response.headers
    assert "Accept-Language" not in response.headers.get("Vary", "")
    assert translation.get_language() == settings.LANGUAGE_CODE
