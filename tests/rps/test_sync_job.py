"""'Sync with RPS' from the admin: queued at once, run by the worker against the local RPS,
followed on the job's page; staff read plain words, the provider what RPS said."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from jobs import work
from jobs.models import Job
from rps import wording
from tests.factories import make_device, make_organisation
from tests.jobs.worker import job_of, run_worker
from tests.rps.test_admin import assert_plain, closed_port_url

ORGANISATIONS = "/admin/organisations/organisation/"
PHONES = "/admin/devices/device/"
REFRESH = '<meta http-equiv="refresh"'


def start_sync(client, url: str, action: str, pks: list[int]):
    return client.post(url, {"action": action, "_selected_action": pks}, follow=True)


@pytest.fixture
def alpha(db):
    organisation = make_organisation("alpha")
    for _ in range(3):
        make_device(organisation)
    return organisation


def test_the_action_queues_the_sync_and_shows_its_page_without_calling_rps(
    admin_client, fake_rps, alpha
):
    response = start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [alpha.pk])

    job = job_of(response)
    page = response.content.decode()
    assert fake_rps.calls == []  # nothing was asked of RPS in the request
    assert job.state == Job.State.QUEUED
    assert job.organisation == alpha
    assert "Sync with RPS: Alpha" in page
    assert REFRESH in page  # the page follows the job by itself

    run_worker()

    job.refresh_from_db()
    page = admin_client.get(job.get_absolute_url()).content.decode()
    assert job.state == Job.State.DONE
    assert (job.done, job.total) == (3, 3)
    assert len(fake_rps.our_devices()) == 3
    assert "3 registered" in job.summary
    assert "3 registered" in page
    assert "3 of 3" in page
    assert REFRESH not in page  # done: nothing more to follow


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a reader beside the worker: SQLite's shared in-memory test database locks the table,"
    " and the worker's progress write fails (database table is locked: jobs_job)",
)
def test_the_job_shows_its_progress_phone_by_phone_while_it_runs(
    transactional_db, admin_client, fake_rps, monkeypatch
):
    alpha = make_organisation("alpha")
    for _ in range(4):
        make_device(alpha)
    monkeypatch.setattr(work, "PROGRESS_SECONDS", 0)
    fake_rps.delay("device/add", 0.2, times=4)
    job = job_of(start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [alpha.pk]))
    seen: list[tuple[str, int, int]] = []
    finished = threading.Event()

    def watch() -> None:  # what the job's page reads, as another process would
        while not finished.is_set():
            seen.append(Job.objects.values_list("state", "done", "total").get(pk=job.pk))
            time.sleep(0.02)
        connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_worker()
    finally:
        finished.set()
        watcher.join()

    running = {(done, total) for state, done, total in seen if state == Job.State.RUNNING}
    assert {(1, 4), (2, 4), (3, 4)} & running, seen
    assert Job.objects.get(pk=job.pk).state == Job.State.DONE


def test_an_unreachable_rps_gives_staff_a_sentence_and_the_provider_the_detail(
    admin_client, alpha_staff, fake_rps, alpha, settings
):
    phone = alpha.devices.first()
    settings.RPS_API_URL = closed_port_url()

    job = job_of(start_sync(alpha_staff, PHONES, "sync_devices_with_rps", [phone.pk]))
    run_worker()

    job.refresh_from_db()
    staff_page = alpha_staff.get(job.get_absolute_url()).content.decode()
    staff_list = alpha_staff.get("/admin/jobs/job/").content.decode()
    provider_page = admin_client.get(job.get_absolute_url()).content.decode()
    assert job.state == Job.State.FAILED
    assert wording.UNREACHABLE in staff_page
    assert "Your provider has been told." in staff_page
    assert "Connection refused" not in staff_page
    assert_plain(staff_page)
    assert_plain(staff_list)
    assert "Connection refused" in job.detail
    assert "Connection refused" in provider_page


def test_rps_not_set_up_fails_the_job_in_words_for_staff_and_names_the_setting_for_the_provider(
    admin_client, alpha_staff, fake_rps, alpha, settings, mailoutbox
):
    settings.RPS_ACCESS_KEY_ID = ""
    settings.ADMINS = [("Provider", "noc@provider.example")]

    job = job_of(
        start_sync(alpha_staff, PHONES, "sync_devices_with_rps", [alpha.devices.first().pk])
    )
    run_worker()

    staff_page = alpha_staff.get(job.get_absolute_url()).content.decode()
    provider_page = admin_client.get(job.get_absolute_url()).content.decode()
    assert wording.NOT_SET_UP_JOB in staff_page
    assert_plain(staff_page)
    assert "RPS_ACCESS_KEY_ID must be set" in provider_page
    assert fake_rps.calls == []
    [mail] = mailoutbox  # the provider is told, as staff read
    assert "RPS_ACCESS_KEY_ID" in mail.body


def test_staff_cannot_see_another_organisations_job(admin_client, alpha_staff, fake_rps, alpha):
    bravo = make_organisation("bravo")
    make_device(bravo)
    theirs = job_of(
        start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [bravo.pk])
    )
    both = job_of(
        start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [alpha.pk, bravo.pk])
    )
    ours = job_of(
        start_sync(alpha_staff, PHONES, "sync_devices_with_rps", [alpha.devices.first().pk])
    )
    run_worker()

    listed = alpha_staff.get("/admin/jobs/job/")

    assert [job.pk for job in listed.context["cl"].result_list] == [ours.pk]
    assert alpha_staff.get(theirs.get_absolute_url()).status_code == 404
    assert alpha_staff.get(both.get_absolute_url()).status_code == 404  # the provider's
    assert admin_client.get(both.get_absolute_url()).status_code == 200
    assert both.organisation is None


def test_a_failing_job_does_not_stop_the_next(admin_client, fake_rps, alpha, settings):
    settings.RPS_API_URL = closed_port_url()
    first = job_of(
        start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [alpha.pk])
    )
    run_worker()
    settings.RPS_API_URL = fake_rps.url
    second = job_of(
        start_sync(admin_client, ORGANISATIONS, "sync_organisations_with_rps", [alpha.pk])
    )
    run_worker()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (Job.State.FAILED, Job.State.DONE)
    assert len(fake_rps.our_devices()) == 3
