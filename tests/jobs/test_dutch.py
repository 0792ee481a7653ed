"""Jobs in Dutch: the admin's pages for a Dutch browser, and what the worker writes, outside
any request, in the language of the user who queued the job (issue 18, part 6)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from devices import csv_io, tasks
from jobs.models import Job
from tests.devices.test_bulk_csv import upload
from tests.devices.test_import_job import big_file
from tests.jobs.worker import job_of, run_worker
from tests.phonebooks.factories import make_staff

DUTCH = {"accept-language": "nl"}
STOPPED_NL = "De taak is gestopt voordat ze klaar was; er is verder niets gewijzigd."


def confirm_in_dutch(client, text: str):
    preview = upload(client, text)
    assert "token" in preview.context, preview.content.decode()[:500]
    return client.post(
        "/admin/devices/device/import/",
        {"token": preview.context["token"], "confirm": "1"},
        headers=DUTCH,
        follow=True,
    )


def test_a_job_queued_from_a_dutch_browser_is_run_and_reported_in_dutch(
    admin_client, tenant_a, settings, monkeypatch
):
    settings.JOBS_IMPORT_ROWS = 20
    job = job_of(confirm_in_dutch(admin_client, big_file(25)))
    assert job.language == "nl"
    spoken = []

    def full_disk(plan: csv_io.DevicePlan) -> None:  # a bug or an outage halfway through
        spoken.append(translation.get_language())
        raise OSError("No space left on device")

    monkeypatch.setattr(csv_io, "apply", full_disk)
    with translation.override("en-gb"):  # the worker's own process: no request, no Dutch
        run_worker()

    job.refresh_from_db()
    assert spoken == ["nl"]  # the task ran in the language of the user who queued it
    assert job.state == Job.State.FAILED
    assert job.summary.startswith(STOPPED_NL)
    assert job.step  # its progress step, written with Dutch active (the devices app marks it)
    page = admin_client.get(job.get_absolute_url(), headers=DUTCH).text
    assert STOPPED_NL in page and "Mislukt" in page


def test_a_job_records_the_language_active_when_it_is_queued(admin_user):
    with translation.override("nl"):
        dutch = tasks.queue_import(admin_user, None, "x", 1)
    with translation.override("en-gb"):
        english = tasks.queue_import(admin_user, None, "x", 1)

    assert Job.objects.get(pk=dutch.pk).language == "nl"
    assert Job.objects.get(pk=english.pk).language == "en-gb"


def test_a_job_with_no_language_runs_in_the_default_one(admin_user, monkeypatch):
    assert settings.LANGUAGE_CODE == "en-gb"
    job = tasks.queue_import(admin_user, None, "x", 1)
    Job.objects.filter(pk=job.pk).update(language="")  # queued before jobs had one

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(csv_io, "plan_import", broken)
    with translation.override("nl"):  # whatever the worker's process has active
        run_worker()

    job.refresh_from_db()
    assert job.summary.startswith("The job stopped before it was done")


def make_job(organisation) -> Job:
    return Job.objects.create(
        kind=Job.Kind.PHONES_IMPORT,
        organisation=organisation,
        title="Phones import (1,200 rows)",
        state=Job.State.DONE,
        done=1200,
        total=1200,
    )


def test_the_job_pages_are_in_dutch_for_staff_and_the_provider(client, admin_client, tenant_a):
    job = make_job(tenant_a.organisation)
    client.force_login(make_staff(tenant_a.organisation))
    changelist = reverse("admin:jobs_job_changelist")

    for who in (client, admin_client):
        listing = who.get(changelist, headers=DUTCH).text
        page = who.get(job.get_absolute_url(), headers=DUTCH).text
        assert "Taken" in listing and "Voortgang" in listing and "Op status" in listing
        assert "Klaar" in listing and "1.200 van 1.200" in listing
        assert "Alle taken" in page and "Samenvatting" in page
    assert "Details" in admin_client.get(job.get_absolute_url(), headers=DUTCH).text
    assert "Details" not in client.get(job.get_absolute_url(), headers=DUTCH).text


def test_the_job_pages_stay_english_without_the_header(client, tenant_a):
    job = make_job(tenant_a.organisation)
    client.force_login(make_staff(tenant_a.organisation))

    listing = client.get(reverse("admin:jobs_job_changelist")).text
    page = client.get(job.get_absolute_url()).text

    assert "Jobs" in listing and "1,200 of 1,200" in listing and "Done" in listing
    assert "All jobs" in page and "Taken" not in listing
