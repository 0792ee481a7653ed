"""The RPS pages in Dutch for a Dutch browser, English without; staff read plain Dutch words
when the sync fails, the provider the detail, and the log what went wrong in English."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from jobs.models import Job
from rps import wording
from rps.models import RpsDeviceState
from tests.factories import make_device, make_organisation
from tests.jobs.worker import job_of, run_worker
from tests.rps.test_admin import assert_plain, closed_port_url

NL = {"accept-language": "nl"}
PHONES = "/admin/devices/device/"
STATES = "/admin/rps/rpsdevicestate/"


@pytest.fixture
def alpha(db):
    organisation = make_organisation("alpha")
    make_device(organisation)
    return organisation


def sync_phone(client, phone, headers=NL) -> Job:
    response = client.post(
        PHONES,
        {"action": "sync_devices_with_rps", "_selected_action": [phone.pk]},
        headers=headers,
        follow=True,
    )
    job = job_of(response)
    run_worker()
    job.refresh_from_db()
    return job


def page(client, url: str, headers=NL) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_state_list_is_in_dutch_for_a_dutch_browser_and_english_without(
    admin_client, fake_rps, alpha
):
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())

    dutch = page(admin_client, STATES)
    english = page(admin_client, STATES, headers={})

    for word in ("RPS-apparaten", "Laatste poging op", "Synchroniseren met RPS", "Geregistreerd"):
        assert word in dutch
    assert "RPS devices" in english
    assert "Last attempt at" in english
    assert "Registered" in english
    assert "RPS-apparaten" not in english


def test_the_rps_sync_command_speaks_english_whatever_the_language(fake_rps, alpha):
    make_device(alpha)
    fake_rps.fail("device/add", 400, key="param.invalid", times=100)
    out, err = StringIO(), StringIO()

    with translation.override("nl"), pytest.raises(CommandError):
        call_command("rps_sync", stdout=out, stderr=err)

    assert "alpha: 2 phones: RPS refused POST device/add" in err.getvalue()
    assert "RPS sync: servers 1 created" in out.getvalue()


def test_staff_read_why_a_phone_was_refused_in_dutch_on_its_page_and_in_the_list(
    alpha_staff, fake_rps, alpha
):
    phone = alpha.devices.get()
    fake_rps.fail("device/add", 400, key="param.invalid", times=100)
    sync_phone(alpha_staff, phone)

    phone_page = page(alpha_staff, f"{PHONES}{phone.pk}/change/")
    phone_list = page(alpha_staff, PHONES)
    english = page(alpha_staff, f"{PHONES}{phone.pk}/change/", headers={})

    assert RpsDeviceState.objects.get().last_error == wording.PHONE_REFUSED  # stored in English
    assert "Yealink RPS weigerde deze telefoon te registreren" in phone_page
    assert "Laatste fout" in phone_page
    assert "Mislukt" in phone_list
    assert wording.PHONE_REFUSED in english
    assert_plain(phone_page)


def test_a_phone_never_synced_says_so_in_dutch(admin_client, alpha):
    phone = alpha.devices.get()

    assert "nog niet gesynchroniseerd" in page(admin_client, f"{PHONES}{phone.pk}/change/")


def test_an_unreachable_rps_tells_staff_in_plain_dutch_and_the_provider_what_to_check(
    admin_client, alpha_staff, fake_rps, alpha, settings, caplog
):
    settings.RPS_API_URL = closed_port_url()
    caplog.set_level(logging.INFO, logger="rps")

    job = sync_phone(alpha_staff, alpha.devices.get())

    staff_page = page(alpha_staff, job.get_absolute_url())
    provider_page = page(admin_client, job.get_absolute_url())
    assert job.state == Job.State.FAILED
    assert job.title == "Synchroniseren met RPS: Alpha (1 telefoon)"
    assert "was niet bereikbaar" in staff_page
    assert "Uw provider is op de hoogte gebracht." in staff_page
    assert "Connection refused" not in staff_page
    assert_plain(staff_page)
    assert "controleer RPS_API_URL" in provider_page
    assert "Connection refused" in provider_page
    assert "Connection refused" in caplog.text  # the log has what the network said


def test_rps_not_set_up_tells_staff_in_plain_dutch_and_names_the_setting_for_the_provider(
    admin_client, alpha_staff, fake_rps, alpha, settings, caplog
):
    settings.RPS_ACCESS_KEY_ID = ""
    caplog.set_level(logging.INFO, logger="rps")

    staff_job = sync_phone(alpha_staff, alpha.devices.get())
    provider_job = sync_phone(admin_client, alpha.devices.get())

    staff_page = page(alpha_staff, staff_job.get_absolute_url())
    provider_page = page(admin_client, provider_job.get_absolute_url())
    assert "Synchroniseren met Yealink RPS is op deze server niet ingesteld" in staff_page
    assert_plain(staff_page)
    assert "RPS_ACCESS_KEY_ID moet ingesteld zijn" in provider_page
    assert "RPS_ACCESS_KEY_ID must be set" in caplog.text  # the log stays English
    assert fake_rps.calls == []


def test_a_job_started_in_english_reads_english(admin_client, alpha_staff, fake_rps, alpha):
    job = sync_phone(alpha_staff, alpha.devices.get(), headers={})

    assert job.title == "Sync with RPS: Alpha (1 phone)"
    assert job.summary.startswith("RPS sync: servers 1 created")


def test_a_job_started_in_dutch_says_how_it_went_in_dutch(admin_client, fake_rps, alpha):
    bravo = make_organisation("bravo")
    make_device(bravo)
    response = admin_client.post(
        "/admin/organisations/organisation/",
        {"action": "sync_organisations_with_rps", "_selected_action": [alpha.pk, bravo.pk]},
        headers=NL,
        follow=True,
    )
    job = job_of(response)
    run_worker()
    job.refresh_from_db()

    shown = page(admin_client, job.get_absolute_url())
    assert "Het synchroniseren met RPS is begonnen" in response.content.decode()
    assert job.title == "Synchroniseren met RPS: Alpha, Bravo"
    assert "RPS-synchronisatie: servers 2 aangemaakt" in shown
    assert "2 geregistreerd" in shown
    assert "aanroepen naar RPS" in shown  # the provider's detail
