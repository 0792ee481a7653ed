"""A large phone CSV import: previewed in the admin, written by the worker, all or nothing."""

from __future__ import annotations

from devices.models import Device
from jobs.models import Job
from tests.devices.test_bulk_csv import csv_file, phone, upload
from tests.factories import make_device, make_organisation
from tests.jobs.worker import job_of, run_worker


def big_file(count: int) -> str:
    return csv_file(
        *(
            phone(f"805ec0dd{n:04x}", line="1", **{"user name": f"7{n:03d}", "password": "pw-7"})
            for n in range(count)
        )
    )


def confirm(client, text: str):
    preview = upload(client, text)
    assert "token" in preview.context, preview.content.decode()[:500]
    return client.post(
        "/admin/devices/device/import/",
        {"token": preview.context["token"], "confirm": "1"},
        follow=True,
    )


def test_a_large_import_runs_as_a_job_and_imports_every_phone(admin_client, tenant_a, settings):
    settings.JOBS_IMPORT_ROWS = 20

    response = confirm(admin_client, big_file(25))

    job = job_of(response)
    assert job.kind == Job.Kind.PHONES_IMPORT and job.total >= 25
    assert not Device.objects.filter(mac__startswith="805ec0dd").exists()  # not in the request
    run_worker()
    job.refresh_from_db()
    assert job.state == Job.State.DONE, job.detail
    assert "25 phones" in job.summary
    assert Device.objects.filter(mac__startswith="805ec0dd").count() == 25
    assert not job.upload  # the file is dropped once it ran


def test_a_file_that_no_longer_fits_imports_nothing_and_says_so(admin_client, tenant_a, settings):
    settings.JOBS_IMPORT_ROWS = 20
    response = confirm(admin_client, big_file(25))
    job = job_of(response)
    make_device(make_organisation("other"), "805ec0dd0018")  # taken meanwhile by another

    run_worker()

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "no longer fits" in job.summary
    assert Device.objects.filter(mac__startswith="805ec0dd").count() == 1  # only the other's


def test_a_small_file_is_still_imported_in_the_request(admin_client, tenant_a, settings):
    settings.JOBS_IMPORT_ROWS = 20

    confirm(admin_client, big_file(5))

    assert Device.objects.filter(mac__startswith="805ec0dd").count() == 5
    assert not Job.objects.exists()
