"""A large contacts CSV import: confirmed in the admin, written by the worker, all or nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs import work
from jobs.models import Job
from phonebooks import csv_io
from phonebooks.models import Phonebook
from tests.jobs.worker import job_of, run_worker
from tests.phonebooks.factories import make_phonebook, make_staff
from tests.phonebooks.test_admin_import import import_url, token_of, upload

ROWS = 1_200


def big_file(rows: int = ROWS) -> str:
    lines = [f"Contact {n:05d};Staff;+31 20 {n:07d}" for n in range(rows)]
    return "name;group;number 1\r\n" + "\r\n".join(lines) + "\r\n"


@pytest.fixture
def book(tenant_a) -> Phonebook:
    return make_phonebook(tenant_a.organisation, name="Everyone")


def test_the_preview_of_a_large_file_says_it_is_imported_in_the_background(
    admin_client, book, settings
):
    settings.JOBS_IMPORT_ROWS = 10

    large = upload(admin_client, book, big_file(10)).content.decode()
    small = upload(admin_client, book, big_file(9)).content.decode()

    assert "imported in the background" in large
    assert "imported in the background" not in small


def confirm(client, book: Phonebook, content: str):
    token = token_of(upload(client, book, content))
    return client.post(import_url(book), {"token": token}, follow=True)


def test_a_large_import_runs_as_a_job_and_imports_every_row(admin_client, book, settings):
    settings.JOBS_IMPORT_ROWS = 1_000

    response = confirm(admin_client, book, big_file())

    job = job_of(response)
    assert job.kind == Job.Kind.CONTACTS_IMPORT
    assert job.organisation == book.organisation
    assert job.total == ROWS
    assert not book.contacts.exists()  # nothing written in the request
    assert "has started" in response.content.decode()

    run_worker()

    job.refresh_from_db()
    page = admin_client.get(job.get_absolute_url()).content.decode()
    assert job.state == Job.State.DONE
    assert book.contacts.count() == ROWS
    assert "1,200 created, 0 updated, 0 unchanged, 0 removed" in page
    assert "1,200 of 1,200" in page
    assert job.upload is None  # the file is not kept past its job


def test_a_large_import_that_fails_halfway_imports_nothing(
    admin_client, book, settings, monkeypatch
):
    settings.JOBS_IMPORT_ROWS = 1_000
    job = job_of(confirm(admin_client, book, big_file()))

    def full_disk(phonebook: Phonebook) -> None:  # after the rows are written, before commit
        raise OSError("No space left on device")

    monkeypatch.setattr(csv_io, "refresh_size", full_disk)
    run_worker()

    job.refresh_from_db()
    page = admin_client.get(job.get_absolute_url()).content.decode()
    assert job.state == Job.State.FAILED
    assert not book.contacts.exists()
    assert work.STOPPED in page.replace("&#x27;", "'")
    assert "No space left on device" in job.detail
    assert job.upload is None


def test_staff_follow_their_own_import_and_another_organisation_gets_a_404(
    client, book, tenant_a, tenant_b, settings
):
    settings.JOBS_IMPORT_ROWS = 10
    client.force_login(make_staff(tenant_a.organisation))
    job = job_of(confirm(client, book, big_file(20)))
    run_worker()

    page = client.get(job.get_absolute_url()).content.decode()
    client.force_login(make_staff(tenant_b.organisation, username="other"))
    other = client.get(job.get_absolute_url())

    assert book.contacts.count() == 20
    assert "20 created" in page
    assert "Detail:" not in page  # the provider's
    assert other.status_code == 404


def test_a_small_import_is_still_written_in_the_request(admin_client, book, settings):
    settings.JOBS_IMPORT_ROWS = 1_000

    response = confirm(admin_client, book, big_file(5))

    assert response.redirect_chain[-1][0] == reverse(
        "admin:phonebooks_phonebook_change", args=[book.pk]
    )
    assert book.contacts.count() == 5
    assert not Job.objects.exists()
