"""The phonebooks admin in Dutch for a browser that asks for it, English by default; a
large import's job speaks the language of who started it (issue 18, parts 6 and 4)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.urls import reverse

from jobs.models import Job
from phonebooks import tasks
from phonebooks.models import Phonebook
from tests.jobs.worker import job_of, run_worker
from tests.phonebooks.factories import make_contact, make_phonebook, make_staff
from tests.phonebooks.test_admin_import import import_url, token_of
from tests.phonebooks.test_admin_import import upload as upload_in_english
from tests.phonebooks.test_import_job import big_file

NL = {"accept-language": "nl"}


def upload(client, book: Phonebook, content: str, headers: dict | None = None):
    file = SimpleUploadedFile("contacts.csv", content.encode(), content_type="text/csv")
    return client.post(import_url(book), {"file": file}, headers=headers or {})


@pytest.fixture
def book(tenant_a) -> Phonebook:
    return make_phonebook(tenant_a.organisation, name="Sales")


@pytest.fixture
def staff_a(client, tenant_a):
    client.force_login(make_staff(tenant_a.organisation))
    return client


def test_the_phonebook_list_is_in_dutch_for_a_dutch_browser(admin_client, book):
    url = reverse("admin:phonebooks_phonebook_changelist")

    dutch = admin_client.get(url, headers=NL).content.decode()
    english = admin_client.get(url).content.decode()

    assert "Telefoonboeken" in dutch
    assert "De grootte van de geselecteerde telefoonboeken opnieuw berekenen" in dutch
    assert "0 contacten" in dutch
    assert "Recalculate the size" in english
    assert "0 contacts" in english


def test_an_action_reports_in_dutch(admin_client, book):
    url = reverse("admin:phonebooks_phonebook_changelist")
    data = {"action": "recalculate_size", "_selected_action": [book.pk]}

    response = admin_client.post(url, data, headers=NL, follow=True)

    assert "Grootte opnieuw berekend voor 1 telefoonboek." in response.content.decode()


def test_staff_read_the_book_page_and_its_warnings_in_dutch(staff_a, book):
    url = reverse("admin:phonebooks_phonebook_change", args=[book.pk])
    data = {"name": book.name, "title": "Verkoop", "position": 1, "audience": "chosen"}

    page = staff_a.get(url, headers=NL).content.decode()
    saved = staff_a.post(url, data, headers=NL, follow=True).content.decode()

    assert "Welke telefoons het mogen lezen" in page
    assert "CSV importeren" in page
    assert "Alleen de gekozen telefoons" in page
    assert "Er is geen telefoon gekozen: geen enkele telefoon krijgt" in saved


def test_a_contact_without_a_number_is_refused_in_dutch(admin_client, book):
    url = reverse("admin:phonebooks_contact_add")
    data = {"phonebook": book.pk, "name": "Jan", "position": 0}
    data |= {"label_1": "office", "label_2": "mobile", "label_3": "other"}

    body = admin_client.post(url, data, headers=NL).content.decode()

    assert "Een contact heeft minstens één nummer nodig." in body
    assert "Nummer 1" in body


def test_the_import_preview_and_its_row_errors_are_in_dutch(admin_client, book):
    make_contact(book, "Piet")
    content = "name;label 1;number 1\r\nJan;werk;+31 20 1\r\nKees;;12a\r\n"

    body = upload(admin_client, book, content, headers=NL).content.decode()

    assert "Voorbeeld van het importeren in Sales" in body
    assert "2 foute rijen" in body
    assert "Scheidingsteken: puntkomma." in body
    assert "is niet office, mobile of other" in body
    assert "niet toegestaan in een telefoonnummer" in body
    assert "Upload the corrected file" not in body


def test_the_import_page_is_english_without_the_header(admin_client, book):
    body = admin_client.get(import_url(book)).content.decode()

    assert "Import contacts into Sales" in body
    assert "Remove the contacts that are not in the file" in body


def test_a_large_import_is_reported_in_the_language_of_who_started_it(staff_a, book, settings):
    settings.JOBS_IMPORT_ROWS = 10
    token = token_of(upload(staff_a, book, big_file(20), headers=NL))
    response = staff_a.post(import_url(book), {"token": token}, headers=NL, follow=True)
    job = job_of(response)

    run_worker()  # after an English request in the same thread, say
    job.refresh_from_db()

    assert "Het importeren in Sales is begonnen" in response.content.decode()
    assert job.title == "Contacten importeren in Sales (20 rijen)"
    assert job.state == Job.State.DONE
    assert job.summary.startswith("Geïmporteerd in Sales: 20 aangemaakt, 0 bijgewerkt")


def test_a_refused_job_tells_staff_what_to_do_and_the_provider_why(
    staff_a, admin_client, book, settings, monkeypatch
):
    settings.JOBS_IMPORT_ROWS = 10
    job = job_of(
        staff_a.post(
            import_url(book),
            {"token": token_of(upload_in_english(staff_a, book, big_file(20)))},
            follow=True,
        )
    )

    def refused(*args, **kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "contact_pkey"')

    monkeypatch.setattr(tasks, "import_contacts", refused)
    run_worker()

    staff_page = staff_a.get(job.get_absolute_url()).content.decode()
    provider_page = admin_client.get(job.get_absolute_url()).content.decode()
    assert "The phonebook changed meanwhile, so nothing was imported" in staff_page
    assert "duplicate key" not in staff_page
    assert "The import was refused: duplicate key value" in provider_page
