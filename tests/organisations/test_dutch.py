"""The organisations' admin in Dutch for a Dutch browser, and in English without one
(issue 18, part 6)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from organisations.csv_files import CsvFileError, decode, read_rows
from organisations.models import Organisation, SettingsProfile
from tests.admin_forms import browser_form
from tests.api.conftest import api_client, problem
from tests.phonebooks.factories import make_staff

pytestmark = pytest.mark.django_db

DUTCH = {"accept-language": "nl"}


@pytest.fixture(autouse=True)
def _english_afterwards(settings):
    """A Dutch request leaves Dutch active on the thread: the tests after these read English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def change_url(organisation: Organisation) -> str:
    return reverse("admin:organisations_organisation_change", args=[organisation.pk])


def test_the_organisation_list_is_in_dutch_for_a_dutch_browser(admin_client, tenant_a):
    url = reverse("admin:organisations_organisation_changelist")

    dutch = admin_client.get(url, headers=DUTCH).content.decode()
    english = admin_client.get(url).content.decode()

    assert "Organisaties" in dutch and "Provisioning-gebruikersnaam" in dutch
    assert "Op actief" in dutch  # the filter's title
    assert "Provisioning username" not in dutch
    assert "Provisioning username" in english and "Organisaties" not in english


def test_the_organisation_page_is_in_dutch_for_a_dutch_browser(admin_client, tenant_a):
    dutch = admin_client.get(change_url(tenant_a.organisation), headers=DUTCH).content.decode()

    assert "Tijd en taal" in dutch  # a fieldset
    assert "Beveiliging: de webinterface van de telefoons" in dutch
    assert "Nederlands" in dutch  # a choice of the phones' language
    assert "Telefoons van een inactieve organisatie worden geweigerd." in dutch  # help text
    assert "De webwachtwoorden en het provisioning-wachtwoord tonen" in dutch
    assert "Time and language" not in dutch


def test_a_validation_error_is_in_dutch(admin_client, tenant_a):
    url = change_url(tenant_a.organisation)
    data = browser_form(admin_client, url) | {"time_zone_name": "", "time_zone": "+15"}

    dutch = admin_client.post(url, data, headers=DUTCH).content.decode()
    english = admin_client.post(url, data).content.decode()

    assert "+15 is geen tijdzone" in dutch
    assert "+15 is no time zone" in english


def test_an_override_error_is_in_dutch(admin_client, tenant_a):
    url = change_url(tenant_a.organisation)
    data = browser_form(admin_client, url) | {"raw_overrides": "a.b = 1\nnot a line"}

    dutch = admin_client.post(url, data, headers=DUTCH).content.decode()

    assert "Regel 2: &#x27;not a line&#x27; heeft niet de vorm" in dutch


def test_the_web_passwords_page_is_in_dutch(admin_client, tenant_a):
    url = reverse("admin:organisations_organisation_web_passwords", args=[tenant_a.organisation.pk])

    dutch = admin_client.get(url, headers=DUTCH).content.decode()

    assert f"Webwachtwoorden van de telefoons van {tenant_a.organisation}" in dutch
    assert "Wachtwoorden" in dutch and "Gebruiker" in dutch
    assert "The passwords of the phones" not in dutch


def test_organisation_staff_hold_back_updates_in_dutch(client, tenant_a):
    organisation = tenant_a.organisation
    organisation.firmware_hold_back_allowed = True
    organisation.save()
    client.force_login(make_staff(organisation))
    url = reverse("admin:organisations_organisation_hold_back", args=[organisation.pk])

    page = client.get(url, headers=DUTCH).content.decode()
    assert "Firmware-updates tegenhouden" in page and "Hold back" not in page
    assert "Updates tegenhouden" in client.get(change_url(organisation), headers=DUTCH).text

    response = client.post(url, {"hold_back": "on"}, headers=DUTCH, follow=True)
    assert f"{organisation}: houdt firmware-updates tegen." in response.content.decode()
    response = client.post(url, {}, follow=True)
    assert f"{organisation}: lets firmware updates through." in response.content.decode()


def test_the_settings_profiles_are_in_dutch(admin_client):
    SettingsProfile.objects.create(name="Secure TLS")
    url = reverse("admin:organisations_settingsprofile_changelist")

    dutch = admin_client.get(url, headers=DUTCH).content.decode()

    assert "Instellingenprofielen" in dutch and "Eigen telefoons" in dutch


def test_csv_file_errors_are_in_dutch():
    with translation.override("nl"), pytest.raises(CsvFileError, match="Sla het op als"):
        decode(b"\xff\xfea\x00")
    with translation.override("nl"), pytest.raises(CsvFileError, match="Meer dan 1 rij;"):
        read_rows("name\nx\ny\n", max_rows=1)
    with translation.override("en-gb"), pytest.raises(CsvFileError, match="More than 1,000 rows"):
        read_rows("name\n" + "x\n" * 1001, max_rows=1000)


def test_the_api_answers_a_settings_error_in_dutch(tenant_a):
    provider_api = api_client(None)
    url = "/api/v1/organisations/alpha"
    body = {"settings": {"vlan_enabled": True}}

    dutch = problem(provider_api.patch(url, body, HTTP_ACCEPT_LANGUAGE="nl"))
    english = problem(provider_api.patch(url, body))

    assert dutch["errors"][0]["message"] == "Een ingeschakeld VLAN heeft een id nodig (1-4094)."
    assert english["errors"][0]["message"] == "A VLAN switched on needs its id (1-4094)."
