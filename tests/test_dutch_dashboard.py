"""The admin's first page, the login lockout and the project's own messages in Dutch for a
browser that asks for it, in English without (issue 18, part 6)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone, translation

from organisations.staff import create_organisation_staff
from tests.api.conftest import api_client, problem
from tests.factories import make_device
from tests.phonebooks.factories import make_staff
from tests.test_dashboard import INDEX, provision
from voipconfig.middleware import _unannounced_message

DUTCH = {"accept-language": "nl"}
DUTCH_DAYS = ["ma", "di", "wo", "do", "vr", "za", "zo"]  # Django's, Monday first
PASSWORD = "Right-Passw0rd-for-alice"


@pytest.fixture
def installation(client, tenant_a, tenant_b):
    assert provision(client, tenant_a.device) == 200
    assert provision(client, tenant_b.device, "wrong-password") == 401
    make_device(tenant_a.organisation, model="T46U")  # never provisioned, no firmware reported
    return tenant_a, tenant_b


def today_in_dutch() -> str:
    today = timezone.localtime()
    return f"{DUTCH_DAYS[today.weekday()]} {today:%d}"


def assert_dutch_dashboard(page) -> None:
    text = html.unescape(page.content.decode())
    assert page.status_code == 200
    assert page.headers["Content-Language"] == "nl"
    for dutch in [
        "Telefoons (",
        "Provisioningverzoeken",
        "Verzoeken per uur, laatste 24 uur",
        "Verzoeken per dag, laatste 7 dagen",
        "in de laatste 24 uur",
        "Modellen",
        "Gemelde firmware",
        "niet gemeld",
        "Niet-toegewezen telefoons",
        "nog niet in de admin staan",
        today_in_dutch(),
    ]:
        assert dutch in text, dutch
    assert "Requests per hour" not in text and "Provisioning requests" not in text
    assert f"{timezone.localtime():%a %d}" not in text  # the English weekday


def test_the_provider_sees_the_dashboard_in_dutch(admin_client, installation):
    page = admin_client.get(INDEX, headers=DUTCH)

    assert_dutch_dashboard(page)
    text = page.content.decode()
    assert "1 mislukt" in text  # tenant b's wrong password, in the day's column title
    assert "verzoeken, 1 mislukt</title>" in text or "verzoek, 1 mislukt</title>" in text


def test_organisation_staff_see_the_dashboard_in_dutch(client, installation):
    tenant_a, _ = installation
    client.force_login(make_staff(tenant_a.organisation))

    page = client.get(INDEX, headers=DUTCH)

    assert_dutch_dashboard(page)
    assert "1 verzoek, 0 mislukt</title>" in page.content.decode()  # their phone's one request


def test_without_the_header_the_dashboard_stays_english(client, installation):
    tenant_a, _ = installation
    client.force_login(make_staff(tenant_a.organisation))

    text = html.unescape(client.get(INDEX).content.decode())

    assert "Requests per day, last 7 days" in text and "Unassigned phones" in text
    assert f"{timezone.localtime():%a %d}" in text
    assert "Verzoeken" not in text and "1 request, 0 failed</title>" in text


def log_in(client, password, headers=None):
    data = {"username": "alice", "password": password, "next": "/admin/"}
    return client.post(
        "/admin/login/?next=/admin/", data, REMOTE_ADDR="203.0.113.9", headers=headers or {}
    )


def test_a_locked_out_login_is_told_so_in_dutch(client, tenant_a):
    create_organisation_staff(tenant_a.organisation, "alice", PASSWORD, validate=False)
    for n in range(4):
        log_in(client, f"wrong-{n}", DUTCH)

    locked = log_in(client, "wrong-4", DUTCH)
    again = log_in(client, PASSWORD)

    assert locked.status_code == 429
    assert (
        "Te veel mislukte aanmeldingen: probeer het over 15 minuten opnieuw, "
        "of vraag uw provider het account te deblokkeren."
    ) in html.unescape(locked.content.decode())
    assert "Too many failed logins: try again in 15 minutes" in html.unescape(again.text)


@override_settings(AXES_COOLOFF_TIME=timedelta(minutes=1))
def test_one_minute_is_singular(db):
    from voipconfig.login_lockout import lockout_message

    with translation.override("nl"):
        assert "over 1 minuut opnieuw" in lockout_message()
    assert "in 1 minute, or" in lockout_message()


def test_the_provider_unlocks_in_dutch(client, admin_client, tenant_a):
    create_organisation_staff(tenant_a.organisation, "alice", PASSWORD, validate=False)
    for n in range(5):
        log_in(client, f"wrong-{n}")
    listing = admin_client.get("/admin/axes/accessattempt/", headers=DUTCH)
    attempt_pk = listing.context["cl"].result_list[0].pk

    done = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt_pk]},
        headers=DUTCH,
        follow=True,
    )

    text = listing.content.decode()
    assert "Geblokkeerd" in text  # the column header, capitalised by the admin
    assert "Deblokkeren: deze mislukte aanmeldingen vergeten" in text
    assert "Gedeblokkeerd: alice vanaf 203.0.113.9." in done.content.decode()


def test_staff_are_told_in_dutch_when_phones_get_a_change_later(settings):
    settings.CONFIG_CACHE_MAX_AGE_SECONDS = 30

    with translation.override("nl"):
        dutch = _unannounced_message()

    assert dutch.startswith("De wijziging is opgeslagen. Telefoons krijgen haar binnen 30 seconden")
    assert "30 seconds" in _unannounced_message()


def refuse(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")


def test_the_admin_says_in_dutch_that_the_database_is_away(admin_client, monkeypatch):
    monkeypatch.setattr("devices.admin.DeviceAdmin.get_queryset", refuse)

    dutch = admin_client.get("/admin/devices/device/", headers=DUTCH)
    english = admin_client.get("/admin/devices/device/")

    assert dutch.status_code == 503
    assert dutch.content.decode() == (
        "Dienst tijdelijk niet beschikbaar: de database is niet bereikbaar.\n"
    )
    assert english.content.decode().startswith("Service temporarily unavailable")


@pytest.mark.parametrize(
    ("fault", "status", "dutch"),
    [
        (refuse, 503, "De database is niet bereikbaar: probeer het straks opnieuw."),
        (None, 500, "De server kon dit verzoek niet beantwoorden; de fout is gelogd."),
    ],
)
def test_an_api_fault_is_explained_in_dutch(db, monkeypatch, fault, status, dutch):
    from api.resources.organisations import OrganisationViewSet

    def broken(*args, **kwargs):
        raise RuntimeError("a fault")

    monkeypatch.setattr(OrganisationViewSet, "list", fault or broken)
    api = api_client(None)
    api.client.raise_request_exception = False

    response = api.get("/api/v1/organisations", HTTP_ACCEPT_LANGUAGE="nl")

    assert response.status_code == status
    assert problem(response)["detail"] == dutch
    assert "a fault" not in response.content.decode()
